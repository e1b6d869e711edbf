// A source's access token for the organization's own services (keys with credentials:read),
// and re-authorization of a source whose grant the provider no longer accepts.
#include "api/json_body.hpp"
#include "api/routes.hpp"
#include "http/responses.hpp"
#include "oauth/flow_service.hpp"
#include "oauth/token_service.hpp"
#include "time/unix_time.hpp"

namespace connector::host {

namespace {

boost::asio::awaitable<Response> access_token(ApiContext& api, RequestContext& context) {
  bool force = false;
  if (!context.request.body().empty()) { // the body is optional
    auto body = JsonBody::parse(context.request);
    if (!body) co_return error_response(context, body.error());
    force = body->optional_bool("force_refresh").value_or(false);
    body->refuse_unknown_fields({"force_refresh"});
    if (auto problems = body->problems()) co_return error_response(context, *problems);
  }
  const std::string id = context.param("source_id");
  const std::string org = context.param("org_id");
  auto token = co_await api.tokens.access_token(org, id, force);
  if (!token) {
    Response response = error_response(context, token.error());
    if (const auto retry = token.error().details.find("retry_after_seconds");
        retry != token.error().details.end() && retry->is_number_integer()) {
      response.set(http::field::retry_after, std::to_string(std::max<int64_t>(1, retry->get<int64_t>())));
    }
    co_return response;
  }
  const core::Credentials& credentials = token->credentials;
  co_return json_response(
      context, http::status::ok,
      {{"source_id", id},
       {"access_token", credentials.access_token},
       {"token_type", credentials.token_type.empty() ? "bearer" : credentials.token_type},
       {"expires_at",
        credentials.expires_at ? nlohmann::json(core::rfc3339_utc(*credentials.expires_at)) : nlohmann::json(nullptr)},
       {"scopes", credentials.granted_scopes},
       {"refreshed", token->refreshed}});
}

boost::asio::awaitable<Response> reauthorize(ApiContext& api, RequestContext& context) {
  auto body = JsonBody::parse(context.request);
  if (!body) co_return error_response(context, body.error());
  core::AuthorizeRequest request;
  request.organization_id = context.param("org_id");
  request.target_source_id = context.param("source_id");
  request.client_redirect_url = body->required_string("redirect_url", 2048);
  request.options = body->optional_object("o_auth_input_configuration");
  if (auto problems = body->problems()) co_return error_response(context, *problems);

  auto started = co_await api.flows.authorize(std::move(request));
  if (!started) co_return error_response(context, started.error());
  co_return json_response(context, http::status::ok,
                          {{"authorization_url", started->authorization_url},
                           {"connection_id", started->connection_id},
                           {"expires_at", core::rfc3339_utc(started->expires_at)}});
}

} // namespace

void register_token_routes(Router& router, ApiContext& api) {
  const std::string one = std::string(api_prefix) + "/sources/{source_id}";
  router.add({.method = http::verb::post,
              .pattern = one + "/access-token",
              .permission = credentials_read_permission,
              .handler = [&api](RequestContext& c) { return access_token(api, c); }});
  router.add({.method = http::verb::post,
              .pattern = one + "/reauthorize",
              .permission = sources_permission,
              .handler = [&api](RequestContext& c) { return reauthorize(api, c); }});
}

} // namespace connector::host
