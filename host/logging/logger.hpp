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
void log(LogLevel level, std::string_view message, nlohmann::json fields = nlohmann::json::object());

} // namespace connector::host
