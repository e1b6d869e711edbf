// Sources: list (paginated, by workspace) and get. Never a secret in an answer.
#include "api/json_body.hpp"
#include "api/routes.hpp"
#include "http/responses.hpp"
#include "oauth/flow_service.hpp"
#include "store/store_executor.hpp"

namespace connector::host {

namespace {

boost::asio::awaitable<Response> list(ApiContext& api, RequestContext& context) {
  auto page = parse_page_query(context.query);
  if (!page) co_return error_response(context, page.error());
  const std::string org = context.param("org_id");
  const PageQuery& query = page.value();
  auto found = co_await api.store.run(
      [&](core::Store& store) { return store.list_sources(org, query.workspace_id, query.limit, query.after); });
  nlohmann::json items = nlohmann::json::array();
  for (const auto& source : found.items)
    items.push_back(core::source_to_json(source));
  co_return json_response(
      context, http::status::ok,
      {{"sources", items},
       {"next_cursor", found.next_after.empty() ? nlohmann::json(nullptr) : nlohmann::json(found.next_after)}});
}

boost::asio::awaitable<Response> get(ApiContext& api, RequestContext& context) {
  const std::string org = context.param("org_id");
  const std::string id = context.param("source_id");
  auto found = co_await api.store.run([&](core::Store& store) { return store.find_source(org, id); });
  if (!found) {
    co_return error_response(context, core::ApiError(core::ErrorCode::source_not_found, {}, {}, {{"source_id", id}}));
  }
  co_return json_response(context, http::status::ok, core::source_to_json(*found));
}

} // namespace

void register_source_routes(Router& router, ApiContext& api) {
  const std::string base = std::string(api_prefix) + "/sources";
  router.add({http::verb::get, base, true, "", [&api](RequestContext& c) { return list(api, c); }});
  router.add({http::verb::get, base + "/{source_id}", true, "", [&api](RequestContext& c) { return get(api, c); }});
}

} // namespace connector::host
