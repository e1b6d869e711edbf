// Source definitions: one or more per loaded plugin, with the ids the plugin declares.
#include "api/routes.hpp"
#include "http/responses.hpp"
#include "oauth/flow_service.hpp"

namespace connector::host {

namespace {

nlohmann::json definition_json(const core::ConfiguredProvider& provider,
                               const core::PluginSourceDefinition& definition) {
  const core::PluginDescriptor& d = provider.module->descriptor();
  return {{"source_definition_id", definition.id},
          {"name", definition.name},
          {"source_type", d.slug},
          {"connector_name", d.display_name},
          {"connector_version", d.version},
          {"documentation_url", d.documentation_url},
          {"auth_type", "oauth2.0"},
          {"default_scopes", d.default_scopes},
          {"supports_pkce", d.supports_pkce},
          {"supports_refresh", d.supports_refresh},
          {"supports_revoke", d.supports_revoke},
          {"configured", provider.instance != nullptr}};
}

boost::asio::awaitable<Response> list(ApiContext& api, RequestContext& context) {
  nlohmann::json items = nlohmann::json::array();
  for (const auto& [slug, provider] : api.flows.providers()->all()) {
    for (const auto& definition : provider.module->descriptor().source_definitions) {
      items.push_back(definition_json(provider, definition));
    }
  }
  co_return json_response(context, http::status::ok, {{"source_definitions", items}});
}

boost::asio::awaitable<Response> get(ApiContext& api, RequestContext& context) {
  const std::string id = context.param("source_definition_id");
  const auto provider = api.flows.providers()->find_by_definition(id);
  if (provider) {
    for (const auto& definition : provider->module->descriptor().source_definitions) {
      if (definition.id == id)
        co_return json_response(context, http::status::ok, definition_json(*provider, definition));
    }
  }
  co_return error_response(
      context, core::ApiError(core::ErrorCode::source_definition_not_found, {}, {}, {{"source_definition_id", id}}));
}

// The settings schema is the operator's (and an organization's own app's) configuration; the
// flow-options schema is what o_auth_input_configuration accepts.
boost::asio::awaitable<Response> spec(ApiContext& api, RequestContext& context) {
  const std::string id = context.param("source_definition_id");
  const auto provider = api.flows.providers()->find_by_definition(id);
  if (!provider) {
    co_return error_response(
        context, core::ApiError(core::ErrorCode::source_definition_not_found, {}, {}, {{"source_definition_id", id}}));
  }
  const core::PluginDescriptor& d = provider->module->descriptor();
  const auto object_or_empty = [](const std::string& text) {
    nlohmann::json parsed = nlohmann::json::parse(text, nullptr, false);
    return parsed.is_object() ? parsed : nlohmann::json::object();
  };
  co_return json_response(context, http::status::ok,
                          {{"source_definition_id", id},
                           {"documentation_url", d.documentation_url},
                           {"connection_specification", object_or_empty(d.settings_schema_json)},
                           {"o_auth_input_specification", object_or_empty(d.flow_options_schema_json)},
                           {"auth_specification",
                            {{"auth_type", "oauth2.0"},
                             {"oauth2_specification",
                              {{"default_scopes", d.default_scopes},
                               {"supports_pkce", d.supports_pkce},
                               {"supports_refresh", d.supports_refresh},
                               {"supports_revoke", d.supports_revoke}}}}},
                           {"supported_destination_sync_modes", nlohmann::json::array()}});
}

} // namespace

void register_definition_routes(Router& router, ApiContext& api) {
  const std::string base = std::string(api_prefix) + "/source-definitions";
  router.add({.method = http::verb::get,
              .pattern = base,
              .permission = sources_permission,
              .handler = [&api](RequestContext& c) { return list(api, c); }});
  router.add({.method = http::verb::get,
              .pattern = base + "/{source_definition_id}",
              .permission = sources_permission,
              .handler = [&api](RequestContext& c) { return get(api, c); }});
  router.add({.method = http::verb::get,
              .pattern = base + "/{source_definition_id}/spec",
              .permission = sources_permission,
              .handler = [&api](RequestContext& c) { return spec(api, c); }});
}

} // namespace connector::host
