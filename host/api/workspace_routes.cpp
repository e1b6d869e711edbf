// Workspaces: where sources live. Create, list (paginated), get, rename, delete (refused while
// sources live in it, unless asked to cascade).
#include "api/json_body.hpp"
#include "api/routes.hpp"
#include "http/responses.hpp"
#include "oauth/flow_service.hpp"
#include "oauth/ids.hpp"
#include "oauth/source_operations.hpp"
#include "store/store_executor.hpp"
#include "time/unix_time.hpp"

namespace connector::host {

namespace {

nlohmann::json workspace_json(const core::WorkspaceRecord& workspace) {
  return {{"workspace_id", workspace.id},
          {"name", workspace.name},
          {"organization_id", workspace.organization_id},
          {"created_at", core::rfc3339_utc(workspace.created_at)},
          {"updated_at", core::rfc3339_utc(workspace.updated_at)}};
}

boost::asio::awaitable<Response> create(ApiContext& api, RequestContext& context) {
  auto body = JsonBody::parse(context.request);
  if (!body) co_return error_response(context, body.error());
  core::WorkspaceRecord workspace;
  workspace.name = body->required_string("name", 256);
  if (auto problems = body->problems()) co_return error_response(context, *problems);
  workspace.id = core::make_id("ws");
  workspace.organization_id = context.param("org_id");
  workspace.created_at = core::unix_now();
  workspace.updated_at = workspace.created_at;
  co_await api.store.run([&](core::Store& store) { store.insert_workspace(workspace); });
  co_return json_response(context, http::status::created, workspace_json(workspace));
}

boost::asio::awaitable<Response> list(ApiContext& api, RequestContext& context) {
  auto page = parse_page_query(context.query);
  if (!page) co_return error_response(context, page.error());
  const std::string org = context.param("org_id");
  const PageQuery& query = page.value();
  auto found =
      co_await api.store.run([&](core::Store& store) { return store.list_workspaces(org, query.limit, query.after); });
  nlohmann::json items = nlohmann::json::array();
  for (const auto& workspace : found.items)
    items.push_back(workspace_json(workspace));
  co_return json_response(
      context, http::status::ok,
      {{"workspaces", items},
       {"next_cursor", found.next_after.empty() ? nlohmann::json(nullptr) : nlohmann::json(found.next_after)}});
}

boost::asio::awaitable<Response> get(ApiContext& api, RequestContext& context) {
  const std::string org = context.param("org_id");
  const std::string id = context.param("workspace_id");
  auto found = co_await api.store.run([&](core::Store& store) { return store.find_workspace(org, id); });
  if (!found) {
    co_return error_response(context,
                             core::ApiError(core::ErrorCode::workspace_not_found, {}, {}, {{"workspace_id", id}}));
  }
  co_return json_response(context, http::status::ok, workspace_json(*found));
}

core::ApiError workspace_not_found(const std::string& id) {
  return core::ApiError(core::ErrorCode::workspace_not_found, {}, {}, {{"workspace_id", id}});
}

boost::asio::awaitable<Response> update(ApiContext& api, RequestContext& context) {
  auto body = JsonBody::parse(context.request);
  if (!body) co_return error_response(context, body.error());
  const std::string name = body->required_string("name", 256);
  body->refuse_unknown_fields({"name"});
  if (auto problems = body->problems()) co_return error_response(context, *problems);
  const std::string org = context.param("org_id");
  const std::string id = context.param("workspace_id");
  auto updated = co_await api.store.run([&](core::Store& store) -> std::optional<core::WorkspaceRecord> {
    auto found = store.find_workspace(org, id);
    if (!found) return std::nullopt;
    found->name = name;
    found->updated_at = core::unix_now();
    store.update_workspace(*found);
    return found;
  });
  if (!updated) co_return error_response(context, workspace_not_found(id));
  co_return json_response(context, http::status::ok, workspace_json(*updated));
}

boost::asio::awaitable<Response> remove(ApiContext& api, RequestContext& context) {
  const auto cascade = query_flag(context.query, "cascade", false);
  if (!cascade) co_return error_response(context, cascade.error());
  const std::string org = context.param("org_id");
  const std::string id = context.param("workspace_id");
  // Refuses while sources live in the workspace; deletes it otherwise. One job, so a source
  // created meanwhile is either counted or refused its workspace.
  const auto try_delete = [&]() -> boost::asio::awaitable<std::optional<core::ApiError>> {
    co_return co_await api.store.run([&](core::Store& store) -> std::optional<core::ApiError> {
      if (!store.find_workspace(org, id)) return workspace_not_found(id);
      if (const int64_t count = store.count_sources_in_workspace(org, id); count > 0) {
        return core::ApiError(core::ErrorCode::workspace_not_empty, {}, {},
                              {{"workspace_id", id}, {"source_count", count}});
      }
      store.delete_workspace(org, id);
      return std::nullopt;
    });
  };
  auto refused = co_await try_delete();
  if (refused && refused->code == core::ErrorCode::workspace_not_empty && *cascade) {
    // Each source goes the way DELETE sources/{id} takes it: secrets erased, grant revoked.
    for (;;) {
      auto page = co_await api.store.run([&](core::Store& store) { return store.list_sources(org, id, 200, ""); });
      if (page.items.empty()) break;
      for (const auto& source : page.items)
        co_await api.sources.delete_source(org, source.id, /*revoke=*/true);
    }
    refused = co_await try_delete();
  }
  if (refused) co_return error_response(context, *refused);
  co_return empty_response(context, http::status::no_content);
}

} // namespace

void register_workspace_routes(Router& router, ApiContext& api) {
  const std::string base = std::string(api_prefix) + "/workspaces";
  router.add({.method = http::verb::post,
              .pattern = base,
              .permission = sources_permission,
              .handler = [&api](RequestContext& c) { return create(api, c); }});
  router.add({.method = http::verb::get,
              .pattern = base,
              .permission = sources_permission,
              .handler = [&api](RequestContext& c) { return list(api, c); }});
  const std::string one = base + "/{workspace_id}";
  router.add({.method = http::verb::get,
              .pattern = one,
              .permission = sources_permission,
              .handler = [&api](RequestContext& c) { return get(api, c); }});
  router.add({.method = http::verb::patch,
              .pattern = one,
              .permission = sources_permission,
              .handler = [&api](RequestContext& c) { return update(api, c); }});
  router.add({.method = http::verb::put,
              .pattern = one,
              .permission = sources_permission,
              .handler = [&api](RequestContext& c) { return update(api, c); }});
  router.add({.method = http::verb::delete_,
              .pattern = one,
              .permission = sources_permission,
              .handler = [&api](RequestContext& c) { return remove(api, c); }});
}

} // namespace connector::host
