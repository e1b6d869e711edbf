#include "plugins/loaded_plugin.hpp"

#include "crypto/digest.hpp"
#include "json/schema_validator.hpp"

#include <nlohmann/json.hpp>

#include <unistd.h>

#include <atomic>
#include <fstream>
#include <system_error>
#include <utility>

namespace connector::core {

namespace {

// Writes `bytes` to a fresh name in `folder`; empty path on failure.
std::filesystem::path write_shadow_copy(const std::filesystem::path& folder, const std::filesystem::path& original,
                                        const std::string& bytes) {
  static std::atomic<uint64_t> counter{0};
  std::error_code error;
  std::filesystem::create_directories(folder, error);
  std::filesystem::path copy = folder / (original.stem().string() + "." + std::to_string(::getpid()) + "." +
                                         std::to_string(counter.fetch_add(1)) + original.extension().string());
  std::ofstream out(copy, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) {
    std::filesystem::remove(copy, error);
    return {};
  }
  return copy;
}

} // namespace

LoadedPlugin::LoadOutcome LoadedPlugin::load(const std::filesystem::path& file, PluginLogSink log_sink,
                                             const std::filesystem::path& shadow_dir, const PluginTrust& trust) {
  const auto refuse = [&file](const std::string& reason) {
    return LoadOutcome{nullptr, file.string() + ": " + reason};
  };
  try {
    return load_checked(file, log_sink, shadow_dir, trust);
  } catch (const std::exception& error) { // one bad file never stops a scan
    return refuse(std::string("refused (") + error.what() + ")");
  } catch (...) {
    return refuse("refused (an unknown exception while loading)");
  }
}

LoadedPlugin::LoadOutcome LoadedPlugin::load_checked(const std::filesystem::path& file, PluginLogSink log_sink,
                                                     const std::filesystem::path& shadow_dir,
                                                     const PluginTrust& trust) {
  const auto refuse = [&file](const std::string& reason) {
    return LoadOutcome{nullptr, file.string() + ": " + reason};
  };

  // Everything that can be checked without running the file's code, before the dynamic
  // loader runs its constructors.
  const std::filesystem::path folder = file.has_parent_path() ? file.parent_path() : std::filesystem::path(".");
  if (const auto problem = plugins_folder_problem(folder, trust)) return refuse("not loaded: " + *problem);
  PluginFileRead read = read_plugin_file(file, trust);
  if (!read.file) return refuse("not loaded: it " + read.problem);
  if (file.extension() == definition_suffix) return load_definition(file, *read.file);
  const std::string& bytes = read.file->bytes;
  if (const auto problem = elf_plugin_problem(bytes)) return refuse("not a loadable shared library: " + *problem);

  std::shared_ptr<LoadedPlugin> plugin(new LoadedPlugin());
  plugin->file_ = file;
  plugin->signature_ = read.file->signature;
  plugin->build_id_ = sha256_hex(bytes).substr(0, 32);
  // With a shadow folder (the host's own, under its data folder), the loader maps the very
  // bytes checked above. Without one, the file is loaded by its name: the checks above say
  // only the host's user and root can change it in between.
  std::filesystem::path load_path = file;
  if (!shadow_dir.empty()) {
    load_path = write_shadow_copy(shadow_dir, file, bytes);
    if (load_path.empty()) return refuse("cannot be copied to " + shadow_dir.string() + " for loading");
  }
  PluginModule::BindOutcome bound = PluginModule::bind(load_path, file.string(), log_sink);
  if (load_path != file) {
    std::error_code ignored; // once mapped, the copy's name is no longer needed
    std::filesystem::remove(load_path, ignored);
  }
  if (!bound.module) return refuse(bound.refusal);
  plugin->module_ = std::move(bound.module);
  if (auto problem = plugin->take_descriptor(bound.descriptor_json)) return refuse(*problem);
  return LoadOutcome{std::move(plugin), {}};
}

LoadedPlugin::LoadOutcome LoadedPlugin::load_definition(const std::filesystem::path& file,
                                                        const PluginFileBytes& read) {
  std::string problem;
  auto definition = read_declarative_definition(read.bytes, problem);
  if (!definition) return LoadOutcome{nullptr, file.string() + ": not served: " + problem};
  std::shared_ptr<LoadedPlugin> plugin(new LoadedPlugin());
  plugin->file_ = file;
  plugin->signature_ = read.signature;
  plugin->build_id_ = sha256_hex(read.bytes).substr(0, 32);
  plugin->definition_ = std::move(definition);
  plugin->module_ = PluginModule::in_process(
      declarative_plugin_table(), [definition = plugin->definition_](connector_str settings, connector_provider** out,
                                                                     const connector_writer* result) {
        return create_declarative_provider(definition, settings, out, result);
      });
  if (auto refusal = plugin->take_descriptor(declarative_descriptor_json(*plugin->definition_))) {
    return LoadOutcome{nullptr, file.string() + ": " + *refusal};
  }
  return LoadOutcome{std::move(plugin), {}};
}

std::optional<std::string> LoadedPlugin::take_descriptor(const std::string& descriptor_json) {
  std::string descriptor_error;
  auto descriptor = parse_plugin_descriptor(descriptor_json, descriptor_error);
  if (!descriptor) return "invalid descriptor: " + descriptor_error;
  descriptor_ = std::move(*descriptor);
  loaded_at_ = std::chrono::system_clock::now();
  return std::nullopt;
}

LoadedPlugin::~LoadedPlugin() = default;

namespace {

// "setting client_secret is required; setting scopes/0 does not match …": what the schema
// refused, by name, for the operator (the validator never quotes a value).
std::string describe_refused_settings(const std::vector<SchemaViolation>& violations) {
  std::string text;
  for (const SchemaViolation& violation : violations) {
    if (!text.empty()) text += "; ";
    text += violation.path == "/" ? "settings" : "setting " + violation.path.substr(1);
    text += " " + violation.message;
  }
  return text;
}

} // namespace

LoadedPlugin::CreateOutcome LoadedPlugin::create_provider(const std::string& settings_json) const {
  if (descriptor_.settings_schema) {
    const nlohmann::json settings = nlohmann::json::parse(settings_json, nullptr, /*allow_exceptions=*/false);
    const std::vector<SchemaViolation> violations =
        settings.is_discarded() ? std::vector<SchemaViolation>{{"/", "are not a JSON object"}}
                                : validate_against_schema(settings, *descriptor_.settings_schema);
    if (!violations.empty()) {
      CreateOutcome refused;
      refused.result.status = CONNECTOR_STATUS_INVALID_INPUT;
      refused.result.error_code = "invalid_input";
      refused.result.error_description = describe_refused_settings(violations);
      return refused;
    }
  }
  return module_->create_provider(settings_json);
}

} // namespace connector::core
