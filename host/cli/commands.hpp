// The subcommands of connector-host. Each returns the process exit code.
#pragma once

#include <string>
#include <vector>

namespace connector::host {

int run_serve(const std::vector<std::string>& args);
int run_keys(const std::vector<std::string>& args);
int run_redirects(const std::vector<std::string>& args);
int run_plugins(const std::vector<std::string>& args);
int run_providers(const std::vector<std::string>& args);
// `providers try SLUG`: a live consent against the real provider (providers_try.cpp).
int run_providers_try(const std::vector<std::string>& args);
inline constexpr const char* providers_usage =
    "usage: connector-host providers lint FILE\n"
    "       connector-host providers try SLUG [--listen 127.0.0.1:8976 | --redirect-uri URL] [--scopes \"A B\"]\n"
    "                                  [--options JSON] [--refresh] [--timeout SECONDS] [--plugins-dir DIR]\n"
    "                                  [--config FILE]";
int run_database(const std::vector<std::string>& args);
int run_encryption(const std::vector<std::string>& args);

// Where plugins are looked for when nothing says otherwise: beside the installed binary
// (../lib/connector-host/plugins), else the build tree's folder.
std::string default_plugins_dir();

} // namespace connector::host
