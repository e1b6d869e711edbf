// The Source OAuth API proper: connector authorize, native OAuth, the provider-facing
// callback and the completion that creates a source.
#include "api/json_body.hpp"
#include "api/routes.hpp"
#include "api/source_json.hpp"
#include "http/responses.hpp"
#include "oauth/flow_service.hpp"
#include "store/store_executor.hpp"
#include "time/unix_time.hpp"

#include <connector/encoding.hpp>

namespace connector::host {

namespace {

std::string path(const char* suffix) { return std::string(api_prefix) + suffix; }

boost::asio::awaitable<Response> authorize(ApiContext& api, RequestContext& context) {
  auto body = JsonBody::parse(context.request);
  if (!body) co_return error_response(context, body.error());
  core::AuthorizeRequest request;
  request.organization_id = context.param("org_id");
  request.slug = body->required_string("slug", 64);
  request.client_redirect_url = body->required_string("redirect_url", 2048);
  if (auto problems = body->problems()) co_return error_response(context, *problems);

  auto started = co_await api.flows.authorize(std::move(request));
  if (!started) co_return error_response(context, started.error());
  co_return json_strings_response(
      context, http::status::ok,
      {{"authorization_url", started->authorization_url}, {"connection_id", started->connection_id}});
}

boost::asio::awaitable<Response> native_oauth(ApiContext& api, RequestContext& context) {
  auto body = JsonBody::parse(context.request);
  if (!body) co_return error_response(context, body.error());
  core::AuthorizeRequest request;
  request.organization_id = context.param("org_id");
  request.source_definition_id = body->required_string("source_definition_id", 128);
  request.workspace_id = body->required_string("workspace_id", 128);
  request.client_redirect_url = body->required_string("redirect_url", 2048);
  request.options = body->optional_object("o_auth_input_configuration");
  if (auto problems = body->problems()) co_return error_response(context, *problems);

  auto started = co_await api.flows.authorize(std::move(request));
  if (!started) co_return error_response(context, started.error());
  co_return json_strings_response(
      context, http::status::ok,
      {{"consent_url", started->authorization_url}, {"connection_id", started->connection_id}});
}

boost::asio::awaitable<Response> complete(ApiContext& api, RequestContext& context) {
  auto body = JsonBody::parse(context.request);
  if (!body) co_return error_response(context, body.error());
  core::CompleteRequest request;
  request.organization_id = context.param("org_id");
  request.connection_id = body->required_string("connection_id", 128);
  request.workspace_id = body->required_string("workspace_id", 128);
  request.source_definition_id = body->required_string("source_definition_id", 128);
  request.source_name = body->required_string("source_name", 256);
  if (auto problems = body->problems()) co_return error_response(context, *problems);

  auto source = co_await api.flows.complete(std::move(request));
  if (!source) co_return error_response(context, source.error());
  co_return json_response(context, http::status::ok, source_to_json(source.value()));
}

boost::asio::awaitable<Response> provider_callback(ApiContext& api, RequestContext& context) {
  core::CallbackQuery query;
  for (auto& [name, value] : sdk::form_decode(context.query)) {
    if (name == "state")
      query.state = std::move(value);
    else if (name == "code")
      query.code = std::move(value);
    else if (name == "error")
      query.error = std::move(value);
    else if (name == "error_description")
      query.error_description = std::move(value);
    else if (name == "iss")
      query.iss = std::move(value);
    else
      query.other_parameters.emplace_back(std::move(name), std::move(value));
  }
  // The callback is a browser's page, not an API call: a full disk gets a page that says so
  // (503), where the router would answer the API's JSON envelope.
  core::CallbackResult result;
  try {
    result = co_await api.flows.callback(std::move(query));
  } catch (const core::StorageFull&) {
    co_return page_response(context, 503,
                            "The sign-in could not be saved: the service is out of storage. Please try again later.");
  }
  if (result.redirect) co_return redirect_response(context, result.location);
  co_return page_response(context, result.page_status, result.page_message);
}

boost::asio::awaitable<Response> connection_status(ApiContext& api, RequestContext& context) {
  const std::string org = context.param("org_id");
  const std::string id = context.param("connection_id");
  auto found = co_await api.store.run([&](core::Store& store) { return store.find_flow(org, id); });
  if (!found) {
    co_return error_response(context,
                             core::ApiError(core::ErrorCode::connection_not_found, {}, {}, {{"connection_id", id}}));
  }
  // A flow past its time reads as expired whatever it last wrote.
  const bool lapsed = (found->status == core::FlowStatus::pending || found->status == core::FlowStatus::authorized) &&
                      found->expires_at <= core::unix_now();
  nlohmann::json body = {{"connection_id", found->id},
                         {"slug", found->slug},
                         {"status", lapsed ? "expired" : core::to_string(found->status)},
                         {"created_at", core::rfc3339_utc(found->created_at)},
                         {"expires_at", core::rfc3339_utc(found->expires_at)}};
  if (!found->error_code.empty())
    body["error"] = {{"code", found->error_code}, {"description", found->error_description}};
  if (!found->source_id.empty()) body["source_id"] = found->source_id;
  co_return json_response(context, http::status::ok, body);
}

} // namespace

void register_flow_routes(Router& router, ApiContext& api) {
  router.add({.method = http::verb::post,
              .pattern = path("/sources/authorize"),
              .permission = sources_permission,
              .handler = [&api](RequestContext& c) { return authorize(api, c); }});
  router.add({.method = http::verb::post,
              .pattern = path("/sources/oauth"),
              .permission = sources_permission,
              .handler = [&api](RequestContext& c) { return native_oauth(api, c); }});
  router.add({.method = http::verb::post,
              .pattern = path("/sources/oauth/callback"),
              .permission = sources_permission,
              .handler = [&api](RequestContext& c) { return complete(api, c); }});
  router.add({.method = http::verb::get,
              .pattern = path("/connections/{connection_id}"),
              .permission = sources_permission,
              .handler = [&api](RequestContext& c) { return connection_status(api, c); }});
  router.add({.method = http::verb::get,
              .pattern = oauth_callback_path,
              .authenticated = false,
              .handler = [&api](RequestContext& c) { return provider_callback(api, c); },
              .answers_head = false});
}

} // namespace connector::host
