// Reading the running host's administrative views from the command line.
#pragma once

#include <nlohmann/json.hpp>

#include <ostream>
#include <string>

namespace connector::host {

// GET `path` from the host at `base_url` (http://HOST:PORT) with an API key; throws
// std::runtime_error with the host's error code and message on anything but 200.
nlohmann::json fetch_admin_json(const std::string& base_url, const std::string& path, const std::string& key);

// The plugin report of GET /v1/admin/plugins as a table.
void print_plugin_report(const nlohmann::json& report, std::ostream& out);

} // namespace connector::host
