#include "json/schema_validator.hpp"

#include <regex>

namespace connector::core {

namespace {

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
      fail(path, "must be at least " + min->dump() + " characters long");
    }
    if (const auto max = schema.find("maxLength");
        max != schema.end() && max->is_number_unsigned() && text.size() > max->get<std::size_t>()) {
      fail(path, "must be at most " + max->dump() + " characters long");
    }
    if (const auto pattern = schema.find("pattern"); pattern != schema.end() && pattern->is_string()) {
      try {
        if (!std::regex_search(text, std::regex(pattern->get<std::string>(), std::regex::ECMAScript))) {
          fail(path, "does not match the pattern " + pattern->dump());
        }
      } catch (const std::regex_error&) {
        fail(path, "the schema's pattern is not a valid regular expression");
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

std::vector<SchemaViolation> validate_against_schema(const nlohmann::json& value, const nlohmann::json& schema) {
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
