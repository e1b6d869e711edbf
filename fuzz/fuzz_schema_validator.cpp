// The schema validator (core/json/schema_validator.hpp, its public header only) on untrusted
// values: against the in-tree plugins' real schemas (as authorize and the settings check use
// them), and against fuzzed schemas. Input: one byte choosing the schema, then the value as
// JSON text; with the fuzzed-schema choice, the schema's text comes first, ended by a NUL.
#include "plugins/loaded_plugin.hpp"
#include "json/schema_validator.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string_view>
#include <vector>

namespace {

using nlohmann::json;

// The flow-options and settings schemas of every in-tree plugin, read from the built modules.
// The modules stay loaded: libFuzzer keeps counting coverage in every instrumented module
// it has seen, and would write into one that was unloaded.
std::vector<json> plugin_schemas() {
  static std::vector<std::shared_ptr<connector::core::LoadedPlugin>> modules;
  std::vector<json> schemas;
  for (const char* file : {"github.so", "google-sheets.so"}) {
    const auto loaded = connector::core::LoadedPlugin::load(std::string(CONNECTOR_PLUGIN_DIR) + "/" + file);
    if (!loaded.module) {
      std::fprintf(stderr, "fuzz: cannot load %s: %s\n", file, loaded.refusal.c_str());
      std::abort();
    }
    modules.push_back(loaded.module);
    const auto& descriptor = loaded.module->descriptor();
    schemas.push_back(json::parse(descriptor.flow_options_schema_json));
    schemas.push_back(json::parse(descriptor.settings_schema_json));
  }
  return schemas;
}

// The bounds hold whatever the schema says: a value within them is the only kind checked
// further, and a violation never quotes the value.
void check(const json& value, const json& schema) {
  const auto violations = connector::core::validate_against_schema(value, schema);
  for (const auto& violation : violations) {
    if (violation.path.size() > 64 * 1024) __builtin_trap();
    (void)json(violation.message).dump(-1, ' ', false, json::error_handler_t::replace);
  }
  if (schema.is_object() && value.is_object()) (void)connector::core::apply_schema_defaults(value, schema);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  static const std::vector<json> schemas = plugin_schemas();
  if (size == 0) return 0;
  const std::size_t choice = data[0] % (schemas.size() + 1);
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  json schema;
  if (choice == schemas.size()) {
    const std::size_t end = rest.find('\0');
    if (end == std::string_view::npos) return 0;
    schema = json::parse(rest.substr(0, end), nullptr, /*allow_exceptions=*/false);
    if (schema.is_discarded()) return 0;
    rest.remove_prefix(end + 1);
  } else {
    schema = schemas[choice];
  }
  const json value = json::parse(rest, nullptr, /*allow_exceptions=*/false);
  if (value.is_discarded()) return 0;
  check(value, schema);
  return 0;
}
