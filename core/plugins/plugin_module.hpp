// A plugin module bound through the C ABI: the library opened with Boost.DLL, the ABI
// negotiated, its table checked, describe() called; and the providers made from it, whose every
// output is copied into host memory before the call returns.
//
// This is the part of the loader that needs no operating system of its own: Boost.DLL (header
// only), the SDK's abi.h and the standard library. It builds wherever a plugin does, so the
// Windows cross-build compiles it and runs its tests against .dll modules under Wine
// (tests/windows). What the host decides around a module (which files may load at all, the
// descriptor, settings schemas) is LoadedPlugin's.
#pragma once

#include "plugins/provider_types.hpp"

#include <connector/abi.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace connector::core {

class ProviderInstance;

// Receives a plugin's log lines (never secrets, by the ABI's rule) with the module's name.
using PluginLogSink = void (*)(std::string_view plugin_file, int32_t level, std::string_view message);

class PluginModule : public std::enable_shared_from_this<PluginModule> {
public:
  struct BindOutcome {
    std::shared_ptr<PluginModule> module; // null when refused
    std::string refusal;                  // why, without the file's name
    std::string descriptor_json;          // what describe() wrote
  };
  // Opens `load_path` with the system's dynamic loader, symbols resolved now and kept local,
  // and negotiates. Refused: a file the loader cannot open, one without
  // connector_plugin_negotiate, a plugin that declines, another ABI major version, a table
  // outside [ABI 1.0's size, this host's], a table without a required entry, a failed
  // describe(). Never throws. `log_name` names the module in its log lines.
  static BindOutcome bind(const std::filesystem::path& load_path, std::string log_name, PluginLogSink log_sink);

  // provider_create of code the host itself carries (the declarative engine).
  using ProviderFactory =
      std::function<connector_status(connector_str settings_json, connector_provider** out, const connector_writer*)>;
  // A module of the host's own code: `table` without describe and provider_create, `create` instead.
  static std::shared_ptr<PluginModule> in_process(const connector_plugin_api& table, ProviderFactory create);

  ~PluginModule();
  PluginModule(const PluginModule&) = delete;
  PluginModule& operator=(const PluginModule&) = delete;

  const connector_plugin_api& table() const { return table_; }

  struct CreateOutcome {
    std::shared_ptr<const ProviderInstance> instance; // null on failure
    OperationResult result;                           // status and error fields
  };
  // Configures a provider instance from settings (JSON text), as the plugin decides.
  CreateOutcome create_provider(const std::string& settings_json) const;

private:
  struct Library; // hides Boost.DLL from every includer
  PluginModule();

  std::unique_ptr<Library> library_; // null for in-process code
  connector_host_api host_table_{};  // the plugin may keep its address: it lives as long as the module
  connector_plugin_api table_{};
  ProviderFactory create_;
  std::string log_name_;
  PluginLogSink log_sink_ = nullptr;

  static void log_thunk(void* context, int32_t level, connector_str message);
};

// A configured provider. It holds its module, so the code is never unmapped while it lives.
class ProviderInstance {
public:
  ProviderInstance(std::shared_ptr<const PluginModule> module, connector_provider* handle,
                   std::vector<std::string> allowed_hosts, std::string issuer);
  ~ProviderInstance();
  ProviderInstance(const ProviderInstance&) = delete;
  ProviderInstance& operator=(const ProviderInstance&) = delete;

  const std::vector<std::string>& allowed_hosts() const { return allowed_hosts_; }
  const std::string& issuer() const { return issuer_; }

  OperationResult authorization_url(const FlowParams& params) const;
  // One step of a network operation; `answer` is null on the first step.
  OperationResult step(Operation operation, const FlowParams& params, const ProviderAnswer* answer) const;

private:
  std::shared_ptr<const PluginModule> module_;
  connector_provider* handle_;
  std::vector<std::string> allowed_hosts_;
  std::string issuer_;
};

} // namespace connector::core
