// What the host stores, as plain records. Times are Unix seconds (UTC). Secrets are only
// ever held sealed (see crypto/sealer.hpp): fields named sealed_* are AES-256-GCM envelopes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace connector::core {

struct ApiKeyRecord {
  std::string id;              // "key_..." (public; shown in listings)
  std::string organization_id; // the only organization this key reaches
  std::string name;
  std::string key_hash;    // hex SHA-256 of the whole secret key; the key itself is never stored
  std::string permissions; // space-separated, e.g. "sources credentials:read"
  int64_t created_at = 0;
  std::optional<int64_t> revoked_at;
  std::optional<int64_t> last_used_at;
};

struct WorkspaceRecord {
  std::string id; // "ws_..."
  std::string organization_id;
  std::string name;
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

struct AllowedRedirectRecord {
  std::string organization_id;
  std::string url; // normalised (see host's redirect policy)
  int64_t created_at = 0;
};

enum class FlowStatus { pending, authorized, failed, consumed, expired };
const char* to_string(FlowStatus status);
std::optional<FlowStatus> flow_status_from(const std::string& text);
// A status read from a stored row: throws std::runtime_error for one this build does not know
// (a row from a newer build, or edited by hand), rather than guess what it means.
FlowStatus stored_flow_status(const std::string& text);

// One OAuth flow, from authorize to the source it became.
struct FlowRecord {
  std::string id; // "conn_..."
  std::string organization_id;
  std::string slug;
  std::string source_definition_id;          // empty for the connector flow until completion
  std::string workspace_id;                  // native flow only
  std::string state_hash;                    // hex SHA-256 of the state; the state itself is never stored
  bool state_names_connection = false;       // the state is "<id>.<secret>" (found by id, not by hash)
  std::string client_redirect_url;           // the client's, checked against the allow-list at start
  std::string callback_uri;                  // the host's provider-facing callback used in this flow
  std::vector<uint8_t> sealed_code_verifier; // empty without PKCE
  std::string flow_options_json;             // validated per-flow options ("{}" when none)
  FlowStatus status = FlowStatus::pending;
  std::string error_code; // failed: the provider's or the host's code
  std::string error_description;
  std::vector<uint8_t> sealed_credentials; // authorized: the token set as sealed JSON
  std::string granted_scopes;              // space-separated, as granted
  std::optional<int64_t> token_expires_at;
  std::string account_id;
  std::string account_name;
  std::string source_id;        // consumed: the source it became
  std::string target_source_id; // a re-authorization: the existing source it updates
  std::string oauth_app_scope;  // whose OAuth app runs this flow (see OAuthAppRecord); "" = the host's
  std::string plugin_build;     // the plugin build the flow started on; its callback uses the same one
  int64_t created_at = 0;
  int64_t expires_at = 0; // the state's end of life (pending only)
  int64_t updated_at = 0;
  int64_t version = 1; // compare-and-swap guard; bumped by every update
};

struct SourceRecord {
  std::string id; // "src_..."
  std::string organization_id;
  std::string workspace_id;
  std::string source_definition_id;
  std::string slug;
  std::string name;
  std::string configuration_json; // non-secret settings only ("{}" when none)
  std::string connection_id;
  std::string status; // "active", "needs_reauth", ...
  std::string status_detail;
  std::vector<uint8_t> sealed_credentials;
  std::string granted_scopes;
  std::optional<int64_t> token_expires_at;
  std::string auth_type = "oauth2.0"; // or "access_token" (created with a token; never refreshed)
  std::string oauth_app_scope;        // the OAuth app that issued the tokens; refreshes use it too
  // The token lifecycle. A refresh lease lets one process refresh while others wait.
  std::string refresh_lease_owner;
  std::optional<int64_t> refresh_lease_until;
  int64_t refresh_failures = 0;           // consecutive transient failures
  std::optional<int64_t> next_refresh_at; // cooldown after transient failures
  std::optional<int64_t> last_refreshed_at;
  std::string last_refresh_error_json; // {"code","message","at"} or empty
  int64_t created_at = 0;
  int64_t updated_at = 0;
  int64_t version = 1;
};

// An organization's or workspace's own OAuth app for one connector ("bring your own app").
// scope: "org" for the whole organization, or "ws:<workspace id>".
struct OAuthAppRecord {
  std::string organization_id;
  std::string scope;
  std::string slug;
  std::string client_id;                     // shown in summaries
  std::vector<uint8_t> sealed_configuration; // the whole configuration, client_secret included
  int64_t created_at = 0;
  int64_t updated_at = 0;
};

// Where sealed secrets are kept: each table's sealed column. Ended flows keep none.
enum class SecretColumn { source_credentials, oauth_app_configuration, flow_code_verifier, flow_credentials };
inline constexpr SecretColumn every_secret_column[] = {
    SecretColumn::source_credentials, SecretColumn::oauth_app_configuration, SecretColumn::flow_code_verifier,
    SecretColumn::flow_credentials};

// One stored secret as sealed, with what names its row (the sealing context is made from it).
struct SealedSecret {
  SecretColumn column = SecretColumn::source_credentials;
  std::string id;    // the source's or the flow's id; an app's organization id
  std::string scope; // an app's
  std::string slug;  // an app's
  std::vector<uint8_t> sealed;
  std::string position; // the store's own place of the row: where a walk goes on after it
};

// The sealing key id in the header of an envelope (crypto/sealer.hpp: a version byte, then the
// id in 4 bytes, big-endian), from those 4 bytes; 0 if they are fewer.
uint32_t key_id_from_envelope_header(const std::vector<uint8_t>& id_bytes);
// That first byte of an envelope, as the store's queries compare it.
inline constexpr uint8_t envelope_version_byte[] = {0x01};

// A page of a listing: `next_after` is the id to pass as `after` for the next page, empty at
// the end.
template <typename Record> struct Page {
  std::vector<Record> items;
  std::string next_after;
};

// The page size a listing serves for a requested limit: 1 to 200.
inline int page_size(int requested_limit) {
  return requested_limit < 1 ? 1 : requested_limit > 200 ? 200 : requested_limit;
}

// One step of the walk over pending flows (Store::expire_lapsed_pending_flows).
struct PendingSweep {
  int64_t expired = 0;   // flows that became expired in this step
  int64_t resume_at = 0; // where the next step starts
  bool caught_up = true; // false when the step stopped at `limit` and more may follow
};

} // namespace connector::core
