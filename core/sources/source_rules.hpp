// The rules of a source's life, in one place for the API routes and the OAuth flow alike: how
// one is made (from an authorized flow, or around a token the caller holds), what a
// re-authorization and a refresh change, how a client may edit its configuration, and what its
// sealed credentials are bound to. Pure functions over records, no I/O: each caller runs them
// inside the store job that reads and writes the source, so the rules and the write are one step.
#pragma once

#include "errors/expected.hpp"
#include "oauth/credentials.hpp"
#include "store/records.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>

namespace connector::core {

class Sealer;

// A source's credentials (Credentials::to_json), sealed under its id: sealed for one source,
// they open for no other.
void seal_source_credentials(SourceRecord& source, const std::string& credentials_json, const Sealer& sealer);
std::optional<Credentials> open_source_credentials(const Sealer& sealer, const SourceRecord& source);

// What a new source is called and where it lives.
struct NewSource {
  std::string organization_id;
  std::string workspace_id;
  std::string source_definition_id;
  std::string slug;
  std::string name;
};

// An OAuth source from an authorized flow: the flow's grant (scopes, account) in its
// configuration, and the flow's credentials (as unsealed from it), sealed anew for the source.
SourceRecord source_from_flow(const NewSource& made, const FlowRecord& flow, const std::string& credentials_json,
                              const Sealer& sealer, int64_t now);

// A source around a token the caller holds (POST sources with configuration.credentials):
// `configuration` is the client's, without its credentials.
SourceRecord source_with_token(const NewSource& made, nlohmann::json configuration, const Credentials& credentials,
                               const Sealer& sealer, int64_t now);

// configuration.credentials of a token source: {access_token, token_type?, auth_type?}.
Expected<Credentials> token_credentials(const nlohmann::json& credentials, int64_t now);

// Whether configuration.credentials bring a grant from elsewhere ("auth_type": "oauth2.0").
bool is_imported_grant(const nlohmann::json& credentials);

// configuration.credentials of a grant issued elsewhere to the same OAuth app (a team moving
// from another platform): {auth_type: "oauth2.0", refresh_token, access_token?, token_type?,
// expires_in? | expires_at? (Unix seconds), scopes?, account_id?, account_name?, metadata?}.
// Without a known expiry the access token counts as due, so the first use refreshes it.
Expected<Credentials> imported_grant_credentials(const nlohmann::json& credentials, int64_t now);

// The OAuth source an imported grant makes, refreshed with `oauth_app_scope`'s app like a
// source from a flow.
SourceRecord source_with_grant(const NewSource& made, nlohmann::json configuration, const Credentials& credentials,
                               const std::string& oauth_app_scope, const Sealer& sealer, int64_t now);

// Whether a client may not set this configuration key: the host writes it from the grant.
bool is_host_managed(const std::string& key);

// A client's PUT (`replace`) or PATCH (an RFC 7396 merge patch) of a source's configuration:
// host-managed keys keep their values, and credentials never stay in it. A token source may
// carry a replacement token in configuration.credentials: it is sealed and the source is
// active again. An OAuth source's credentials change only by re-authorizing it.
std::optional<ApiError> change_configuration(SourceRecord& source, const nlohmann::json& incoming, bool replace,
                                             const Sealer& sealer, int64_t now);

// Why a re-authorization is not applied to its source.
struct ReauthorizationRefused {
  std::string code; // "account_mismatch", "source_not_found", "conflict"
  std::string description;
};

// A re-authorization's grant applied to its source: new credentials, scopes and account, the
// OAuth app it came through, and a clean refresh record. Refused when the provider signed in
// another account than the one the source was made for.
std::optional<ReauthorizationRefused> reauthorize_source(SourceRecord& source, const Credentials& credentials,
                                                         const std::string& oauth_app_scope, const Sealer& sealer,
                                                         int64_t now);

// A refresh's fresh credentials applied to its source: the source is active again and its
// refresh record starts over.
void apply_refreshed_credentials(SourceRecord& source, const Credentials& credentials, const Sealer& sealer,
                                 int64_t now);

} // namespace connector::core
