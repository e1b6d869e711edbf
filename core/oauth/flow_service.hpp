// The OAuth flow engine: starts flows (connector and native), takes the provider's redirect
// back, exchanges the code through the plugin, and turns an authorized flow into a
// source. Owns the security rules of security.md: single-use hashed states with a lifetime,
// PKCE S256, the redirect allow-list, the RFC 9207 issuer check, sealed secrets.
#pragma once

#include "crypto/sealer.hpp"
#include "errors/expected.hpp"
#include "net/https_client.hpp"
#include "oauth/credentials.hpp"
#include "oauth/event_sink.hpp"
#include "oauth/pending_flow_cap.hpp"
#include "oauth/provider_directory.hpp"
#include "oauth/rate_limiter.hpp"
#include "oauth/redirect_policy.hpp"
#include "sources/source_rules.hpp"
#include "store/records.hpp"

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace connector::core {

class StoreExecutor;
class OAuthApps;

struct FlowSettings {
  std::string callback_uri; // the host's provider-facing callback under its public URL
  std::chrono::seconds state_ttl{600};
  std::chrono::seconds authorized_ttl{3600}; // how long an authorized flow waits for completion
  HostRedirectAllowList host_allowed_redirects;
  // Per organization and counted by this process: flows started a minute (0: no limit), and
  // flows waiting for their callback at once (oauth/pending_flow_cap.hpp; 0: no cap).
  int64_t authorize_per_minute = 120;
  int64_t max_pending_flows = 1000;
};

struct AuthorizeRequest {
  std::string organization_id;
  std::string slug;                 // connector flow; or
  std::string source_definition_id; // native flow (slug found from it)
  std::string workspace_id;         // native flow
  std::string client_redirect_url;  // where the browser goes at the end: checked against the allow-lists
  nlohmann::json options = nlohmann::json::object(); // o_auth_input_configuration
  std::string target_source_id;                      // re-authorization of this source
};

struct AuthorizeResult {
  std::string authorization_url;
  std::string connection_id;
  int64_t expires_at = 0;
};

struct CallbackQuery {
  std::optional<std::string> state;
  std::optional<std::string> code;
  std::optional<std::string> error;
  std::optional<std::string> error_description;
  std::optional<std::string> iss;
  std::vector<std::pair<std::string, std::string>> other_parameters; // a provider's own (realmId)
};

// What the browser gets: a redirect to the client, or (without a usable state) a plain page.
struct CallbackResult {
  bool redirect = false;
  std::string location;
  int page_status = 400;
  std::string page_message;
  std::string connection_id;
  std::string slug;
  std::string outcome;   // "authorized", "reauthorized", "provider_error", "exchange_failed", "state_invalid", ...
  std::string source_id; // reauthorized: the source that got the new credentials
};

struct CompleteRequest {
  std::string organization_id;
  std::string connection_id;
  std::string workspace_id;
  std::string source_definition_id;
  std::string source_name;
};

class FlowService {
public:
  FlowService(StoreExecutor& store, std::shared_ptr<const ProviderDirectory> providers, OAuthApps& apps,
              const Sealer& sealer, HttpsClient& https, FlowSettings settings);

  boost::asio::awaitable<Expected<AuthorizeResult>> authorize(AuthorizeRequest request);
  boost::asio::awaitable<CallbackResult> callback(CallbackQuery query);
  boost::asio::awaitable<Expected<SourceRecord>> complete(CompleteRequest request);

  // Swapped on reload. The replaced directory is retained for a flow's lifetime, so that a
  // flow in progress finishes (callback and completion) on the plugin build it started on,
  // even if its file was replaced or removed, while new flows use the new one.
  void replace_providers(std::shared_ptr<const ProviderDirectory> providers);
  std::shared_ptr<const ProviderDirectory> providers() const;
  // The provider a flow's callback uses: the build it started on while retained, else
  // the current one for its slug (nullopt when the slug is gone).
  std::optional<ConfiguredProvider> provider_for(const FlowRecord& flow) const;

  const FlowSettings& settings() const { return settings_; }
  // Set before serving: "flow started", "flow authorized", "flow failed", "flow completed".
  void set_event_sink(EventSink events) { events_ = std::move(events); }

private:
  // A re-authorization's end: the source gets the new credentials (compare-and-swap); a
  // refusal's code and description go on the client's redirect.
  boost::asio::awaitable<std::optional<ReauthorizationRefused>>
  update_reauthorized_source(const FlowRecord& flow, const Credentials& credentials);

  StoreExecutor& store_executor_;
  std::atomic<std::shared_ptr<const ProviderDirectory>> providers_;
  struct Retained {
    std::shared_ptr<const ProviderDirectory> directory;
    std::chrono::steady_clock::time_point until;
  };
  mutable std::mutex retained_mutex_;
  std::vector<Retained> retained_; // oldest first
  OAuthApps& apps_;
  const Sealer& sealer_;
  HttpsClient& https_;
  FlowSettings settings_;
  RateLimiter authorize_limiter_;
  PendingFlowCap pending_flows_;
  EventSink events_;
};

} // namespace connector::core
