#include "support/plugin_loading.hpp"

#include "plugins/plugin_registry.hpp"

namespace connector::testing {

std::filesystem::path plugin_dir() { return CONNECTOR_TEST_PLUGIN_DIR; }
std::filesystem::path test_plugin_dir() { return CONNECTOR_TEST_BAD_PLUGIN_DIR; }

std::string module_file_name(const std::string& name) { return name + core::PluginRegistry::module_suffix(); }

std::shared_ptr<core::LoadedPlugin> load_plugin(const std::string& name) {
  auto outcome = core::LoadedPlugin::load(plugin_dir() / module_file_name(name));
  EXPECT_TRUE(outcome.module) << outcome.refusal;
  return outcome.module;
}

std::shared_ptr<const core::ProviderInstance> make_provider(const std::string& name, const std::string& settings_json) {
  const auto module = load_plugin(name);
  if (!module) return nullptr;
  auto created = module->create_provider(settings_json);
  EXPECT_TRUE(created.instance) << core::status_name(created.result.status) << ": " << created.result.error_description;
  return created.instance;
}

} // namespace connector::testing
