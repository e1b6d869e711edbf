// Sources: list (paginated, by workspace), get, create (with a token the caller holds), replace,
// patch, delete (erasing the secrets, then revoking the grant) and test. Never a secret in an
// answer.
#include "api/json_body.hpp"
#include "api/routes.hpp"
#include "http/responses.hpp"
#include "oauth/credentials.hpp"
#include "oauth/flow_service.hpp"
#include "oauth/ids.hpp"
#include "oauth/source_operations.hpp"
#include "store/store_executor.hpp"
#include "time/unix_time.hpp"

#include <array>
#include <chrono>

namespace connector::host {

namespace {

// Configuration keys the host writes from the grant; a client cannot set them.
constexpr std::array<const char*, 4> host_managed_keys = {"auth_type", "scopes", "account_id", "account_name"};

bool is_host_managed(const std::string& key) {
  for (const char* managed : host_managed_keys) {
    if (key == managed) return true;
  }
  return false;
}

core::ApiError source_not_found(const std::string& id) {
  return core::ApiError(core::ErrorCode::source_not_found, {}, {}, {{"source_id", id}});
}

// The token a source without OAuth is created with: configuration.credentials.
core::Expected<core::Credentials> token_credentials(const nlohmann::json& credentials) {
  if (!credentials.is_object()) return field_error("configuration.credentials", "must be an object");
  for (const auto& [name, value] : credentials.items()) {
    if (name != "auth_type" && name != "access_token" && name != "token_type") {
      return field_error("configuration.credentials." + name, "is not a field of token credentials");
    }
  }
  if (credentials.contains("auth_type") && credentials["auth_type"] != "access_token") {
    return field_error("configuration.credentials.auth_type",
                       "must be \"access_token\"; OAuth sources are made with sources/authorize");
  }
  const auto token = credentials.find("access_token");
  if (token == credentials.end() || !token->is_string() || token->get_ref<const std::string&>().empty() ||
      token->get_ref<const std::string&>().size() > 8192) {
    return field_error("configuration.credentials.access_token", "is required: a non-empty string");
  }
  core::Credentials result;
  result.access_token = token->get<std::string>();
  result.token_type = credentials.value("token_type", std::string("bearer"));
  result.obtained_at = core::unix_now();
  return result;
}

// The configuration a source ends with after PUT (replace) or PATCH (RFC 7396 merge patch):
// host-managed keys keep their values, and `credentials` never stays in it (it is sealed).
// Sets `new_credentials` when the body carries a replacement token.
std::optional<core::ApiError> apply_configuration(core::SourceRecord& source, const nlohmann::json& incoming,
                                                  bool replace, std::optional<core::Credentials>& new_credentials) {
  nlohmann::json current = nlohmann::json::parse(source.configuration_json, nullptr, false);
  if (!current.is_object()) current = nlohmann::json::object();
  for (const auto& [name, value] : incoming.items()) {
    if (!is_host_managed(name)) continue;
    if (!current.contains(name) || current[name] != value) {
      return field_error("configuration." + name, "is set by the host from the grant and cannot be changed");
    }
  }
  if (const auto credentials = incoming.find("credentials"); credentials != incoming.end()) {
    if (source.auth_type != "access_token") {
      return field_error("configuration.credentials",
                         "an OAuth source's credentials change only by re-authorizing it (sources/{id}/reauthorize)");
    }
    auto token = token_credentials(*credentials);
    if (!token) return token.error();
    new_credentials = std::move(*token);
  }
  nlohmann::json result = nlohmann::json::object();
  if (replace) {
    result = incoming;
  } else {
    result = current;
    result.merge_patch(incoming);
  }
  result.erase("credentials");
  for (const char* managed : host_managed_keys) {
    if (current.contains(managed)) result[managed] = current[managed];
  }
  source.configuration_json = result.dump();
  return std::nullopt;
}

nlohmann::json page_json(const core::Page<core::SourceRecord>& page) {
  nlohmann::json items = nlohmann::json::array();
  for (const auto& source : page.items)
    items.push_back(core::source_to_json(source));
  return {{"sources", items},
          {"next_cursor", page.next_after.empty() ? nlohmann::json(nullptr) : nlohmann::json(page.next_after)}};
}

boost::asio::awaitable<Response> list(ApiContext& api, RequestContext& context) {
  auto page = parse_page_query(context.query);
  if (!page) co_return error_response(context, page.error());
  const std::string org = context.param("org_id");
  const PageQuery& query = page.value();
  auto found = co_await api.store.run(
      [&](core::Store& store) { return store.list_sources(org, query.workspace_id, query.limit, query.after); });
  co_return json_response(context, http::status::ok, page_json(found));
}

boost::asio::awaitable<Response> get(ApiContext& api, RequestContext& context) {
  const std::string org = context.param("org_id");
  const std::string id = context.param("source_id");
  auto found = co_await api.store.run([&](core::Store& store) { return store.find_source(org, id); });
  if (!found) co_return error_response(context, source_not_found(id));
  co_return json_response(context, http::status::ok, core::source_to_json(*found));
}

boost::asio::awaitable<Response> create(ApiContext& api, RequestContext& context) {
  auto body = JsonBody::parse(context.request);
  if (!body) co_return error_response(context, body.error());
  core::SourceRecord source;
  source.organization_id = context.param("org_id");
  source.name = body->required_string("name", 256);
  source.source_definition_id = body->required_string("source_definition_id", 128);
  source.workspace_id = body->required_string("workspace_id", 128);
  nlohmann::json configuration = body->optional_object("configuration");
  if (auto problems = body->problems()) co_return error_response(context, *problems);

  const auto provider = api.flows.providers()->find_by_definition(source.source_definition_id);
  if (!provider) {
    co_return error_response(context, core::ApiError(core::ErrorCode::source_definition_not_found, {}, {},
                                                     {{"source_definition_id", source.source_definition_id}}));
  }
  for (const auto& [name, value] : configuration.items()) {
    if (is_host_managed(name)) {
      co_return error_response(context, field_error("configuration." + name, "is set by the host"));
    }
  }
  auto credentials = token_credentials(configuration.value("credentials", nlohmann::json()));
  if (!credentials) co_return error_response(context, credentials.error());

  source.id = core::make_id("src");
  source.slug = provider->module->descriptor().slug;
  source.auth_type = "access_token";
  source.status = "active";
  configuration.erase("credentials");
  configuration["auth_type"] = "access_token";
  source.configuration_json = configuration.dump();
  source.sealed_credentials =
      api.sealer.seal(credentials->to_json().dump(), core::sealing_context("source", source.id, "credentials"));
  source.created_at = core::unix_now();
  source.updated_at = source.created_at;
  auto refused = co_await api.store.run([&](core::Store& store) -> std::optional<core::ApiError> {
    if (!store.find_workspace(source.organization_id, source.workspace_id)) {
      return core::ApiError(core::ErrorCode::workspace_not_found, {}, {}, {{"workspace_id", source.workspace_id}});
    }
    store.insert_source(source);
    return std::nullopt;
  });
  if (refused) co_return error_response(context, *refused);
  co_return json_response(context, http::status::created, core::source_to_json(source));
}

// PUT (replace = true: name and configuration required) and PATCH (both optional).
boost::asio::awaitable<Response> update(ApiContext& api, RequestContext& context, bool replace) {
  auto body = JsonBody::parse(context.request);
  if (!body) co_return error_response(context, body.error());
  const std::string org = context.param("org_id");
  const std::string id = context.param("source_id");
  std::optional<std::string> name = replace ? body->required_string("name", 256) : body->optional_string("name", 256);
  const bool has_configuration = body->has("configuration");
  const nlohmann::json configuration =
      replace ? body->required_object("configuration") : body->optional_object("configuration");
  body->refuse_unknown_fields({"name", "configuration"});
  if (auto problems = body->problems()) co_return error_response(context, *problems);

  auto updated = co_await api.store.run([&](core::Store& store) -> core::Expected<core::SourceRecord> {
    auto found = store.find_source(org, id);
    if (!found) return source_not_found(id);
    core::SourceRecord source = std::move(*found);
    std::optional<core::Credentials> new_credentials;
    if (has_configuration) {
      if (auto refused = apply_configuration(source, configuration, replace, new_credentials)) return *refused;
    }
    if (new_credentials) {
      source.sealed_credentials =
          api.sealer.seal(new_credentials->to_json().dump(), core::sealing_context("source", source.id, "credentials"));
      source.status = "active";
      source.status_detail.clear();
    }
    if (name) source.name = *name;
    source.updated_at = core::unix_now();
    // The job holds the write lock, so this compare-and-swap only fails on a broken store.
    if (!store.update_source(source)) return core::ApiError(core::ErrorCode::conflict);
    source.version += 1;
    return source;
  });
  if (!updated) co_return error_response(context, updated.error());
  co_return json_response(context, http::status::ok, core::source_to_json(*updated));
}

boost::asio::awaitable<Response> remove(ApiContext& api, RequestContext& context) {
  const auto revoke = query_flag(context.query, "revoke", true);
  if (!revoke) co_return error_response(context, revoke.error());
  const std::string org = context.param("org_id");
  const std::string id = context.param("source_id");
  auto outcome = co_await api.sources.delete_source(org, id, *revoke);
  if (!outcome) co_return error_response(context, outcome.error());
  Response response = empty_response(context, http::status::no_content);
  response.set("Connector-Revocation", core::to_string(*outcome));
  co_return response;
}

boost::asio::awaitable<Response> test(ApiContext& api, RequestContext& context) {
  auto body = JsonBody::parse(context.request);
  if (!body) co_return error_response(context, body.error());
  const std::string org = context.param("org_id");
  const auto source_id = body->optional_string("source_id", 128);
  const auto definition_id = body->optional_string("source_definition_id", 128);
  const auto workspace_id = body->optional_string("workspace_id", 128);
  body->optional_string("name", 256);
  const nlohmann::json configuration = body->optional_object("configuration");
  if (auto problems = body->problems()) co_return error_response(context, *problems);
  if (!source_id && !definition_id) {
    co_return error_response(
        context, field_error("source_id", "is required, unless source_definition_id and configuration are"));
  }

  const auto started = std::chrono::system_clock::now();
  core::Expected<core::CheckOutcome> outcome;
  if (source_id) {
    outcome = co_await api.sources.test_source(org, *source_id);
  } else {
    auto credentials = token_credentials(configuration.value("credentials", nlohmann::json()));
    if (!credentials) co_return error_response(context, credentials.error());
    if (workspace_id) {
      const auto workspace =
          co_await api.store.run([&](core::Store& store) { return store.find_workspace(org, *workspace_id); });
      if (!workspace) {
        co_return error_response(
            context, core::ApiError(core::ErrorCode::workspace_not_found, {}, {}, {{"workspace_id", *workspace_id}}));
      }
    }
    // Named, not a temporary: g++ 12 destroys temporaries inside co_await expressions twice.
    const core::InlineCheck check{org, *definition_id, workspace_id.value_or(""), credentials->access_token};
    outcome = co_await api.sources.test_token(check);
  }
  if (!outcome) co_return error_response(context, outcome.error());
  const auto ended = std::chrono::system_clock::now();
  const auto seconds = [](auto time) {
    return std::chrono::duration_cast<std::chrono::seconds>(time.time_since_epoch()).count();
  };
  nlohmann::json job = {{"job_id", core::make_id("job")},
                        {"config_type", "check_connection_source"},
                        {"source_id", source_id ? nlohmann::json(*source_id) : nlohmann::json(nullptr)},
                        {"created_at", core::rfc3339_utc(seconds(started))},
                        {"ended_at", core::rfc3339_utc(seconds(ended))},
                        {"duration_ms", std::chrono::duration_cast<std::chrono::milliseconds>(ended - started).count()},
                        {"succeeded", outcome->succeeded},
                        {"token_refreshed", outcome->token_refreshed},
                        {"failure_reason", outcome->succeeded ? nlohmann::json(nullptr)
                                                              : nlohmann::json{{"code", outcome->failure_code},
                                                                               {"message", outcome->message}}}};
  co_return json_response(
      context, http::status::ok,
      {{"status", outcome->succeeded ? "succeeded" : "failed"}, {"message", outcome->message}, {"job_info", job}});
}

} // namespace

void register_source_routes(Router& router, ApiContext& api) {
  const std::string base = std::string(api_prefix) + "/sources";
  const std::string one = base + "/{source_id}";
  router.add({.method = http::verb::get,
              .pattern = base,
              .permission = sources_permission,
              .handler = [&api](RequestContext& c) { return list(api, c); }});
  router.add({.method = http::verb::post,
              .pattern = base,
              .permission = sources_permission,
              .handler = [&api](RequestContext& c) { return create(api, c); }});
  router.add({.method = http::verb::post,
              .pattern = base + "/test",
              .permission = sources_permission,
              .handler = [&api](RequestContext& c) { return test(api, c); }});
  router.add({.method = http::verb::get,
              .pattern = one,
              .permission = sources_permission,
              .handler = [&api](RequestContext& c) { return get(api, c); }});
  router.add({.method = http::verb::put,
              .pattern = one,
              .permission = sources_permission,
              .handler = [&api](RequestContext& c) { return update(api, c, true); }});
  router.add({.method = http::verb::patch,
              .pattern = one,
              .permission = sources_permission,
              .handler = [&api](RequestContext& c) { return update(api, c, false); }});
  router.add({.method = http::verb::delete_,
              .pattern = one,
              .permission = sources_permission,
              .handler = [&api](RequestContext& c) { return remove(api, c); }});
}

} // namespace connector::host
