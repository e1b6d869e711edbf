#include "plugins/plugin_catalog.hpp"

#include "errors/error_code.hpp"
#include "logging/logger.hpp"
#include "oauth/flow_service.hpp"
#include "time/unix_time.hpp"

#include <cerrno>
#include <csignal>
#include <stdexcept>
#include <unistd.h>

namespace connector::host {

namespace {

std::string rfc3339(std::chrono::system_clock::time_point time) {
  return core::rfc3339_utc(std::chrono::duration_cast<std::chrono::seconds>(time.time_since_epoch()).count());
}

// Each process copies into its own folder (several hosts may share a data folder). Copies
// are removed once mapped, so what is left belongs to a process that died while loading.
std::filesystem::path own_shadow_dir(const std::filesystem::path& shadow_root) {
  std::error_code ignored;
  for (const auto& entry : std::filesystem::directory_iterator(shadow_root, ignored)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos || name.size() > 9) continue;
    if (::kill(static_cast<pid_t>(std::stol(name)), 0) != 0 && errno == ESRCH) {
      std::filesystem::remove_all(entry.path(), ignored);
    }
  }
  return shadow_root / std::to_string(::getpid());
}

} // namespace

PluginCatalog::PluginCatalog(PluginCatalogOptions options)
    : options_(std::move(options)),
      registry_(std::make_shared<core::PluginRegistry>(
          options_.log_sink, options_.shadow_dir.empty() ? options_.shadow_dir : own_shadow_dir(options_.shadow_dir))) {
  refusals_ = registry_->load_directory(options_.plugins_dir);
  for (const auto& refusal : refusals_)
    log(LogLevel::warning, "plugin refused", {{"reason", refusal.reason}});
  providers_ =
      std::make_shared<const core::ProviderDirectory>(*registry_, options_.provider_settings, options_.environment);
  // The README's promise: a *_FILE setting that cannot be read stops the start (a secret that
  // silently went missing would otherwise surface as a provider that refuses every flow).
  if (const auto& errors = providers_->setting_file_errors(); !errors.empty()) {
    std::string message;
    for (const auto& error : errors)
      message += (message.empty() ? "" : "; ") + error;
    throw std::runtime_error(message);
  }
  scanned_at_ = std::chrono::system_clock::now();
  scans_ = 1;
}

std::shared_ptr<const core::ProviderDirectory> PluginCatalog::providers() const {
  const std::lock_guard lock(mutex_);
  return providers_;
}

void PluginCatalog::attach(core::FlowService& flows) {
  const std::lock_guard lock(mutex_);
  flows_ = &flows;
}

void PluginCatalog::set_provider_settings(std::map<std::string, nlohmann::json> settings) {
  const std::lock_guard lock(mutex_);
  options_.provider_settings = std::move(settings);
}

void PluginCatalog::reload() {
  const std::lock_guard lock(mutex_);
  auto next = std::make_shared<core::PluginRegistry>(options_.log_sink, registry_->shadow_dir());
  auto refusals = next->reload_directory(options_.plugins_dir, *registry_);
  auto providers =
      std::make_shared<const core::ProviderDirectory>(*next, options_.provider_settings, options_.environment);
  log_changes(*registry_, *next, refusals);
  // A running host keeps running: the provider is not configured until the file is readable.
  for (const auto& error : providers->setting_file_errors())
    log(LogLevel::error, "provider setting file cannot be read", {{"error", error}});
  registry_ = std::move(next);
  providers_ = providers;
  refusals_ = std::move(refusals);
  scanned_at_ = std::chrono::system_clock::now();
  ++scans_;
  if (flows_ != nullptr) flows_->replace_providers(std::move(providers));
}

void PluginCatalog::log_changes(const core::PluginRegistry& before, const core::PluginRegistry& after,
                                const std::vector<core::PluginRefusal>& refusals) const {
  for (const auto& module : after.plugins()) {
    const auto& d = module->descriptor();
    const auto old = before.find(d.slug);
    if (old == module) continue;
    log(LogLevel::info, old ? "plugin replaced" : "plugin added",
        {{"slug", d.slug},
         {"version", d.version},
         {"build", module->build_id()},
         {"previous_version", old ? old->descriptor().version : ""},
         {"file", module->file().string()}});
  }
  for (const auto& module : before.plugins()) {
    if (!after.find(module->descriptor().slug)) {
      log(LogLevel::info, "plugin removed", {{"slug", module->descriptor().slug}, {"file", module->file().string()}});
    }
  }
  for (const auto& refusal : refusals)
    log(LogLevel::warning, "plugin refused", {{"reason", refusal.reason}});
}

nlohmann::json PluginCatalog::report() const {
  const std::lock_guard lock(mutex_);
  nlohmann::json plugins = nlohmann::json::array();
  for (const auto& [slug, provider] : providers_->all()) {
    const auto& module = *provider.module;
    const auto& d = module.descriptor();
    nlohmann::json definitions = nlohmann::json::array();
    for (const auto& definition : d.source_definitions)
      definitions.push_back({{"source_definition_id", definition.id}, {"name", definition.name}});
    plugins.push_back({{"slug", slug},
                       {"name", d.display_name},
                       {"version", d.version},
                       {"abi_version", std::to_string(module.abi_major()) + "." + std::to_string(module.abi_minor())},
                       {"file", std::filesystem::absolute(module.file()).string()},
                       {"build_id", module.build_id()},
                       {"loaded_at", rfc3339(module.loaded_at())},
                       {"configured", provider.instance != nullptr},
                       {"configuration_error", provider.configuration_error},
                       {"source_definitions", definitions}});
  }
  nlohmann::json refused = nlohmann::json::array();
  for (const auto& refusal : refusals_)
    refused.push_back({{"file", refusal.file.string()}, {"reason", refusal.reason}});
  return {{"plugins_dir", std::filesystem::absolute(options_.plugins_dir).string()},
          {"watch", to_string(watch_mode_)},
          {"scanned_at", rfc3339(scanned_at_)},
          {"scans", scans_},
          {"plugins", plugins},
          {"refusals", refused}};
}

} // namespace connector::host
