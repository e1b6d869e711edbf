// Structured logs: one JSON object a line on standard error, with level, time and message
// and whatever fields the caller adds. Fields are JSON values built by the caller from
// non-secret data; tokens and keys never reach a log call (they are not in the types the
// request path logs: routes, statuses, ids, codes).
#pragma once

#include <nlohmann/json.hpp>

#include <string_view>

namespace connector::host {

enum class LogLevel { debug, info, warning, error };

void set_minimum_log_level(LogLevel level);
// Whether a line at `level` would be written: callers on the request path check it before
// building the fields of a line that would be dropped.
bool log_enabled(LogLevel level);
void log(LogLevel level, std::string_view message, nlohmann::json fields = nlohmann::json::object());

} // namespace connector::host
