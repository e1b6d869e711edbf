// The organization's redirect allow-list: which client redirect_urls a flow may end at.
#include "api/json_body.hpp"
#include "api/routes.hpp"
#include "http/responses.hpp"
#include "oauth/redirect_policy.hpp"
#include "store/store_executor.hpp"
#include "time/unix_time.hpp"

namespace connector::host {

namespace {

nlohmann::json entry_json(const core::AllowedRedirectRecord& record) {
  return {{"url", record.url}, {"created_at", core::rfc3339_utc(record.created_at)}};
}

boost::asio::awaitable<Response> list(ApiContext& api, RequestContext& context) {
  const std::string org = context.param("org_id");
  auto entries = co_await api.store.run([&](core::Store& store) { return store.list_allowed_redirects(org); });
  nlohmann::json items = nlohmann::json::array();
  for (const auto& entry : entries)
    items.push_back(entry_json(entry));
  co_return json_response(context, http::status::ok, {{"redirect_urls", items}});
}

// Reads {"url": ...} and normalises it the way flows compare it.
core::Expected<core::NormalizedRedirect> read_url(const Request& request) {
  auto body = JsonBody::parse(request);
  if (!body) return body.error();
  const std::string url = body->required_string("url", 2048);
  if (auto problems = body->problems()) return *problems;
  auto normalized = core::normalize_redirect_url(url);
  if (!normalized) {
    core::ApiError error = normalized.error();
    error.details["field"] = "url";
    return error;
  }
  return normalized;
}

boost::asio::awaitable<Response> add(ApiContext& api, RequestContext& context) {
  auto url = read_url(context.request);
  if (!url) co_return error_response(context, url.error());
  core::AllowedRedirectRecord record;
  record.organization_id = context.param("org_id");
  record.url = url->key;
  record.created_at = core::unix_now();
  // Adding a URL that is already allowed is no error; the answer shows the stored entry.
  const auto existing = co_await api.store.run([&](core::Store& store) -> std::optional<core::AllowedRedirectRecord> {
    for (auto& entry : store.list_allowed_redirects(record.organization_id)) {
      if (entry.url == record.url) return entry;
    }
    store.add_allowed_redirect(record);
    return std::nullopt;
  });
  if (existing) co_return json_response(context, http::status::ok, entry_json(*existing));
  co_return json_response(context, http::status::created, entry_json(record));
}

boost::asio::awaitable<Response> remove(ApiContext& api, RequestContext& context) {
  auto url = read_url(context.request);
  if (!url) co_return error_response(context, url.error());
  const std::string org = context.param("org_id");
  const bool removed =
      co_await api.store.run([&](core::Store& store) { return store.remove_allowed_redirect(org, url->key); });
  if (!removed) {
    co_return error_response(context, core::ApiError(core::ErrorCode::validation_error,
                                                     "That URL is not on the allow-list.", {}, {{"url", url->key}}));
  }
  co_return empty_response(context, http::status::no_content);
}

} // namespace

void register_redirect_routes(Router& router, ApiContext& api) {
  const std::string base = std::string(api_prefix) + "/redirect-urls";
  router.add({.method = http::verb::get,
              .pattern = base,
              .permission = admin_permission,
              .handler = [&api](RequestContext& c) { return list(api, c); }});
  router.add({.method = http::verb::post,
              .pattern = base,
              .permission = admin_permission,
              .handler = [&api](RequestContext& c) { return add(api, c); }});
  router.add({.method = http::verb::delete_,
              .pattern = base,
              .permission = admin_permission,
              .handler = [&api](RequestContext& c) { return remove(api, c); }});
}

} // namespace connector::host
