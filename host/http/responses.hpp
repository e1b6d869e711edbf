// Building answers: JSON bodies, the error envelope, redirects and the plain error page.
// Every answer carries X-Request-Id (the trace id) and no-store caching.
#pragma once

#include "errors/error_code.hpp"
#include "http/http_types.hpp"

#include <nlohmann/json.hpp>

#include <initializer_list>
#include <string_view>
#include <utility>

namespace connector::host {

Response json_response(const RequestContext& context, http::status status, const nlohmann::json& body);
// A JSON object of string members, in the order given. Written directly when every name and
// value is printable ASCII with nothing to escape, otherwise through nlohmann: its dump()
// decodes every byte as UTF-8 on the way out, which made serialising authorize's answer the
// largest single cost of that request (bench/README.md has the measurement).
Response json_strings_response(const RequestContext& context, http::status status,
                               std::initializer_list<std::pair<std::string_view, std::string_view>> members);
Response error_response(const RequestContext& context, const core::ApiError& error);
Response redirect_response(const RequestContext& context, const std::string& location);
// A small HTML page for a browser we must not redirect anywhere.
Response page_response(const RequestContext& context, int status, const std::string& message);
Response empty_response(const RequestContext& context, http::status status);

// An error answer outside any route (parse errors, limits): needs only the trace id.
Response bare_error_response(unsigned version, const std::string& trace_id, const core::ApiError& error);

} // namespace connector::host
