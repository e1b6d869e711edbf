#include "json/schema_validator.hpp"

#include <re2/re2.h>

#include <memory>
#include <mutex>
#include <unordered_map>

namespace connector::core {

namespace {

// Schema patterns run through RE2, whose matching time is linear in the text and whose
// memory is bounded: a backtracking engine (std::regex recurses once per character) can be
// made to overflow the stack or run for hours by one crafted string. Patterns come from a
// few plugin schemas, so each is compiled once and kept; the table is emptied if a plugin
// ever makes it large.
class PatternCache {
public:
  // nullptr when the pattern is not a valid expression (for RE2's syntax, which covers the
  // ECMA-262 subset schemas use: classes, anchors, groups, bounded and unbounded repeats).
  std::shared_ptr<const re2::RE2> compiled(const std::string& pattern) {
    std::lock_guard lock(mutex_);
    if (const auto found = patterns_.find(pattern); found != patterns_.end()) return found->second;
    if (patterns_.size() >= max_patterns) patterns_.clear();
    re2::RE2::Options options;
    options.set_log_errors(false); // an invalid plugin pattern is reported as a violation
    options.set_max_mem(max_program_bytes);
    auto expression = std::make_shared<const re2::RE2>(pattern, options);
    if (!expression->ok()) expression.reset();
    patterns_.emplace(pattern, expression);
    return expression;
  }

private:
  static constexpr std::size_t max_patterns = 256;
  static constexpr int64_t max_program_bytes = int64_t{1} << 20;
  std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<const re2::RE2>> patterns_;
};

PatternCache& pattern_cache() {
  static PatternCache cache;
  return cache;
}

bool has_type(const nlohmann::json& value, const std::string& type) {
  if (type == "object") return value.is_object();
  if (type == "array") return value.is_array();
  if (type == "string") return value.is_string();
  if (type == "boolean") return value.is_boolean();
  if (type == "integer") return value.is_number_integer();
  if (type == "number") return value.is_number();
  if (type == "null") return value.is_null();
  return true; // an unknown type name constrains nothing
}

std::string escape_pointer(const std::string& key) {
  std::string out;
  for (const char c : key) {
    if (c == '~')
      out += "~0";
    else if (c == '/')
      out += "~1";
    else
      out.push_back(c);
  }
  return out;
}

// Walks the whole value (not only what the schema describes); recursion stops at the
// depth bound, so a hostile nesting cannot exhaust the stack here either.
class BoundsChecker {
public:
  explicit BoundsChecker(const ValueBounds& bounds) : bounds_(bounds) {}
  std::vector<SchemaViolation> violations;

  void check(const nlohmann::json& value, const std::string& path, std::size_t depth) {
    if (depth > bounds_.max_depth) {
      fail(path, "is nested more than " + std::to_string(bounds_.max_depth) + " levels deep");
      return;
    }
    if (value.is_string() && value.get_ref<const std::string&>().size() > bounds_.max_string_bytes) {
      fail(path, "must be at most " + std::to_string(bounds_.max_string_bytes) + " bytes long");
    } else if (value.is_array()) {
      if (value.size() > bounds_.max_array_items) {
        fail(path, "must have at most " + std::to_string(bounds_.max_array_items) + " items");
        return;
      }
      for (std::size_t i = 0; i < value.size(); ++i)
        check(value[i], path + "/" + std::to_string(i), depth + 1);
    } else if (value.is_object()) {
      if (value.size() > bounds_.max_object_members) {
        fail(path, "must have at most " + std::to_string(bounds_.max_object_members) + " members");
        return;
      }
      for (const auto& [key, member] : value.items()) {
        if (key.size() > bounds_.max_string_bytes) {
          fail(path, "has a member name longer than " + std::to_string(bounds_.max_string_bytes) + " bytes");
          continue;
        }
        check(member, path + "/" + escape_pointer(key), depth + 1);
      }
    }
  }

private:
  void fail(const std::string& path, std::string message) {
    if (violations.size() < max_reported) violations.push_back({path.empty() ? "/" : path, std::move(message)});
  }
  // One answer need not list thousands of oversized items.
  static constexpr std::size_t max_reported = 16;
  const ValueBounds& bounds_;
};

class Validator {
public:
  std::vector<SchemaViolation> violations;

  void check(const nlohmann::json& value, const nlohmann::json& schema, const std::string& path) {
    if (schema.is_boolean()) {
      if (!schema.get<bool>()) fail(path, "no value is allowed here");
      return;
    }
    if (!schema.is_object()) return;
    if (!check_type(value, schema, path)) return; // the rest would only repeat the point
    check_enum(value, schema, path);
    if (value.is_string()) check_string(value.get_ref<const std::string&>(), schema, path);
    if (value.is_number()) check_number(value.get<double>(), schema, path);
    if (value.is_array()) check_array(value, schema, path);
    if (value.is_object()) check_object(value, schema, path);
  }

private:
  void fail(const std::string& path, std::string message) {
    violations.push_back({path.empty() ? "/" : path, std::move(message)});
  }

