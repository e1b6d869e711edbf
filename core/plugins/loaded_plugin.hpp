// One loaded plugin library: opened with Boost.DLL, ABI negotiated, descriptor read and
// checked. Held by shared_ptr; every ProviderInstance made from it holds that pointer too,
// so the code is never unmapped while something it made is alive.
#pragma once

#include "plugins/declarative_definitions.hpp"
#include "plugins/plugin_descriptor.hpp"
#include "plugins/plugin_file_check.hpp"
#include "plugins/provider_types.hpp"

#include <connector/abi.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace connector::core {

class ProviderInstance;

// Receives the plugin's log lines (never secrets, by the ABI's rule).
using PluginLogSink = void (*)(std::string_view plugin_file, int32_t level, std::string_view message);

class LoadedPlugin : public std::enable_shared_from_this<LoadedPlugin> {
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
  uint16_t abi_major() const { return table_.abi_major; }
  uint16_t abi_minor() const { return table_.abi_minor; }
  std::chrono::system_clock::time_point loaded_at() const { return loaded_at_; }
  // The SHA-256 (hex, first 32 characters) of the bytes loaded: which build this is.
  const std::string& build_id() const { return build_id_; }
  // The file as it was when its bytes were read for loading.
  const std::optional<FileSignature>& signature() const { return signature_; }

  struct CreateOutcome {
    std::shared_ptr<const ProviderInstance> instance; // null on failure
    OperationResult result;                           // status and error fields
  };
  // Configures a provider instance from settings (a JSON object): the operator's, or those
  // with an organization's OAuth app over them. Settings the plugin's settings schema refuses
  // never reach the plugin: the outcome is INVALID_INPUT, naming each setting and what is wrong
  // (never its value).
  CreateOutcome create_provider(const std::string& settings_json) const;

  const connector_plugin_api& table() const { return table_; }
  // Whether this is a declarative definition rather than a module.
  bool is_definition() const { return definition_ != nullptr; }

  // The suffix of declarative definition files.
  static constexpr const char* definition_suffix = ".json";

private:
  struct Library; // hides Boost.DLL from every includer
  LoadedPlugin() = default;
  static LoadOutcome load_checked(const std::filesystem::path& file, PluginLogSink log_sink,
                                  const std::filesystem::path& shadow_dir, const PluginTrust& trust);
  static LoadOutcome load_definition(const std::filesystem::path& file, const PluginFileBytes& read);
  // Reads the descriptor describe() wrote (or a definition made); a refusal says why.
  std::optional<std::string> take_descriptor(const std::string& descriptor_json);

  std::filesystem::path file_;
  std::unique_ptr<Library> library_;
  connector_host_api host_table_{};
  connector_plugin_api table_{};
  PluginDescriptor descriptor_;
  std::chrono::system_clock::time_point loaded_at_;
  std::string build_id_;
  std::optional<FileSignature> signature_;
  PluginLogSink log_sink_ = nullptr;
  std::shared_ptr<const DeclarativeDefinition> definition_; // null for a module

  static void log_thunk(void* context, int32_t level, connector_str message);
};

// A configured provider: calls through the plugin's table, copying every output into host
// memory before the call returns.
class ProviderInstance {
public:
  ProviderInstance(std::shared_ptr<const LoadedPlugin> module, connector_provider* handle,
                   std::vector<std::string> allowed_hosts, std::string issuer);
  ~ProviderInstance();
  ProviderInstance(const ProviderInstance&) = delete;
  ProviderInstance& operator=(const ProviderInstance&) = delete;

  const LoadedPlugin& module() const { return *module_; }
  const std::vector<std::string>& allowed_hosts() const { return allowed_hosts_; }
  const std::string& issuer() const { return issuer_; }

  OperationResult authorization_url(const FlowParams& params) const;
  // One step of a network operation; `answer` is null on the first step.
  OperationResult step(Operation operation, const FlowParams& params, const ProviderAnswer* answer) const;

private:
  std::shared_ptr<const LoadedPlugin> module_;
  connector_provider* handle_;
  std::vector<std::string> allowed_hosts_;
  std::string issuer_;
};

} // namespace connector::core
