#include "oauth/oauth_apps.hpp"

#include "oauth/credentials.hpp"
#include "store/store_readers.hpp"

#include <algorithm>
#include <sstream>

namespace connector::core {

namespace {

constexpr std::size_t max_cached_instances = 512;

ApiError not_configured(const std::string& slug, const std::string& why) {
  return ApiError(ErrorCode::connector_not_configured, "The connector '" + slug + "' is installed but not configured.",
                  why, {{"slug", slug}});
}

} // namespace

std::string workspace_app_scope(const std::string& workspace_id) { return "ws:" + workspace_id; }

std::shared_ptr<const ProviderInstance> create_app_instance(const ConfiguredProvider& entry,
                                                            const nlohmann::json& configuration, std::string& why) {
  nlohmann::json settings = entry.settings.is_object() ? entry.settings : nlohmann::json::object();
  if (configuration.is_object()) {
    for (const std::string& name : entry.module->descriptor().organization_app_settings) {
      if (const auto value = configuration.find(name); value != configuration.end()) settings[name] = *value;
    }
  }
  auto created = entry.module->create_provider(settings.dump());
  if (!created.instance) {
    why = created.result.error_description;
    return nullptr;
  }
  const std::vector<std::string>& allowed =
      entry.instance ? entry.instance->allowed_hosts() : entry.module->descriptor().hosts;
  for (const std::string& host : created.instance->allowed_hosts()) {
    if (std::find(allowed.begin(), allowed.end(), host) == allowed.end()) {
      why = "it would reach a host the operator's configuration does not";
      return nullptr;
    }
  }
  return std::move(created.instance);
}

std::string oauth_app_sealing_context(const OAuthAppRecord& app) {
  return sealing_context("oauth_app", app.organization_id + "/" + app.scope + "/" + app.slug, "configuration");
}

boost::asio::awaitable<Expected<ResolvedProvider>> OAuthApps::resolve(const ConfiguredProvider& entry,
                                                                      const std::string& organization_id,
                                                                      const std::string& workspace_id) {
  const std::string& slug = entry.module->descriptor().slug;
  std::optional<OAuthAppRecord> app;
  if (!workspace_id.empty()) app = find_app(organization_id, workspace_app_scope(workspace_id), slug);
  if (!app) app = find_app(organization_id, organization_app_scope, slug);
  co_return build(entry, app);
}

std::optional<OAuthAppRecord> OAuthApps::find_app(const std::string& organization_id, const std::string& scope,
                                                  const std::string& slug) {
  const int64_t generation = readers_.cache_generation(cache_generation_max_age);
  std::string key = organization_id;
  key.append(1, '\0').append(scope).append(1, '\0').append(slug);
  if (auto cached = apps_.find(key, generation)) return std::move(*cached);
  auto app = readers_.read_now([&](Store& store) { return store.find_oauth_app(organization_id, scope, slug); });
  apps_.put(key, app, generation);
  return app;
}

boost::asio::awaitable<Expected<ResolvedProvider>>
OAuthApps::for_scope(const ConfiguredProvider& entry, const std::string& organization_id, const std::string& scope) {
  if (scope.empty()) co_return build(entry, std::nullopt);
  const std::string& slug = entry.module->descriptor().slug;
  auto app = find_app(organization_id, scope, slug);
  if (!app) {
    co_return not_configured(slug, "the OAuth app this was started with (" + scope + ") has been removed");
  }
  co_return build(entry, app);
}

Expected<ResolvedProvider> OAuthApps::build(const ConfiguredProvider& entry, const std::optional<OAuthAppRecord>& app) {
  const std::string slug = entry.module->descriptor().slug;
  if (!app) {
    if (!entry.instance) return not_configured(slug, entry.configuration_error);
    return ResolvedProvider{entry, entry.instance, host_app_scope};
  }

  std::ostringstream key;
  key << static_cast<const void*>(entry.module.get()) << '|' << app->organization_id << '|' << app->scope << '|'
      << app->slug << '|' << app->updated_at;
  {
    const std::lock_guard lock(cache_mutex_);
    if (const auto found = cache_.find(key.str()); found != cache_.end()) {
      return ResolvedProvider{entry, found->second, app->scope};
    }
  }

  const auto opened = sealer_.open(app->sealed_configuration, oauth_app_sealing_context(*app));
  if (!opened) return ApiError(ErrorCode::internal_error, {}, "an OAuth app's configuration could not be unsealed");
  std::string why;
  auto instance = create_app_instance(entry, nlohmann::json::parse(*opened, nullptr, false), why);
  if (!instance) return not_configured(slug, "the OAuth app set for " + app->scope + " is not usable: " + why);
  const std::lock_guard lock(cache_mutex_);
  if (cache_.size() >= max_cached_instances) cache_.clear();
  cache_.emplace(key.str(), instance);
  return ResolvedProvider{entry, std::move(instance), app->scope};
}

} // namespace connector::core
