// One plugin as the host serves it: a module (plugin_module.hpp) or a declarative definition,
// after the host's checks of its file, with its descriptor read and checked. Held by
// shared_ptr; every ProviderInstance made from it holds its module, so the code is never
// unmapped while something it made is alive.
#pragma once

#include "plugins/declarative_definitions.hpp"
#include "plugins/plugin_descriptor.hpp"
#include "plugins/plugin_file_check.hpp"
#include "plugins/plugin_module.hpp"
#include "plugins/provider_types.hpp"

#include <connector/abi.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

namespace connector::core {

class LoadedPlugin {
public:
  struct LoadOutcome {
    std::shared_ptr<LoadedPlugin> module; // null when refused
    std::string refusal;                  // why, naming the file
  };

  // Checks, loads and negotiates; never throws. A refusal names the file and the reason.
  // Before the dynamic loader sees the file (and runs its constructors), it is refused when
  // a user other than the host's or root can write it or its folder, when it is a symbolic
  // link out of its folder, or when its bytes are not an ELF shared library for this machine
  // exporting connector_plugin_negotiate (plugin_file_check.hpp).
  //
  // A `*.json` file is a declarative definition (declarative_definitions.hpp): the same file
  // checks, then the SDK's parser instead of the dynamic loader; a broken one is refused with
  // the JSON path and the rule it breaks.
  //
  // With a `shadow_dir`, the bytes are first copied there under a name never used before and
  // loaded from the copy (removed again once mapped). The dynamic loader caches libraries by
  // path, so loading a replaced file from its own path could silently give the old code;
  // a fresh copy always gives the bytes on disk now.
  static LoadOutcome load(const std::filesystem::path& file, PluginLogSink log_sink = nullptr,
                          const std::filesystem::path& shadow_dir = {},
                          const PluginTrust& trust = PluginTrust::of_this_process());

  ~LoadedPlugin();
  LoadedPlugin(const LoadedPlugin&) = delete;
  LoadedPlugin& operator=(const LoadedPlugin&) = delete;

  const std::filesystem::path& file() const { return file_; }
  const PluginDescriptor& descriptor() const { return descriptor_; }
  uint16_t abi_major() const { return module_->table().abi_major; }
  uint16_t abi_minor() const { return module_->table().abi_minor; }
  std::chrono::system_clock::time_point loaded_at() const { return loaded_at_; }
  // The SHA-256 (hex, first 32 characters) of the bytes loaded: which build this is.
  const std::string& build_id() const { return build_id_; }
  // The file as it was when its bytes were read for loading.
  const std::optional<FileSignature>& signature() const { return signature_; }

  using CreateOutcome = PluginModule::CreateOutcome;
  // Configures a provider instance from settings (a JSON object): the operator's, or those
  // with an organization's OAuth app over them. Settings the plugin's settings schema refuses
  // never reach the plugin: the outcome is INVALID_INPUT, naming each setting and what is wrong
  // (never its value).
  CreateOutcome create_provider(const std::string& settings_json) const;

  const connector_plugin_api& table() const { return module_->table(); }
  // Whether this is a declarative definition rather than a module.
  bool is_definition() const { return definition_ != nullptr; }

  // The suffix of declarative definition files.
  static constexpr const char* definition_suffix = ".json";

private:
  LoadedPlugin() = default;
  static LoadOutcome load_checked(const std::filesystem::path& file, PluginLogSink log_sink,
                                  const std::filesystem::path& shadow_dir, const PluginTrust& trust);
  static LoadOutcome load_definition(const std::filesystem::path& file, const PluginFileBytes& read);
  // Reads the descriptor describe() wrote (or a definition made); a refusal says why.
  std::optional<std::string> take_descriptor(const std::string& descriptor_json);

  std::filesystem::path file_;
  std::shared_ptr<PluginModule> module_;
  PluginDescriptor descriptor_;
  std::chrono::system_clock::time_point loaded_at_;
  std::string build_id_;
  std::optional<FileSignature> signature_;
  std::shared_ptr<const DeclarativeDefinition> definition_; // null for a module
};

} // namespace connector::core
