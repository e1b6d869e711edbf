#include "plugins/plugin_registry.hpp"

#include <algorithm>
#include <system_error>

namespace connector::core {

std::string PluginRegistry::module_suffix() {
#if defined(_WIN32)
  return ".dll";
#elif defined(__APPLE__)
  return ".dylib";
#else
  return ".so";
#endif
}

std::vector<std::filesystem::path> PluginRegistry::module_files(const std::filesystem::path& folder,
                                                                std::optional<PluginRefusal>& unreadable) const {
  if (const auto problem = plugins_folder_problem(folder, trust_)) {
    unreadable = PluginRefusal{folder, folder.string() + ": " + *problem};
    return {};
  }
  std::error_code error;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(folder, error)) {
    std::error_code entry_error;
    // Links too: LoadedPlugin::load refuses, with a reason, one that leads out of the folder.
    const auto type = entry.symlink_status(entry_error).type();
    if ((type == std::filesystem::file_type::regular || type == std::filesystem::file_type::symlink) &&
        (entry.path().extension() == module_suffix() || entry.path().extension() == LoadedPlugin::definition_suffix)) {
      files.push_back(entry.path());
    }
  }
  if (error) {
    unreadable = PluginRefusal{folder, folder.string() + ": cannot read the plugins folder (" + error.message() + ")"};
    return {};
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<PluginRefusal> PluginRegistry::load_directory(const std::filesystem::path& folder) {
  std::optional<PluginRefusal> unreadable;
  const auto files = module_files(folder, unreadable);
  if (unreadable) {
    std::lock_guard lock(mutex_);
    refusals_.push_back(*unreadable);
    return {*unreadable};
  }
  std::vector<PluginRefusal> refused;
  for (const auto& file : files) {
    if (auto refusal = load_file(file)) refused.push_back(std::move(*refusal));
  }
  return refused;
}

bool PluginRegistry::adopt(const std::shared_ptr<const LoadedPlugin>& module) {
  std::lock_guard lock(mutex_);
  return by_slug_.emplace(module->descriptor().slug, module).second;
}

std::vector<PluginRefusal> PluginRegistry::reload_directory(const std::filesystem::path& folder,
                                                            const PluginRegistry& previous) {
  std::optional<PluginRefusal> unreadable;
  const auto files = module_files(folder, unreadable);
  if (unreadable) {
    // Nothing new is loaded from a folder that cannot be read or trusted any more; what was
    // loaded from it before is code already in memory, and keeps serving until it is fixed.
    for (const auto& module : previous.plugins())
      adopt(module);
    if (!previous.plugins().empty()) unreadable->reason += "; the plugins loaded before keep serving";
    std::lock_guard lock(mutex_);
    refusals_.push_back(*unreadable);
    return {*unreadable};
  }
  std::map<std::filesystem::path, std::shared_ptr<const LoadedPlugin>> previous_by_file;
  for (const auto& module : previous.plugins())
    previous_by_file.emplace(module->file(), module);

  // Unchanged files first, so a slug stays with the file that already serves it.
  std::vector<std::filesystem::path> changed;
  for (const auto& file : files) {
    const auto known = previous_by_file.find(file);
    if (known != previous_by_file.end() && known->second->signature() &&
        known->second->signature() == file_signature(file) && adopt(known->second)) {
      continue;
    }
    changed.push_back(file);
  }
  std::vector<PluginRefusal> refused;
  for (const auto& file : changed) {
    auto refusal = load_file(file);
    if (!refusal) continue;
    const auto known = previous_by_file.find(file);
    if (known != previous_by_file.end() && adopt(known->second)) {
      refusal->reason += "; the previous build (" + known->second->descriptor().version + ") keeps serving";
      std::lock_guard lock(mutex_);
      refusals_.back().reason = refusal->reason;
    }
    refused.push_back(std::move(*refusal));
  }
  return refused;
}

std::optional<PluginRefusal> PluginRegistry::load_file(const std::filesystem::path& file) {
  auto outcome = LoadedPlugin::load(file, log_sink_, shadow_dir_, trust_);
  std::lock_guard lock(mutex_);
  if (!outcome.module) {
    refusals_.push_back({file, outcome.refusal});
    return refusals_.back();
  }
  const std::string& slug = outcome.module->descriptor().slug;
  if (const auto existing = by_slug_.find(slug); existing != by_slug_.end()) {
    refusals_.push_back({file, file.string() + ": duplicate slug \"" + slug + "\", already served by " +
                                   existing->second->file().string()});
    return refusals_.back();
  }
  for (const auto& [other_slug, other] : by_slug_) {
    for (const auto& mine : outcome.module->descriptor().source_definitions) {
      for (const auto& theirs : other->descriptor().source_definitions) {
        if (mine.id == theirs.id) {
          refusals_.push_back({file, file.string() + ": source definition id " + mine.id + " is already declared by " +
                                         other->file().string()});
          return refusals_.back();
        }
      }
    }
  }
  by_slug_.emplace(slug, std::move(outcome.module));
  return std::nullopt;
}

std::shared_ptr<const LoadedPlugin> PluginRegistry::find(const std::string& slug) const {
  std::lock_guard lock(mutex_);
  const auto it = by_slug_.find(slug);
  return it == by_slug_.end() ? nullptr : it->second;
}

std::shared_ptr<const LoadedPlugin> PluginRegistry::find_by_definition(const std::string& source_definition_id) const {
  std::lock_guard lock(mutex_);
  for (const auto& [slug, module] : by_slug_) {
    for (const auto& definition : module->descriptor().source_definitions) {
      if (definition.id == source_definition_id) return module;
    }
  }
  return nullptr;
}

std::vector<std::shared_ptr<const LoadedPlugin>> PluginRegistry::plugins() const {
  std::lock_guard lock(mutex_);
  std::vector<std::shared_ptr<const LoadedPlugin>> out;
  for (const auto& [slug, module] : by_slug_)
    out.push_back(module);
  return out;
}

std::vector<PluginRefusal> PluginRegistry::refusals() const {
  std::lock_guard lock(mutex_);
  return refusals_;
}

} // namespace connector::core
