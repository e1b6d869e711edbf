// The one table of error codes the API answers with. Every failure anywhere on the request
// path ends as one of these, rendered as the documented envelope
// {"success": false, "error": {code, message, system_message, type, status, details,
// trace_id, timestamp}}.
#pragma once

#include <nlohmann/json.hpp>

#include <string>

namespace connector::core {

enum class ErrorCode {
  authentication_required,
  invalid_api_key,
  organization_access_denied,
  insufficient_permissions,
  invalid_request_body,
  validation_error,
  unsupported_media_type,
  payload_too_large,
  headers_too_large,
  route_not_found,
  method_not_allowed,
  connector_not_found,
  connector_not_configured,
  source_definition_not_found,
  workspace_not_found,
  connection_not_found,
  source_not_found,
  connection_not_authorized,
  connection_already_used,
  connection_failed,
  connection_expired,
  redirect_url_not_allowed,
  oauth_state_invalid,
  connector_oauth_failed,
  provider_unavailable,
  conflict,
  workspace_not_empty,
  source_needs_reauth,
  token_refresh_unavailable,
  oauth_credentials_not_found,
  authorize_rate_limited,
  too_many_pending_flows,
  service_unavailable,
  storage_full,
  store_unavailable,
  malformed_request,
  too_many_connections,
  internal_error, // last: the table's size follows from it
};

struct ErrorInfo {
  const char* code;    // "VALIDATION_ERROR"
  int status;          // HTTP status
  const char* type;    // "validation_error", "authentication_error", ...
  const char* message; // what a user reads when nothing more precise is said
};

const ErrorInfo& error_info(ErrorCode code);

// A failure on its way to the client. `system_message` is for operators (still never a
// secret); `details` is a JSON object with machine-readable specifics.
struct ApiError {
  ErrorCode code = ErrorCode::internal_error;
  std::string message;        // empty: the table's default
  std::string system_message; // empty: none
  nlohmann::json details = nlohmann::json::object();

  ApiError() = default;
  ApiError(ErrorCode c, std::string m = {}, std::string system = {}, nlohmann::json d = nlohmann::json::object())
      : code(c), message(std::move(m)), system_message(std::move(system)), details(std::move(d)) {}

  int status() const { return error_info(code).status; }
  // The envelope, with a trace id and an RFC 3339 UTC timestamp.
  nlohmann::json envelope(const std::string& trace_id) const;
};

// VALIDATION_ERROR naming one field of a request body, in the shape of a body's problems:
// details {"errors": [{"field", "message"}]}.
ApiError field_error(const std::string& field, const std::string& message);

// Every entry of the table, for the OpenAPI document and tests.
const ErrorInfo* all_errors(std::size_t& count);

} // namespace connector::core
