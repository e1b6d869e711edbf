#include "oauth/provider_directory.hpp"

#include <array>
#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <system_error>

namespace connector::core {

EnvironmentLookup process_environment() {
  return [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

std::string provider_environment_name(const std::string& slug, const std::string& setting) {
  std::string name = "CONNECTOR_";
  for (const std::string& part : {slug, std::string("_"), setting}) {
    for (const char c : part) {
      name.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    }
  }
  return name;
}

std::optional<std::string> read_setting_file(const std::string& path, std::string& why) {
  // A setting is a line or a PEM block, never near this; a larger file is a wrong path.
  constexpr std::uintmax_t max_setting_bytes = 1U << 20;
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (error) {
    why = error.message();
    return std::nullopt;
  }
  if (std::filesystem::is_directory(status)) {
    why = "it is a folder";
    return std::nullopt;
  }
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    why = errno != 0 ? std::generic_category().message(errno) : "it cannot be opened";
    return std::nullopt;
  }
  std::string text;
  std::array<char, 4096> chunk{};
  while (in.read(chunk.data(), chunk.size()) || in.gcount() > 0) {
    text.append(chunk.data(), static_cast<std::size_t>(in.gcount()));
    if (text.size() > max_setting_bytes) {
      why = "larger than " + std::to_string(max_setting_bytes >> 10) + " KiB";
      return std::nullopt;
    }
  }
  if (in.bad()) {
    why = "a read failed";
    return std::nullopt;
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
    text.pop_back();
  return text;
}

std::optional<std::string> read_setting_file(const std::string& path) {
  std::string ignored;
  return read_setting_file(path, ignored);
}

namespace {

nlohmann::json coerce(const std::string& text, const nlohmann::json& property) {
  const std::string type = property.is_object() ? property.value("type", "string") : "string";
  if (type == "array") {
    nlohmann::json items = nlohmann::json::array();
    std::string current;
    for (const char c : text + ",") {
      if (c == ',' || c == ' ') {
        if (!current.empty()) items.push_back(current);
        current.clear();
      } else {
        current.push_back(c);
      }
    }
    return items;
  }
  if (type == "boolean") {
    if (text == "true" || text == "1" || text == "yes") return true;
    if (text == "false" || text == "0" || text == "no") return false;
    return text; // left as text: schema validation reports it
  }
  if (type == "integer" && !text.empty() && text.size() < 16 &&
      text.find_first_not_of("0123456789") == std::string::npos) {
    return std::stoll(text);
  }
  return text;
}

} // namespace

nlohmann::json merge_environment_settings(const std::string& slug, nlohmann::json settings,
                                          const nlohmann::json& settings_schema, const EnvironmentLookup& env) {
  if (!settings.is_object()) settings = nlohmann::json::object();
  const auto properties = settings_schema.find("properties");
  if (properties == settings_schema.end() || !properties->is_object()) return settings;
  for (const auto& [name, property] : properties->items()) {
    const std::string variable = provider_environment_name(slug, name);
    std::optional<std::string> value = env(variable);
    if (!value) {
      if (const auto file = env(variable + "_FILE")) {
        std::string why;
        value = read_setting_file(*file, why);
        if (!value) throw SettingFileError(variable + "_FILE: cannot read " + *file + " (" + why + ")");
      }
    }
    if (value) settings[name] = coerce(*value, property);
  }
  return settings;
}

ProviderDirectory::ProviderDirectory(const PluginRegistry& registry,
                                     const std::map<std::string, nlohmann::json>& settings_by_slug,
                                     const EnvironmentLookup& env) {
  for (const auto& module : registry.plugins()) {
    const PluginDescriptor& descriptor = module->descriptor();
    const auto configured = settings_by_slug.find(descriptor.slug);
    nlohmann::json settings = configured == settings_by_slug.end() ? nlohmann::json::object() : configured->second;
    const nlohmann::json schema = nlohmann::json::parse(descriptor.settings_schema_json, nullptr, false);
    try {
      settings = merge_environment_settings(descriptor.slug, std::move(settings), schema, env);
    } catch (const SettingFileError& error) {
      setting_file_errors_.emplace_back(error.what());
      by_slug_.emplace(descriptor.slug, ConfiguredProvider{module, nullptr, error.what(), nlohmann::json::object()});
      continue;
    }

    ConfiguredProvider entry{module, nullptr, {}, settings};
    auto created = module->create_provider(settings.dump());
    if (created.instance) {
      entry.instance = std::move(created.instance);
    } else {
      entry.configuration_error = created.result.error_description;
    }
    by_slug_.emplace(descriptor.slug, std::move(entry));
  }
}

std::optional<ConfiguredProvider> ProviderDirectory::find(const std::string& slug) const {
  const auto it = by_slug_.find(slug);
  if (it == by_slug_.end()) return std::nullopt;
  return it->second;
}

std::optional<ConfiguredProvider> ProviderDirectory::find_by_definition(const std::string& source_definition_id) const {
  for (const auto& [slug, entry] : by_slug_) {
    for (const auto& definition : entry.module->descriptor().source_definitions) {
      if (definition.id == source_definition_id) return entry;
    }
  }
  return std::nullopt;
}

} // namespace connector::core
