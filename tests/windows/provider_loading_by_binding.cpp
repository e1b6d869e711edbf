// make_provider() for the plugins' suites in the Windows cross-build: the in-tree .dll bound
// by the host's plugin binding (LoadLibrary under Boost.DLL), without the host's Linux-only file
// checks and settings schema, which the Linux build of the same suites goes through.
#include "support/provider_loading.hpp"

#include <gtest/gtest.h>

#include <filesystem>

namespace connector::testing {

std::shared_ptr<const core::ProviderInstance> make_provider(const std::string& name, const std::string& settings_json) {
  const std::filesystem::path file =
      std::filesystem::path(CONNECTOR_TEST_PLUGIN_DIR) / (name + CONNECTOR_TEST_MODULE_SUFFIX);
  const auto bound = core::PluginModule::bind(file, name, nullptr);
  EXPECT_TRUE(bound.module) << file.string() << ": " << bound.refusal;
  if (!bound.module) return nullptr;
  auto created = bound.module->create_provider(settings_json);
  EXPECT_TRUE(created.instance) << core::status_name(created.result.status) << ": " << created.result.error_description;
  return created.instance;
}

} // namespace connector::testing
