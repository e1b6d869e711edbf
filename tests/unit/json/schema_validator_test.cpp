#include "json/schema_validator.hpp"

#include <gtest/gtest.h>

using connector::core::apply_schema_defaults;
using connector::core::validate_against_schema;
using nlohmann::json;

namespace {

const json schema = json::parse(R"({
  "type": "object",
  "required": ["client_id"],
  "additionalProperties": false,
  "properties": {
    "client_id": {"type": "string", "minLength": 1, "maxLength": 8},
    "scopes": {"type": "array", "items": {"type": "string", "pattern": "^[a-z:]+$"}, "maxItems": 2},
    "prompt": {"enum": ["consent", "select_account"]},
    "port": {"type": "integer", "minimum": 1, "maximum": 65535, "default": 443}
  }
})");

std::vector<std::string> paths(const json& value) {
  std::vector<std::string> out;
  for (const auto& violation : validate_against_schema(value, schema))
    out.push_back(violation.path);
  return out;
}

} // namespace

TEST(SchemaValidator, AcceptsAConformingDocument) {
  EXPECT_TRUE(
      paths({{"client_id", "abc"}, {"scopes", {"repo", "read:org"}}, {"prompt", "consent"}, {"port", 8}}).empty());
}

TEST(SchemaValidator, NamesEveryViolationByPointer) {
  const auto found = paths({{"scopes", {"repo", "BAD", "x"}}, {"prompt", "none"}, {"port", 0}, {"extra", true}});
  const std::vector<std::string> expected = {"/client_id", "/extra", "/port", "/prompt", "/scopes", "/scopes/1"};
  auto sorted = found;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(sorted, expected);
}

TEST(SchemaValidator, ChecksTypesWithoutEchoingValues) {
  const auto violations = validate_against_schema({{"client_id", 12345}}, schema);
  ASSERT_EQ(violations.size(), 1U);
  EXPECT_EQ(violations[0].message, "must be of type string");
  EXPECT_EQ(validate_against_schema(json::array(), schema).at(0).path, "/");
}

TEST(SchemaValidator, FillsDefaults) {
  EXPECT_EQ(apply_schema_defaults({{"client_id", "a"}}, schema)["port"], 443);
  EXPECT_EQ(apply_schema_defaults({{"port", 80}}, schema)["port"], 80);
}
