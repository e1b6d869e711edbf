// Validates JSON values against the subset of JSON Schema (2020-12) that plugins use for
// their settings and flow options: type, properties, required, additionalProperties (bool
// or schema), enum, const, items, min/maxLength, min/maxItems, minimum/maximum, pattern
// (matched by RE2, in time linear in the text).
// Debian ships no C++ JSON Schema validator, and this subset is small enough to own.
// Unknown keywords are ignored, as the specification asks.
#pragma once

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace connector::core {

struct SchemaViolation {
  std::string path;    // JSON Pointer to the offending value, e.g. "/scopes/0"
  std::string message; // what is wrong; never echoes the value (it may be a secret)
};

// What the host accepts in a validated value whatever its schema says, so that untrusted
// input is bounded before a pattern, the store or a plugin sees it (a plugin's schema may
// forget maxLength). Every string, array and object in the value counts, not only those the
// schema describes.
struct ValueBounds {
  std::size_t max_string_bytes = 4096;
  std::size_t max_array_items = 256;
  std::size_t max_object_members = 256;
  std::size_t max_depth = 16; // the value itself is depth 1
};

// Checks `value` against `bounds` first; only a value within them is checked against the
// schema (the bounds' violations alone are returned otherwise).
std::vector<SchemaViolation> validate_against_schema(const nlohmann::json& value, const nlohmann::json& schema,
                                                     const ValueBounds& bounds = {});

// Fills in "default" values of the schema's top-level properties that `value` lacks.
nlohmann::json apply_schema_defaults(nlohmann::json value, const nlohmann::json& schema);

} // namespace connector::core
