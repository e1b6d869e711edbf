// "Bring your own OAuth app": a workspace or its whole organization sets the client id and
// secret a connector's flows use there (workspace, then organization, then the host). The
// configuration is sealed at rest; answers show the client id, never the secret.
#include "api/json_body.hpp"
#include "api/routes.hpp"
#include "http/responses.hpp"
#include "oauth/flow_service.hpp"
#include "oauth/oauth_apps.hpp"
#include "store/store_executor.hpp"
#include "time/unix_time.hpp"

#include <connector/encoding.hpp>

#include <algorithm>

namespace connector::host {

namespace {

// "workspace" (and Airbyte's "source") is this workspace; "organization" the whole of it.
core::Expected<std::string> app_scope(const std::string& actor_type, const std::string& workspace_id) {
  if (actor_type == "workspace" || actor_type == "source") return core::workspace_app_scope(workspace_id);
  if (actor_type == "organization") return std::string(core::organization_app_scope);
  return field_error("actor_type", "must be \"workspace\" or \"organization\"");
}

nlohmann::json summary_json(const core::OAuthAppRecord& app) {
  const bool organization_wide = app.scope == core::organization_app_scope;
  return {{"actor_type", organization_wide ? "organization" : "workspace"},
          {"name", app.slug},
          {"workspace_id", organization_wide ? nlohmann::json(nullptr) : nlohmann::json(app.scope.substr(3))},
          {"client_id", app.client_id},
          {"created_at", core::rfc3339_utc(app.created_at)},
          {"updated_at", core::rfc3339_utc(app.updated_at)}};
}

boost::asio::awaitable<std::optional<core::ApiError>> require_workspace(ApiContext& api, const std::string& org,
                                                                        const std::string& id) {
  const bool found =
      co_await api.store.run([&](core::Store& store) { return store.find_workspace(org, id).has_value(); });
  if (found) co_return std::nullopt;
  co_return core::ApiError(core::ErrorCode::workspace_not_found, {}, {}, {{"workspace_id", id}});
}

boost::asio::awaitable<Response> put(ApiContext& api, RequestContext& context) {
  auto body = JsonBody::parse(context.request);
  if (!body) co_return error_response(context, body.error());
  const std::string actor_type = body->required_string("actor_type", 32);
  const std::string slug = body->required_string("name", 64);
  const nlohmann::json configuration = body->required_object("configuration");
  if (auto problems = body->problems()) co_return error_response(context, *problems);

  const std::string org = context.param("org_id");
  const std::string workspace_id = context.param("workspace_id");
  const auto scope = app_scope(actor_type, workspace_id);
  if (!scope) co_return error_response(context, scope.error());
  const auto provider = api.flows.providers()->find(slug);
  if (!provider) {
    co_return error_response(context, core::ApiError(core::ErrorCode::connector_not_found, {}, {}, {{"slug", slug}}));
  }

  // Only the settings the plugin's schema lets an organization's app set; an app is a client,
  // so both halves of it are required.
  const std::vector<std::string>& overridable = provider->module->descriptor().organization_app_settings;
  for (const auto& [name, value] : configuration.items()) {
    if (std::find(overridable.begin(), overridable.end(), name) == overridable.end()) {
      co_return error_response(context, field_error("configuration." + name, "is not an OAuth app setting of " + slug));
    }
  }
  for (const char* required : {"client_id", "client_secret"}) {
    const auto it = configuration.find(required);
    if (it == configuration.end() || !it->is_string() || it->get_ref<const std::string&>().empty()) {
      co_return error_response(
          context, field_error(std::string("configuration.") + required, "is required: a non-empty string"));
    }
  }
  // The plugin judges the result the way it will be used, before anything is stored.
  if (std::string why; !core::create_app_instance(*provider, configuration, why)) {
    co_return error_response(context, core::ApiError(core::ErrorCode::validation_error,
                                                     "The connector does not accept this OAuth app configuration.", {},
                                                     {{"reason", why}}));
  }
  if (auto missing = co_await require_workspace(api, org, workspace_id)) co_return error_response(context, *missing);

  core::OAuthAppRecord app;
  app.organization_id = org;
  app.scope = *scope;
  app.slug = slug;
  app.client_id = configuration["client_id"].get<std::string>();
  app.sealed_configuration = api.sealer.seal(configuration.dump(), core::oauth_app_sealing_context(app));
  app.created_at = core::unix_now();
  app.updated_at = app.created_at;
  auto stored = co_await api.store.run([&](core::Store& store) {
    store.put_oauth_app(app);
    return store.find_oauth_app(org, app.scope, slug);
  });
  co_return json_response(context, http::status::ok, summary_json(stored.value_or(app)));
}

boost::asio::awaitable<Response> list(ApiContext& api, RequestContext& context) {
  const std::string org = context.param("org_id");
  const std::string workspace_id = context.param("workspace_id");
  if (auto missing = co_await require_workspace(api, org, workspace_id)) co_return error_response(context, *missing);
  auto apps = co_await api.store.run([&](core::Store& store) {
    auto own = store.list_oauth_apps(org, core::workspace_app_scope(workspace_id));
    for (auto& app : store.list_oauth_apps(org, core::organization_app_scope))
      own.push_back(std::move(app));
    return own;
  });
  nlohmann::json items = nlohmann::json::array();
  for (const auto& app : apps)
    items.push_back(summary_json(app));
  co_return json_response(context, http::status::ok, {{"oauth_credentials", items}});
}

boost::asio::awaitable<Response> remove(ApiContext& api, RequestContext& context) {
  std::string actor_type = "workspace";
  for (const auto& [name, value] : sdk::form_decode(context.query)) {
    if (name == "actor_type") actor_type = value;
  }
  const std::string org = context.param("org_id");
  const std::string workspace_id = context.param("workspace_id");
  const std::string slug = context.param("name");
  const auto scope = app_scope(actor_type, workspace_id);
  if (!scope) co_return error_response(context, scope.error());
  if (auto missing = co_await require_workspace(api, org, workspace_id)) co_return error_response(context, *missing);
  const bool deleted =
      co_await api.store.run([&](core::Store& store) { return store.delete_oauth_app(org, *scope, slug); });
  if (!deleted) {
    co_return error_response(context, core::ApiError(core::ErrorCode::oauth_credentials_not_found, {}, {},
                                                     {{"name", slug}, {"actor_type", actor_type}}));
  }
  co_return empty_response(context, http::status::no_content);
}

} // namespace

void register_oauth_credential_routes(Router& router, ApiContext& api) {
  const std::string base = std::string(api_prefix) + "/workspaces/{workspace_id}/oauth-credentials";
  router.add({.method = http::verb::put,
              .pattern = base,
              .permission = admin_permission,
              .handler = [&api](RequestContext& c) { return put(api, c); }});
  router.add({.method = http::verb::get,
              .pattern = base,
              .permission = admin_permission,
              .handler = [&api](RequestContext& c) { return list(api, c); }});
  router.add({.method = http::verb::delete_,
              .pattern = base + "/{name}",
              .permission = admin_permission,
              .handler = [&api](RequestContext& c) { return remove(api, c); }});
}

} // namespace connector::host
