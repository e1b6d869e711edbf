// The host's checked copy of what a plugin says about itself (CONNECTOR_FIELD_DESCRIPTOR).
#pragma once

#include <nlohmann/json_fwd.hpp>

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace connector::core {

struct PluginSourceDefinition {
  std::string id;
  std::string name;
};

struct PluginDescriptor {
  std::string slug;
  std::string display_name;
  std::string version;
  std::string documentation_url;
  std::vector<PluginSourceDefinition> source_definitions;
  std::vector<std::string> default_scopes;
  bool supports_pkce = false;
  bool supports_refresh = false;
  bool supports_revoke = false;
  std::vector<std::string> hosts;
  std::string settings_schema_json;     // a JSON object, serialised
  std::string flow_options_schema_json; // a JSON object, serialised
  // The settings schema, parsed once by parse_plugin_descriptor (never null from it): every
  // settings object is checked against it before the plugin sees it (LoadedPlugin::create_provider).
  std::shared_ptr<const nlohmann::json> settings_schema;
  // The settings an organization's or a workspace's own OAuth app may set over the host's:
  // the schema's properties marked "x-organization-app": true.
  std::vector<std::string> organization_app_settings;
  // The same, parsed once by parse_plugin_descriptor (never null from it): authorize
  // validates its options against it.
  std::shared_ptr<const nlohmann::json> flow_options_schema;
  // Whether no options at all ({}) pass that schema, decided once by parse_plugin_descriptor
  // (most authorize calls send none, and then skip the validator). False unless decided, so
  // a descriptor made some other way is always validated.
  bool empty_flow_options_valid = false;
};

// Parses and checks a descriptor document; on failure returns nullopt and sets `error`.
std::optional<PluginDescriptor> parse_plugin_descriptor(const std::string& json_text, std::string& error);

// True for a slug the API can carry in paths and environment names: [a-z0-9-], 1..64,
// starting with a letter.
bool is_valid_slug(const std::string& slug);

} // namespace connector::core
