// The loaded plugins by slug. Loads every module file of a folder, refusing the bad ones
// with a reason (and loading the rest), and answers lookups from any thread.
#pragma once

#include "plugins/plugin_module.hpp"

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace connector::core {

struct PluginRefusal {
  std::filesystem::path file;
  std::string reason; // names the file and what is wrong with it
};

class PluginRegistry {
public:
  explicit PluginRegistry(PluginLogSink log_sink = nullptr) : log_sink_(log_sink) {}

  // Loads every plugin module (by this platform's suffix) in `folder`, in name order so that
  // a duplicate slug always loses to the same file. Returns the refusals of this scan.
  std::vector<PluginRefusal> load_directory(const std::filesystem::path& folder);
  // Loads one file; a refusal (also a duplicate slug) is recorded and returned.
  std::optional<PluginRefusal> load_file(const std::filesystem::path& file);

  std::shared_ptr<const PluginModule> find(const std::string& slug) const;
  // Finds the plugin that declares a source definition id.
  std::shared_ptr<const PluginModule> find_by_definition(const std::string& source_definition_id) const;
  std::vector<std::shared_ptr<const PluginModule>> plugins() const; // by slug
  std::vector<PluginRefusal> refusals() const;

  // The suffix of loadable modules here: ".so", ".dll", ".dylib".
  static std::string module_suffix();

private:
  PluginLogSink log_sink_;
  mutable std::mutex mutex_;
  std::map<std::string, std::shared_ptr<const PluginModule>> by_slug_;
  std::vector<PluginRefusal> refusals_;
};

} // namespace connector::core
