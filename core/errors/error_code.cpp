#include "errors/error_code.hpp"

#include "time/unix_time.hpp"

#include <iterator>

namespace connector::core {

namespace {

// Indexed by ErrorCode; keep the order of the enum.
constexpr ErrorInfo table[] = {
    {"AUTHENTICATION_REQUIRED", 401, "authentication_error", "An API key is required."},
    {"INVALID_API_KEY", 401, "authentication_error", "The API key is not valid."},
    {"ORGANIZATION_ACCESS_DENIED", 403, "permission_error", "This API key cannot access this organization."},
    {"INSUFFICIENT_PERMISSIONS", 403, "permission_error", "This API key lacks the permission this call needs."},
    {"INVALID_REQUEST_BODY", 400, "client_error", "The request body is not valid JSON."},
    {"VALIDATION_ERROR", 422, "validation_error", "The request has missing or invalid fields."},
    {"UNSUPPORTED_MEDIA_TYPE", 415, "client_error", "The request body must be application/json."},
    {"PAYLOAD_TOO_LARGE", 413, "client_error", "The request body is too large."},
    {"HEADERS_TOO_LARGE", 431, "client_error", "The request headers are too large."},
    {"ROUTE_NOT_FOUND", 404, "not_found", "No such route."},
    {"METHOD_NOT_ALLOWED", 405, "client_error", "This route does not accept that method."},
    {"CONNECTOR_NOT_FOUND", 404, "not_found", "No connector with that slug is installed."},
    {"CONNECTOR_NOT_CONFIGURED", 503, "server_error", "The connector is installed but not configured."},
    {"SOURCE_DEFINITION_NOT_FOUND", 404, "not_found", "Source definition not found."},
    {"WORKSPACE_NOT_FOUND", 404, "not_found", "Workspace not found."},
    {"CONNECTION_NOT_FOUND", 404, "not_found", "Connection not found."},
    {"SOURCE_NOT_FOUND", 404, "not_found", "Source not found."},
    {"CONNECTION_NOT_AUTHORIZED", 409, "conflict", "The user has not completed the authorization yet."},
    {"CONNECTION_ALREADY_USED", 409, "conflict", "This connection has already been used to create a source."},
    {"CONNECTION_FAILED", 409, "conflict", "The authorization failed; start a new one."},
    {"CONNECTION_EXPIRED", 410, "conflict", "The authorization expired; start a new one."},
    {"REDIRECT_URL_NOT_ALLOWED", 422, "validation_error", "The redirect_url is not on the allow-list."},
    {"OAUTH_STATE_INVALID", 400, "client_error", "The authorization response is unknown, used or expired."},
    {"CONNECTOR_OAUTH_FAILED", 502, "server_error", "OAuth authentication failed."},
    {"PROVIDER_UNAVAILABLE", 504, "server_error", "The provider did not answer in time."},
    {"CONFLICT", 409, "conflict", "The resource was changed or exists already."},
    {"WORKSPACE_NOT_EMPTY", 409, "conflict", "The workspace still holds sources; delete them or ask for cascade."},
    {"SOURCE_NEEDS_REAUTH", 409, "conflict", "The provider no longer accepts this source's grant; re-authorize it."},
    {"TOKEN_REFRESH_UNAVAILABLE", 503, "server_error", "The provider could not refresh the token; try again later."},
    {"OAUTH_CREDENTIALS_NOT_FOUND", 404, "not_found", "No OAuth credentials are set for that connector here."},
    {"AUTHORIZE_RATE_LIMITED", 429, "rate_limit_error",
     "This organization starts flows too fast; try again after the time in Retry-After."},
    {"TOO_MANY_PENDING_FLOWS", 429, "rate_limit_error",
     "This organization has too many flows waiting for their callback; try again after the time in Retry-After."},
    {"SERVICE_UNAVAILABLE", 503, "server_error", "The service is shutting down or not ready."},
    {"STORAGE_FULL", 503, "server_error", "The host's storage is full: nothing was saved. Try again later."},
    {"STORE_UNAVAILABLE", 503, "server_error", "The host's database cannot be reached just now. Try again shortly."},
    {"MALFORMED_REQUEST", 400, "client_error", "The request is not valid HTTP/1.1."},
    {"TOO_MANY_CONNECTIONS", 503, "server_error", "The host has too many open connections; try again later."},
    {"INTERNAL_ERROR", 500, "server_error", "An internal error occurred."},
};
static_assert(std::size(table) == static_cast<std::size_t>(ErrorCode::internal_error) + 1, "one entry per code");

} // namespace

const ErrorInfo& error_info(ErrorCode code) { return table[static_cast<std::size_t>(code)]; }

const ErrorInfo* all_errors(std::size_t& count) {
  count = std::size(table);
  return table;
}

nlohmann::json ApiError::envelope(const std::string& trace_id) const {
  const ErrorInfo& info = error_info(code);
  return {{"success", false},
          {"error",
           {{"code", info.code},
            {"message", message.empty() ? info.message : message},
            {"system_message", system_message.empty() ? nlohmann::json(nullptr) : nlohmann::json(system_message)},
            {"type", info.type},
            {"status", info.status},
            {"details", details.is_object() ? details : nlohmann::json::object()},
            {"trace_id", trace_id},
            {"timestamp", rfc3339_utc_now()}}}};
}

ApiError field_error(const std::string& field, const std::string& message) {
  return ApiError(ErrorCode::validation_error, {}, {}, {{"errors", {{{"field", field}, {"message", message}}}}});
}

} // namespace connector::core
