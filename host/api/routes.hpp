// The API's routes, registered on the router. Paths under the organization prefix need a
// key of that organization; the provider-facing callback, health and OpenAPI are public.
#pragma once

#include "auth/permissions.hpp"
#include "http/router.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <string>

namespace connector::core {
class FlowService;
class OAuthApps;
class Sealer;
class SourceOperations;
class StoreExecutor;
class TokenService;
} // namespace connector::core

namespace connector::host {

inline constexpr const char* api_prefix = "/v1/organizations/{org_id}/knowledge/connectors";
inline constexpr const char* oauth_callback_path = "/v1/oauth/callback";

struct ApiContext {
  core::FlowService& flows;
  core::StoreExecutor& store;
  core::TokenService& tokens;
  core::SourceOperations& sources;
  const core::Sealer& sealer;
  std::function<bool()> ready;                   // for /readyz
  std::function<nlohmann::json()> plugin_report; // for /v1/admin/plugins
  std::function<std::string()> metrics_text;     // for /metrics
};

void register_flow_routes(Router& router, ApiContext& api);
void register_workspace_routes(Router& router, ApiContext& api);
void register_definition_routes(Router& router, ApiContext& api);
void register_source_routes(Router& router, ApiContext& api);
void register_token_routes(Router& router, ApiContext& api);
void register_oauth_credential_routes(Router& router, ApiContext& api);
void register_redirect_routes(Router& router, ApiContext& api);
void register_system_routes(Router& router, ApiContext& api);
void register_admin_routes(Router& router, ApiContext& api);

inline void register_api_routes(Router& router, ApiContext& api) {
  register_flow_routes(router, api);
  register_workspace_routes(router, api);
  register_definition_routes(router, api);
  register_source_routes(router, api);
  register_token_routes(router, api);
  register_oauth_credential_routes(router, api);
  register_redirect_routes(router, api);
  register_system_routes(router, api);
  register_admin_routes(router, api);
}

// The OpenAPI 3.1 document served at /openapi.json (embedded at build time).
const std::string& openapi_document();

} // namespace connector::host
