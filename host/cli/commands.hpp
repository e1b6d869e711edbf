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
int run_database(const std::vector<std::string>& args);
int run_encryption(const std::vector<std::string>& args);

// Where plugins are looked for when nothing says otherwise: beside the installed binary
// (../lib/connector-host/plugins), else the build tree's folder.
std::string default_plugins_dir();

} // namespace connector::host
