#include "plugins/plugin_descriptor.hpp"

#include "json/schema_validator.hpp"

#include <nlohmann/json.hpp>

#include <set>

namespace connector::core {

bool is_valid_slug(const std::string& slug) {
  if (slug.empty() || slug.size() > 64 || slug.front() < 'a' || slug.front() > 'z') return false;
  for (const char c : slug) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

namespace {

bool read_string(const nlohmann::json& doc, const char* key, bool required, std::string& out, std::string& error) {
  const auto it = doc.find(key);
  if (it == doc.end() || it->is_null()) {
    if (required) error = std::string("missing \"") + key + "\"";
    return !required;
  }
  if (!it->is_string()) {
    error = std::string("\"") + key + "\" is not a string";
    return false;
  }
  out = it->get<std::string>();
  return true;
}

bool read_string_list(const nlohmann::json& doc, const char* key, std::vector<std::string>& out, std::string& error) {
  const auto it = doc.find(key);
  if (it == doc.end() || it->is_null()) return true;
  if (!it->is_array()) {
    error = std::string("\"") + key + "\" is not an array";
    return false;
  }
  for (const auto& item : *it) {
    if (!item.is_string()) {
      error = std::string("\"") + key + "\" holds a non-string";
      return false;
    }
    out.push_back(item.get<std::string>());
  }
  return true;
}

// A missing or null flag is false; any other type than a boolean is an error, never a throw
// (a plugin's descriptor is its author's input, and one bad file must not stop the host).
bool read_bool(const nlohmann::json& doc, const char* key, bool& out, std::string& error) {
  const auto it = doc.find(key);
  if (it == doc.end() || it->is_null()) {
    out = false;
    return true;
  }
  if (!it->is_boolean()) {
    error = std::string("\"") + key + "\" is not a boolean (true or false)";
    return false;
  }
  out = it->get<bool>();
  return true;
}

bool read_schema(const nlohmann::json& doc, const char* key, std::string& out, std::string& error) {
  const auto it = doc.find(key);
  if (it == doc.end() || it->is_null()) {
    out = "{}";
    return true;
  }
  if (!it->is_object()) {
    error = std::string("\"") + key + "\" is not a JSON Schema object";
    return false;
  }
  out = it->dump();
  return true;
}

} // namespace

std::optional<PluginDescriptor> parse_plugin_descriptor(const std::string& json_text, std::string& error) {
  const nlohmann::json doc = nlohmann::json::parse(json_text, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) {
    error = "not a JSON object";
    return std::nullopt;
  }
  PluginDescriptor d;
  if (!read_string(doc, "slug", true, d.slug, error) ||
      !read_string(doc, "display_name", true, d.display_name, error) ||
      !read_string(doc, "version", false, d.version, error) ||
      !read_string(doc, "documentation_url", false, d.documentation_url, error) ||
      !read_string_list(doc, "default_scopes", d.default_scopes, error) ||
      !read_string_list(doc, "hosts", d.hosts, error) || !read_bool(doc, "supports_pkce", d.supports_pkce, error) ||
      !read_bool(doc, "supports_refresh", d.supports_refresh, error) ||
      !read_bool(doc, "supports_revoke", d.supports_revoke, error) ||
      !read_schema(doc, "settings_schema", d.settings_schema_json, error) ||
      !read_schema(doc, "flow_options_schema", d.flow_options_schema_json, error)) {
    return std::nullopt;
  }
  if (!is_valid_slug(d.slug)) {
    error = "slug \"" + d.slug + "\" must be 1-64 of [a-z0-9-], starting with a letter";
    return std::nullopt;
  }
  d.settings_schema =
      std::make_shared<const nlohmann::json>(nlohmann::json::parse(d.settings_schema_json, nullptr, false));
  if (const auto properties = d.settings_schema->find("properties");
      properties != d.settings_schema->end() && properties->is_object()) {
    for (const auto& [name, property] : properties->items()) {
      if (!property.is_object()) continue;
      const auto flag = property.find("x-organization-app");
      if (flag != property.end() && *flag == true) d.organization_app_settings.push_back(name);
    }
  }
  d.flow_options_schema =
      std::make_shared<const nlohmann::json>(nlohmann::json::parse(d.flow_options_schema_json, nullptr, false));
  d.empty_flow_options_valid = validate_against_schema(nlohmann::json::object(), *d.flow_options_schema).empty();

  const auto definitions = doc.find("source_definitions");
  if (definitions == doc.end() || !definitions->is_array() || definitions->empty()) {
    error = "\"source_definitions\" must be a non-empty array";
    return std::nullopt;
  }
  std::set<std::string> ids;
  for (const auto& item : *definitions) {
    PluginSourceDefinition definition;
    if (!item.is_object() || !read_string(item, "id", true, definition.id, error) ||
        !read_string(item, "name", true, definition.name, error)) {
      if (error.empty()) error = "a source definition is not an object";
      error = "source_definitions: " + error;
      return std::nullopt;
    }
    if (definition.id.empty() || !ids.insert(definition.id).second) {
      error = "source_definitions: empty or repeated id \"" + definition.id + "\"";
      return std::nullopt;
    }
    d.source_definitions.push_back(std::move(definition));
  }
  return d;
}

} // namespace connector::core
