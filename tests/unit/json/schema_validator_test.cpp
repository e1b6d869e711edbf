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

// Finding 1 of the hostile-input review: std::regex recursed once per character, so one long
// string against a pattern overflowed the host's stack. A pattern that a backtracking engine
// takes exponential time or unbounded stack on must answer at once, and the answer must be
// right.
TEST(SchemaValidator, MatchesPatternsOnLongAndHostileStringsInLinearTime) {
  const json scope_schema = {{"type", "string"}, {"pattern", "^(https://www\\.googleapis\\.com/auth/[a-z.]+)+$"}};
  const std::string long_scope = "https://www.googleapis.com/auth/" + std::string(4000, 'a');
  const connector::core::ValueBounds generous{1U << 20, 256, 256, 16};
  EXPECT_TRUE(validate_against_schema(long_scope, scope_schema, generous).empty());

  // Catastrophic backtracking for an engine that tries every split: (a+)+$ against a^n b.
  const json nested_repeat = {{"type", "string"}, {"pattern", "^(a+)+$"}};
  const std::string hostile = std::string(100000, 'a') + "b";
  const auto violations = validate_against_schema(hostile, nested_repeat, generous);
  ASSERT_EQ(violations.size(), 1U);
  EXPECT_EQ(violations[0].message, "does not match the pattern \"^(a+)+$\"");
  EXPECT_TRUE(validate_against_schema(std::string(100000, 'a'), nested_repeat, generous).empty());
}

TEST(SchemaValidator, ReportsAnInvalidPatternInsteadOfThrowing) {
  const json broken = {{"type", "string"}, {"pattern", "([unclosed"}};
  const auto violations = validate_against_schema("x", broken);
  ASSERT_EQ(violations.size(), 1U);
  EXPECT_EQ(violations[0].message, "the schema's pattern is not a valid regular expression");
}

TEST(SchemaValidator, HostBoundsHoldWhateverTheSchemaSays) {
  const json anything = json::object(); // no maxLength, no maxItems, no properties
  const connector::core::ValueBounds bounds{8, 3, 3, 3};
  EXPECT_TRUE(validate_against_schema({{"a", "12345678"}, {"b", {1, 2, 3}}}, anything, bounds).empty());

  const auto long_string = validate_against_schema({{"a", "123456789"}}, anything, bounds);
  ASSERT_EQ(long_string.size(), 1U);
  EXPECT_EQ(long_string[0].path, "/a");
  EXPECT_EQ(long_string[0].message, "must be at most 8 bytes long");

  EXPECT_EQ(validate_against_schema({{"b", {1, 2, 3, 4}}}, anything, bounds).at(0).path, "/b");
  EXPECT_EQ(validate_against_schema({{"a", 1}, {"b", 2}, {"c", 3}, {"d", 4}}, anything, bounds).at(0).path, "/");
  // Depth 4 (the object, a, b, c) is over 3: reported where the fourth level starts.
  EXPECT_EQ(validate_against_schema({{"a", {{"b", {{"c", 1}}}}}}, anything, bounds).at(0).path, "/a/b/c");
  EXPECT_EQ(validate_against_schema({{"a", {{"b", 1}}}}, anything, bounds).size(), 0U);
  EXPECT_EQ(validate_against_schema({{std::string(9, 'k'), 1}}, anything, bounds).at(0).message,
            "has a member name longer than 8 bytes");
}

TEST(SchemaValidator, DefaultBoundsStopTheLongFlowOptionThatCrashedTheHost) {
  const json scopes_schema = {
      {"type", "object"},
      {"properties", {{"scopes", {{"type", "array"}, {"items", {{"type", "string"}, {"pattern", "^https://"}}}}}}}};
  const json options = {{"scopes", {"https://" + std::string(60000, 'a')}}};
  const auto violations = validate_against_schema(options, scopes_schema);
  ASSERT_EQ(violations.size(), 1U);
  EXPECT_EQ(violations[0].path, "/scopes/0");
  EXPECT_EQ(violations[0].message, "must be at most 4096 bytes long");
}
