// Workspaces: where sources live. Create, list (paginated), get.
#include "api/json_body.hpp"
#include "api/routes.hpp"
#include "http/responses.hpp"
#include "oauth/ids.hpp"
#include "store/store_executor.hpp"

#include <chrono>

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
  workspace.created_at =
      std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
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

} // namespace

void register_workspace_routes(Router& router, ApiContext& api) {
  const std::string base = std::string(api_prefix) + "/workspaces";
  router.add({http::verb::post, base, true, "", [&api](RequestContext& c) { return create(api, c); }});
  router.add({http::verb::get, base, true, "", [&api](RequestContext& c) { return list(api, c); }});
  router.add({http::verb::get, base + "/{workspace_id}", true, "", [&api](RequestContext& c) { return get(api, c); }});
}

} // namespace connector::host
