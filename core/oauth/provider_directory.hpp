// The configured providers: for every loaded plugin, its instance built from the operator's
// settings (configuration file, then CONNECTOR_<SLUG>_<SETTING> environment overrides), or
// the reason it could not be built. Immutable once built; rebuilt on reload.
#pragma once

#include "plugins/plugin_registry.hpp"

#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace connector::core {

struct ConfiguredProvider {
  std::shared_ptr<const LoadedPlugin> module;
  std::shared_ptr<const ProviderInstance> instance; // null: not configured
  std::string configuration_error;                  // why instance is null (never a secret)
  nlohmann::json settings;                          // the operator's merged settings (secrets included)
};

// Reads an environment variable; returns nullopt when unset.
using EnvironmentLookup = std::function<std::optional<std::string>(const std::string& name)>;
EnvironmentLookup process_environment();

// The value a NAME_FILE variable points at, without trailing line ends (as secrets mounted by
// container platforms end); nullopt when the file cannot be read (not there, not permitted, a
// folder, larger than any setting), with the reason in `why` (never the content).
std::optional<std::string> read_setting_file(const std::string& path, std::string& why);
std::optional<std::string> read_setting_file(const std::string& path);

// A NAME_FILE provider setting whose file cannot be read: names the variable and the file.
struct SettingFileError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// "google-sheets" + "client_id" -> "CONNECTOR_GOOGLE_SHEETS_CLIENT_ID".
std::string provider_environment_name(const std::string& slug, const std::string& setting);

// Merges environment overrides for every property the plugin's settings schema names into
// `settings`, coercing text to the schema's type (arrays split on commas or spaces,
// booleans, integers). A variable NAME_FILE names a file to read NAME's value from; throws
// SettingFileError when that file cannot be read.
nlohmann::json merge_environment_settings(const std::string& slug, nlohmann::json settings,
                                          const nlohmann::json& settings_schema, const EnvironmentLookup& env);

class ProviderDirectory {
public:
  ProviderDirectory(const PluginRegistry& registry, const std::map<std::string, nlohmann::json>& settings_by_slug,
                    const EnvironmentLookup& env);

  // nullopt: no plugin with this slug.
  std::optional<ConfiguredProvider> find(const std::string& slug) const;
  std::optional<ConfiguredProvider> find_by_definition(const std::string& source_definition_id) const;
  const std::map<std::string, ConfiguredProvider>& all() const { return by_slug_; }
  // Every *_FILE setting that could not be read (its provider is then not configured, with the
  // same text as its configuration_error). The host refuses to start with any.
  const std::vector<std::string>& setting_file_errors() const { return setting_file_errors_; }

private:
  std::map<std::string, ConfiguredProvider> by_slug_;
  std::vector<std::string> setting_file_errors_;
};

} // namespace connector::core
