#include "plugins/plugin_descriptor.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

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
