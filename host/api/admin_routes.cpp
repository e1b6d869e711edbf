// The operator's views, for keys holding the "admin" permission: the plugins the running host
// serves (version, ABI, file, build, load time) and every refusal with its reason.
#include "api/routes.hpp"
#include "http/responses.hpp"

namespace connector::host {

namespace {

boost::asio::awaitable<Response> plugins(ApiContext& api, RequestContext& context) {
  co_return json_response(context, http::status::ok,
                          api.plugin_report ? api.plugin_report() : nlohmann::json::object());
}

} // namespace

void register_admin_routes(Router& router, ApiContext& api) {
  router.add({.method = http::verb::get,
              .pattern = "/v1/admin/plugins",
              .permission = admin_permission,
              .handler = [&api](RequestContext& c) { return plugins(api, c); }});
}

} // namespace connector::host
