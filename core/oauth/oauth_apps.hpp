// Whose OAuth app a flow, a refresh or a revocation runs with ("bring your own app"): the
// workspace's own, else the organization's, else the host's configuration. A connection and
// a source remember the scope of the app that started them, so that a code and a refresh
// token always go back to the client that was issued them.
#pragma once

#include "crypto/sealer.hpp"
#include "errors/expected.hpp"
#include "oauth/provider_directory.hpp"
#include "store/generation_cache.hpp"
#include "store/records.hpp"

#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace connector::core {

class StoreReaders;

inline constexpr const char* host_app_scope = "";
inline constexpr const char* organization_app_scope = "org";
std::string workspace_app_scope(const std::string& workspace_id); // "ws:<id>"

struct ResolvedProvider {
  ConfiguredProvider entry;                         // the plugin and the host's configuration
  std::shared_ptr<const ProviderInstance> instance; // never null
  std::string scope;                                // which app: host_app_scope, "org" or "ws:<id>"
};

// A provider instance for an organization's or workspace's own OAuth app: the operator's
// settings with the app's configuration over them, for exactly the settings the plugin's
// schema marks "x-organization-app" (any other member of `configuration` is ignored). The
// instance may reach no host the operator's instance cannot: an organization must not be able
// to point the host elsewhere, whatever a plugin's schema allows. On refusal, `why` says what
// is wrong without quoting a value.
std::shared_ptr<const ProviderInstance> create_app_instance(const ConfiguredProvider& entry,
                                                            const nlohmann::json& configuration, std::string& why);

// Associated data binding an app's sealed configuration to its organization, scope and slug.
std::string oauth_app_sealing_context(const OAuthAppRecord& app);

class OAuthApps {
public:
  OAuthApps(StoreReaders& readers, const Sealer& sealer) : readers_(readers), sealer_(sealer) {}

  // The app for a new flow in an organization and (optionally) a workspace.
  boost::asio::awaitable<Expected<ResolvedProvider>>
  resolve(const ConfiguredProvider& entry, const std::string& organization_id, const std::string& workspace_id);
  // The app a connection or source is bound to.
  boost::asio::awaitable<Expected<ResolvedProvider>>
  for_scope(const ConfiguredProvider& entry, const std::string& organization_id, const std::string& scope);

private:
  Expected<ResolvedProvider> build(const ConfiguredProvider& entry, const std::optional<OAuthAppRecord>& app);
  // The app stored for (organization, scope, slug), or none: from memory while the database's
  // cache generation holds, else from a reader.
  std::optional<OAuthAppRecord> find_app(const std::string& organization_id, const std::string& scope,
                                         const std::string& slug);

  StoreReaders& readers_;
  const Sealer& sealer_;
  std::mutex cache_mutex_;
  // Instances built from an app, keyed by plugin module, app and its last update, so that a
  // changed app or a reloaded plugin builds a new one.
  std::map<std::string, std::shared_ptr<const ProviderInstance>> cache_;
  // Apps as stored, absent ones too (most organizations have none): every flow asks.
  GenerationCache<std::optional<OAuthAppRecord>> apps_{4096};
};

} // namespace connector::core
