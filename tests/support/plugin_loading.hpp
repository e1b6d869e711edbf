// Loads a plugin built in this tree and configures a provider from it, for tests that drive
// plugins through the real C ABI exactly as the host does.
#pragma once

#include "plugins/loaded_plugin.hpp"
#include "support/provider_loading.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

namespace connector::testing {

// Where CMake put the in-tree plugins (CONNECTOR_TEST_PLUGIN_DIR) and the test plugins.
std::filesystem::path plugin_dir();
std::filesystem::path test_plugin_dir();
// The file name of a plugin module for `name` on this platform, e.g. "github.so".
std::string module_file_name(const std::string& name);

// Loads plugin `name` from plugin_dir(); fails the test if it is refused.
std::shared_ptr<core::LoadedPlugin> load_plugin(const std::string& name);

} // namespace connector::testing