  bool check_type(const nlohmann::json& value, const nlohmann::json& schema, const std::string& path) {
    const auto type = schema.find("type");
    if (type == schema.end()) return true;
    if (type->is_string()) {
      if (has_type(value, type->get<std::string>())) return true;
      fail(path, "must be of type " + type->get<std::string>());
      return false;
    }
    if (type->is_array()) {
      std::string names;
      for (const auto& name : *type) {
        if (name.is_string() && has_type(value, name.get<std::string>())) return true;
        if (name.is_string()) names += (names.empty() ? "" : " or ") + name.get<std::string>();
      }
      fail(path, "must be of type " + names);
      return false;
    }
    return true;
  }

  void check_enum(const nlohmann::json& value, const nlohmann::json& schema, const std::string& path) {
    if (const auto allowed = schema.find("enum"); allowed != schema.end() && allowed->is_array()) {
      bool found = false;
      for (const auto& candidate : *allowed)
        found = found || candidate == value;
      if (!found) fail(path, "must be one of " + allowed->dump());
    }
    if (const auto constant = schema.find("const"); constant != schema.end() && *constant != value) {
      fail(path, "must be " + constant->dump());
    }
  }

  void check_string(const std::string& text, const nlohmann::json& schema, const std::string& path) {
    if (const auto min = schema.find("minLength");
        min != schema.end() && min->is_number_unsigned() && text.size() < min->get<std::size_t>()) {
      fail(path,
           min->get<std::size_t>() == 1 ? "must not be empty" : "must be at least " + min->dump() + " characters long");
    }
    if (const auto max = schema.find("maxLength");
        max != schema.end() && max->is_number_unsigned() && text.size() > max->get<std::size_t>()) {
      fail(path, "must be at most " + max->dump() + " characters long");
    }
    if (const auto pattern = schema.find("pattern"); pattern != schema.end() && pattern->is_string()) {
      const auto expression = pattern_cache().compiled(pattern->get_ref<const std::string&>());
      if (!expression) {
        fail(path, "the schema's pattern is not a valid regular expression");
      } else if (!re2::RE2::PartialMatch(text, *expression)) {
        fail(path, "does not match the pattern " + pattern->dump());
      }
    }
  }

  void check_number(double number, const nlohmann::json& schema, const std::string& path) {
    if (const auto min = schema.find("minimum");
        min != schema.end() && min->is_number() && number < min->get<double>()) {
      fail(path, "must be at least " + min->dump());
    }
    if (const auto max = schema.find("maximum");
        max != schema.end() && max->is_number() && number > max->get<double>()) {
      fail(path, "must be at most " + max->dump());
    }
  }

  void check_array(const nlohmann::json& array, const nlohmann::json& schema, const std::string& path) {
    if (const auto min = schema.find("minItems");
        min != schema.end() && min->is_number_unsigned() && array.size() < min->get<std::size_t>()) {
      fail(path, "must have at least " + min->dump() + " items");
    }
    if (const auto max = schema.find("maxItems");
        max != schema.end() && max->is_number_unsigned() && array.size() > max->get<std::size_t>()) {
      fail(path, "must have at most " + max->dump() + " items");
    }
    if (const auto items = schema.find("items"); items != schema.end()) {
      for (std::size_t i = 0; i < array.size(); ++i)
        check(array[i], *items, path + "/" + std::to_string(i));
    }
  }

  void check_object(const nlohmann::json& object, const nlohmann::json& schema, const std::string& path) {
    if (const auto required = schema.find("required"); required != schema.end() && required->is_array()) {
      for (const auto& name : *required) {
        if (name.is_string() && !object.contains(name.get<std::string>())) {
          fail(path + "/" + escape_pointer(name.get<std::string>()), "is required");
        }
      }
    }
    const auto properties = schema.find("properties");
    const auto additional = schema.find("additionalProperties");
    for (const auto& [key, member] : object.items()) {
      const std::string member_path = path + "/" + escape_pointer(key);
      if (properties != schema.end() && properties->is_object() && properties->contains(key)) {
        check(member, (*properties)[key], member_path);
      } else if (additional != schema.end()) {
        if (additional->is_boolean() && !additional->get<bool>()) {
          fail(member_path, "is not a known property");
        } else {
          check(member, *additional, member_path);
        }
      }
    }
  }
};

} // namespace

std::vector<SchemaViolation> validate_against_schema(const nlohmann::json& value, const nlohmann::json& schema,
                                                     const ValueBounds& bounds) {
  BoundsChecker bounded(bounds);
  bounded.check(value, "", 1);
  if (!bounded.violations.empty()) return std::move(bounded.violations);
  Validator validator;
  validator.check(value, schema, "");
  return std::move(validator.violations);
}

nlohmann::json apply_schema_defaults(nlohmann::json value, const nlohmann::json& schema) {
  if (!value.is_object() || !schema.is_object()) return value;
  const auto properties = schema.find("properties");
  if (properties == schema.end() || !properties->is_object()) return value;
  for (const auto& [key, property] : properties->items()) {
    if (!value.contains(key) && property.is_object() && property.contains("default")) value[key] = property["default"];
  }
  return value;
}

} // namespace connector::core
