// Liveness, readiness, metrics and the API description.
#include "api/routes.hpp"
#include "http/responses.hpp"
#include "store/store_executor.hpp"

namespace connector::host {

void register_system_routes(Router& router, ApiContext& api) {
  router.add({.method = http::verb::get,
              .pattern = "/healthz",
              .authenticated = false,
              .handler = [](RequestContext& c) -> boost::asio::awaitable<Response> {
                co_return json_response(c, http::status::ok, {{"status", "ok"}});
              }});
  // Ready: accepting (not shutting down) and the store answers a lookup.
  router.add({.method = http::verb::get,
              .pattern = "/readyz",
              .authenticated = false,
              .handler = [&api](RequestContext& c) -> boost::asio::awaitable<Response> {
                const bool accepting = api.ready();
                bool store_ok = true;
                try {
                  co_await api.store.run([](core::Store& store) { store.find_workspace("", ""); });
                } catch (const std::exception&) {
                  store_ok = false;
                }
                const bool ready = accepting && store_ok;
                co_return json_response(
                    c, ready ? http::status::ok : http::status::service_unavailable,
                    {{"status", ready ? "ready" : "not_ready"},
                     {"checks", {{"accepting", accepting}, {"store", store_ok ? "ok" : "failed"}}}});
              }});
  // Prometheus scrapes without a key, like /healthz: the counts carry routes, slugs and
  // outcomes only. Keep the port private, or filter /metrics at the proxy.
  router.add({.method = http::verb::get,
              .pattern = "/metrics",
              .authenticated = false,
              .handler = [&api](RequestContext& c) -> boost::asio::awaitable<Response> {
                Response response = json_response(c, http::status::ok, nullptr);
                response.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
                response.body() = api.metrics_text ? api.metrics_text() : std::string();
                response.prepare_payload();
                co_return response;
              }});
  router.add({.method = http::verb::get,
              .pattern = "/openapi.json",
              .authenticated = false,
              .handler = [](RequestContext& c) -> boost::asio::awaitable<Response> {
                Response response = json_response(c, http::status::ok, nullptr);
                response.body() = openapi_document();
                response.prepare_payload();
                co_return response;
              }});
}

} // namespace connector::host
