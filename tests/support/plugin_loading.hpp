// Loads a plugin built in this tree through the host's whole loader (LoadedPlugin: file checks,
// descriptor, settings schema), for the Linux tests of what the host does with a plugin;
// make_provider() (provider_loading.hpp) is implemented here with it.
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
