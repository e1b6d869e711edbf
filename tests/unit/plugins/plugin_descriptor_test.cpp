#include "plugins/plugin_descriptor.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <optional>
#include <string>

using namespace connector::core;

namespace {

// A descriptor document with the given flow options schema (none when null).
std::string descriptor_with_options(const nlohmann::json& schema) {
  nlohmann::json doc = {{"slug", "example"},
                        {"display_name", "Example"},
                        {"source_definitions", {{{"id", "def_example"}, {"name", "Example"}}}}};
  if (!schema.is_null()) doc["flow_options_schema"] = schema;
  return doc.dump();
}

bool empty_options_valid(const nlohmann::json& schema) {
  std::string error;
  const auto descriptor = parse_plugin_descriptor(descriptor_with_options(schema), error);
  EXPECT_TRUE(descriptor.has_value()) << error;
  return descriptor && descriptor->empty_flow_options_valid;
}

} // namespace

// authorize skips validating an empty options object when the descriptor says {} passes:
// the flag must follow the schema, never be assumed.
TEST(PluginDescriptor, DecidesOnceWhetherNoFlowOptionsPassTheSchema) {
  EXPECT_TRUE(empty_options_valid(nullptr));
  EXPECT_TRUE(empty_options_valid({{"type", "object"}, {"additionalProperties", false}}));
  EXPECT_TRUE(empty_options_valid({{"type", "object"}, {"properties", {{"login", {{"type", "string"}}}}}}));
  EXPECT_FALSE(empty_options_valid(
      {{"type", "object"}, {"properties", {{"tenant", {{"type", "string"}}}}}, {"required", {"tenant"}}}));
  EXPECT_FALSE(empty_options_valid({{"const", {{"mode", "fast"}}}}));
  EXPECT_FALSE(empty_options_valid({{"type", "array"}}));
}

// A plugin's descriptor is its author's input: a flag of another type is a refusal with a
// reason, never an exception (which stopped the host at start, and every reload after a drop-in).
TEST(PluginDescriptor, RefusesFlagsThatAreNotBooleans) {
  for (const char* flag : {"supports_pkce", "supports_refresh", "supports_revoke"}) {
    for (const nlohmann::json& value :
         {nlohmann::json("yes"), nlohmann::json(1), nlohmann::json::array(), nlohmann::json::object()}) {
      SCOPED_TRACE(std::string(flag) + " = " + value.dump());
      nlohmann::json doc = nlohmann::json::parse(descriptor_with_options(nullptr));
      doc[flag] = value;
      std::string error;
      std::optional<PluginDescriptor> descriptor;
      EXPECT_NO_THROW(descriptor = parse_plugin_descriptor(doc.dump(), error));
      EXPECT_FALSE(descriptor.has_value());
      EXPECT_EQ(error, "\"" + std::string(flag) + "\" is not a boolean (true or false)");
    }
  }
}

TEST(PluginDescriptor, ReadsFlagsThatAreBooleansOrAbsent) {
  nlohmann::json doc = nlohmann::json::parse(descriptor_with_options(nullptr));
  doc["supports_pkce"] = true;
  doc["supports_refresh"] = nullptr;
  std::string error;
  const auto descriptor = parse_plugin_descriptor(doc.dump(), error);
  ASSERT_TRUE(descriptor.has_value()) << error;
  EXPECT_TRUE(descriptor->supports_pkce);
  EXPECT_FALSE(descriptor->supports_refresh);
  EXPECT_FALSE(descriptor->supports_revoke);
}
