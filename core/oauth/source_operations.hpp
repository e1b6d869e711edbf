// What the API does to a source through its plugin, besides refreshing: testing that its
// credentials work (the plugin's check call) and deleting it with the provider grant revoked.
#pragma once

#include "errors/expected.hpp"
#include "net/https_client.hpp"
#include "oauth/provider_directory.hpp"

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace connector::core {

class OAuthApps;
struct Credentials;
struct NewSource;
struct SourceRecord;
class Sealer;
class StoreExecutor;
class TokenService;

struct CheckOutcome {
  bool succeeded = false;
  std::string message;
  std::string failure_code; // empty on success
  bool token_refreshed = false;
  std::string account_name; // who the provider says the token belongs to
};

enum class Revocation { revoked, failed, not_supported, skipped };
const char* to_string(Revocation revocation);

struct InlineCheck {
  std::string organization_id;
  std::string source_definition_id;
  std::string workspace_id; // chooses the OAuth app, like a flow; may be empty
  std::string access_token;
};

class SourceOperations {
public:
  SourceOperations(StoreExecutor& store, std::function<std::shared_ptr<const ProviderDirectory>()> providers,
                   OAuthApps& apps, TokenService& tokens, const Sealer& sealer, HttpsClient& https)
      : store_executor_(store), providers_(std::move(providers)), apps_(apps), tokens_(tokens), sealer_(sealer),
        https_(https) {}

  // Checks a stored source, refreshing first when its token is due. A provider that refuses
  // the token makes the source needs_reauth once a refresh cannot help. SOURCE_NOT_FOUND is
  // the only error; every other failure is a failed outcome.
  boost::asio::awaitable<Expected<CheckOutcome>> test_source(const std::string& organization_id,
                                                             const std::string& source_id);
  // Checks a token that is not stored (the inline form of sources/test).
  boost::asio::awaitable<Expected<CheckOutcome>> test_token(const InlineCheck& check);

  // Stores a new source in its workspace, which must exist (WORKSPACE_NOT_FOUND otherwise).
  boost::asio::awaitable<std::optional<ApiError>> insert_in_workspace(const SourceRecord& source);

  // Makes an OAuth source of a grant issued elsewhere to the same OAuth app (POST sources with
  // "auth_type": "oauth2.0" credentials): the app is chosen as a flow in `made.workspace_id`
  // would choose it, and the host refreshes the grant like its own. Refused when the connector
  // cannot refresh (such a grant would die with its access token).
  boost::asio::awaitable<Expected<SourceRecord>> import_grant(const NewSource& made, nlohmann::json configuration,
                                                              const Credentials& credentials);

  // Erases the source and its credentials, then (when `revoke`) revokes the grant at the
  // provider, best effort: the source is gone whatever the provider answers.
  boost::asio::awaitable<Expected<Revocation>> delete_source(const std::string& organization_id,
                                                             const std::string& source_id, bool revoke);

private:
  boost::asio::awaitable<CheckOutcome> run_check(const ProviderInstance& instance, const std::string& access_token,
                                                 const nlohmann::json& metadata);
  boost::asio::awaitable<void> mark_needs_reauth(const std::string& organization_id, const std::string& source_id,
                                                 const std::string& detail);

  StoreExecutor& store_executor_;
  std::function<std::shared_ptr<const ProviderDirectory>()> providers_;
  OAuthApps& apps_;
  TokenService& tokens_;
  const Sealer& sealer_;
  HttpsClient& https_;
};

} // namespace connector::core
