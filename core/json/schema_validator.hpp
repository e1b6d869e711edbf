// Validates JSON values against the subset of JSON Schema (2020-12) that plugins use for
// their settings and flow options: type, properties, required, additionalProperties (bool
// or schema), enum, const, items, min/maxLength, min/maxItems, minimum/maximum, pattern.
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

std::vector<SchemaViolation> validate_against_schema(const nlohmann::json& value, const nlohmann::json& schema);

// Fills in "default" values of the schema's top-level properties that `value` lacks.
nlohmann::json apply_schema_defaults(nlohmann::json value, const nlohmann::json& schema);

} // namespace connector::core
