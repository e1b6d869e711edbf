// Configures a provider from an in-tree plugin, for the plugins' own suites: they drive plugins
// through the real C ABI exactly as the host does, and hold on both systems. On Linux this goes
// through the host's whole loader (plugin_loading.cpp: file checks, descriptor, settings schema);
// in the Windows cross-build, which has the host's plugin binding alone, through that binding
// (tests/windows/provider_loading_by_binding.cpp).
#pragma once

#include "plugins/plugin_module.hpp"

#include <memory>
#include <string>

namespace connector::testing {

// Loads plugin `name` and creates a provider with `settings_json`; fails the test if either
// step fails.
std::shared_ptr<const core::ProviderInstance> make_provider(const std::string& name, const std::string& settings_json);

} // namespace connector::testing
