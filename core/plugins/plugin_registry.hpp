// The loaded plugins by slug. Loads every module file of a folder, refusing the bad ones
// with a reason (and loading the rest), and answers lookups from any thread.
#pragma once

#include "plugins/loaded_plugin.hpp"

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace connector::core {

struct PluginRefusal {
  std::filesystem::path file;
  std::string reason; // names the file and what is wrong with it
};

class PluginRegistry {
public:
  // With a `shadow_dir`, modules are loaded from fresh copies there (see LoadedPlugin::load),
  // so that a replaced file really loads its new code.
  explicit PluginRegistry(PluginLogSink log_sink = nullptr, std::filesystem::path shadow_dir = {},
                          PluginTrust trust = PluginTrust::of_this_process())
      : log_sink_(log_sink), shadow_dir_(std::move(shadow_dir)), trust_(trust) {}

  // Loads every plugin module (by this platform's suffix) in `folder`, in name order so that
  // a duplicate slug always loses to the same file. Returns the refusals of this scan. A
  // folder that a user other than the host's or root can write is one refusal, and nothing
  // in it is loaded.
  std::vector<PluginRefusal> load_directory(const std::filesystem::path& folder);
  // Loads one file; a refusal (also a duplicate slug) is recorded and returned.
  std::optional<PluginRefusal> load_file(const std::filesystem::path& file);

  // Loads `folder` again for a running host, into this (empty) registry. A file unchanged
  // since `previous` loaded it keeps that module; new and changed files are loaded. A slug
  // already served keeps its file, so a newcomer with the same slug is the duplicate. A
  // changed file that fails to load is reported and its previous build keeps serving; so
  // does every module when the folder itself cannot be read or trusted any more.
  std::vector<PluginRefusal> reload_directory(const std::filesystem::path& folder, const PluginRegistry& previous);

  std::shared_ptr<const LoadedPlugin> find(const std::string& slug) const;
  // Finds the plugin that declares a source definition id.
  std::shared_ptr<const LoadedPlugin> find_by_definition(const std::string& source_definition_id) const;
  std::vector<std::shared_ptr<const LoadedPlugin>> plugins() const; // by slug
  std::vector<PluginRefusal> refusals() const;

  const std::filesystem::path& shadow_dir() const { return shadow_dir_; }

  // The suffix of loadable modules here: ".so", ".dll", ".dylib". Definitions end in ".json".
  static std::string module_suffix();

private:
  std::vector<std::filesystem::path> module_files(const std::filesystem::path& folder,
                                                  std::optional<PluginRefusal>& unreadable) const;
  // Adds a module already loaded (by `previous`) unless its slug is taken.
  bool adopt(const std::shared_ptr<const LoadedPlugin>& module);

  PluginLogSink log_sink_;
  std::filesystem::path shadow_dir_;
  PluginTrust trust_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const LoadedPlugin>> by_slug_;
  std::vector<PluginRefusal> refusals_;
};

} // namespace connector::core
