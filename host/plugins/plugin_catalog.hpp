// The plugins the running host serves, and how they change: the first load at start, and a
// reload whenever the watcher sees the folder change. A reload keeps unchanged modules,
// loads new and replaced files from fresh copies (so a new build is really new code), and
// swaps the provider directory the flows use; flows in progress keep their build (see
// FlowService::replace_providers). Also the administrative view of all this.
#pragma once

#include "oauth/provider_directory.hpp"
#include "plugins/plugin_registry.hpp"
#include "plugins/plugin_watcher.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace connector::core {
class FlowService;
}

namespace connector::host {

struct PluginCatalogOptions {
  std::filesystem::path plugins_dir;
  std::filesystem::path shadow_dir; // where modules are copied to be loaded
  std::map<std::string, nlohmann::json> provider_settings;
  core::EnvironmentLookup environment;
  core::PluginLogSink log_sink = nullptr;
};

class PluginCatalog {
public:
  explicit PluginCatalog(PluginCatalogOptions options);

  // The providers as first loaded (before any flow service exists).
  std::shared_ptr<const core::ProviderDirectory> providers() const;
  // Where reloads go from now on.
  void attach(core::FlowService& flows);

  // Loads the folder again and swaps the providers; logs what changed. Thread-safe.
  void reload();
  // The operator's provider settings for the next reload (SIGHUP).
  void set_provider_settings(std::map<std::string, nlohmann::json> settings);

  void set_watch_mode(WatchMode mode) { watch_mode_ = mode; }
  // For GET /v1/admin/plugins: each plugin (version, ABI, file, build, load time, whether it
  // is configured) and each refusal with its reason.
  nlohmann::json report() const;

private:
  void log_changes(const core::PluginRegistry& before, const core::PluginRegistry& after,
                   const std::vector<core::PluginRefusal>& refusals) const;

  PluginCatalogOptions options_;
  mutable std::mutex mutex_;
  std::shared_ptr<core::PluginRegistry> registry_;
  std::shared_ptr<const core::ProviderDirectory> providers_;
  std::vector<core::PluginRefusal> refusals_;
  std::chrono::system_clock::time_point scanned_at_;
  int64_t scans_ = 0;
  core::FlowService* flows_ = nullptr;
  WatchMode watch_mode_ = WatchMode::off;
};

} // namespace connector::host
