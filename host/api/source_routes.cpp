// Sources: list (paginated, by workspace), get, create (with a token the caller holds), replace,
// patch, delete (erasing the secrets, then revoking the grant) and test. Never a secret in an
// answer.
#include "api/json_body.hpp"
#include "api/routes.hpp"
#include "api/source_json.hpp"
#include "http/responses.hpp"
#include "oauth/flow_service.hpp"
#include "oauth/ids.hpp"
#include "oauth/source_operations.hpp"
#include "sources/source_rules.hpp"
#include "store/store_executor.hpp"
#include "time/unix_time.hpp"

#include <chrono>

namespace connector::host {

namespace {

core::ApiError source_not_found(const std::string& id) {
  return core::ApiError(core::ErrorCode::source_not_found, {}, {}, {{"source_id", id}});
}

nlohmann::json page_json(const core::Page<core::SourceRecord>& page) {
  nlohmann::json items = nlohmann::json::array();
  for (const auto& source : page.items)
    items.push_back(source_to_json(source));
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
  co_return json_response(context, http::status::ok, source_to_json(*found));
}

boost::asio::awaitable<Response> create(ApiContext& api, RequestContext& context) {
  auto body = JsonBody::parse(context.request);
  if (!body) co_return error_response(context, body.error());
  core::NewSource made;
  made.organization_id = context.param("org_id");
  made.name = body->required_string("name", 256);
  made.source_definition_id = body->required_string("source_definition_id", 128);
  made.workspace_id = body->required_string("workspace_id", 128);
  nlohmann::json configuration = body->optional_object("configuration");
  if (auto problems = body->problems()) co_return error_response(context, *problems);

  const auto provider = api.flows.providers()->find_by_definition(made.source_definition_id);
  if (!provider) {
    co_return error_response(context, core::ApiError(core::ErrorCode::source_definition_not_found, {}, {},
                                                     {{"source_definition_id", made.source_definition_id}}));
  }
  for (const auto& [name, value] : configuration.items()) {
    if (core::is_host_managed(name)) {
      co_return error_response(context, field_error("configuration." + name, "is set by the host"));
    }
  }
  const int64_t now = core::unix_now();
  made.slug = provider->module->descriptor().slug;
  const nlohmann::json given = configuration.value("credentials", nlohmann::json());
  if (core::is_imported_grant(given)) {
    auto grant = core::imported_grant_credentials(given, now);
    if (!grant) co_return error_response(context, grant.error());
    auto imported = co_await api.sources.import_grant(made, std::move(configuration), *grant);
    if (!imported) co_return error_response(context, imported.error());
    co_return json_response(context, http::status::created, source_to_json(*imported));
  }
  auto credentials = core::token_credentials(given, now);
  if (!credentials) co_return error_response(context, credentials.error());

  const core::SourceRecord source =
      core::source_with_token(made, std::move(configuration), *credentials, api.sealer, now);
  auto refused = co_await api.sources.insert_in_workspace(source);
  if (refused) co_return error_response(context, *refused);
  co_return json_response(context, http::status::created, source_to_json(source));
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
    const int64_t now = core::unix_now();
    if (has_configuration) {
      if (auto refused = core::change_configuration(source, configuration, replace, api.sealer, now)) return *refused;
    }
    if (name) source.name = *name;
    source.updated_at = now;
    // The job holds the write lock, so this compare-and-swap only fails on a broken store.
    if (!store.update_source(source)) return core::ApiError(core::ErrorCode::conflict);
    source.version += 1;
    return source;
  });
  if (!updated) co_return error_response(context, updated.error());
  co_return json_response(context, http::status::ok, source_to_json(*updated));
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
    auto credentials = core::token_credentials(configuration.value("credentials", nlohmann::json()), core::unix_now());
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
