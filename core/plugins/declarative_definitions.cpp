#include "plugins/declarative_definitions.hpp"

// The SDK's plugin glue, in the host's process: its per-instance thunks are generic over
// IOAuthProvider, so one table serves every definition.
#include <connector/declarative_provider.hpp>
#include <connector/plugin.hpp>

#include <cstring>

namespace connector::core {

namespace {

namespace declarative = sdk::declarative;

// Stands for every definition in the thunks' template; its describe() and create() are
// never reached, since the table leaves those entries to the two functions below.
class AnyDefinition final : public declarative::DeclarativeProvider {
public:
  using DeclarativeProvider::DeclarativeProvider;
  static sdk::Descriptor describe() { throw std::logic_error("a definition describes itself"); }
  static std::unique_ptr<sdk::IOAuthProvider> create(const nlohmann::json&) {
    throw std::logic_error("a definition's instance is made by create_declarative_provider");
  }
};

using Thunks = sdk::detail::Thunks<AnyDefinition>;

connector_plugin_api make_table() {
  connector_plugin_api table;
  std::memset(&table, 0, sizeof table);
  table.struct_size = sizeof table;
  table.abi_major = CONNECTOR_ABI_VERSION_MAJOR;
  table.abi_minor = CONNECTOR_ABI_VERSION_MINOR;
  table.provider_destroy = &Thunks::provider_destroy;
  table.authorization_url = &Thunks::authorization_url;
  table.exchange_code = &Thunks::operation<sdk::TokenSet, &sdk::IOAuthProvider::exchange_code>;
  table.refresh = &Thunks::operation<sdk::TokenSet, &sdk::IOAuthProvider::refresh>;
  table.revoke = &Thunks::operation<sdk::Done, &sdk::IOAuthProvider::revoke>;
  table.check = &Thunks::operation<sdk::Account, &sdk::IOAuthProvider::check>;
  return table;
}

} // namespace

std::shared_ptr<const DeclarativeDefinition> read_declarative_definition(std::string_view text, std::string& problem) {
  if (text.size() > max_definition_bytes) {
    problem = "definition: larger than " + std::to_string(max_definition_bytes / 1024) + " KiB";
    return nullptr;
  }
  const nlohmann::json document = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) {
    problem = "definition: not JSON";
    return nullptr;
  }
  try {
    return std::make_shared<const DeclarativeDefinition>(declarative::parse_definition(document));
  } catch (const sdk::InvalidInput& refusal) {
    problem = refusal.what();
    return nullptr;
  }
}

std::string declarative_descriptor_json(const DeclarativeDefinition& definition) {
  return sdk::to_json(declarative::describe(definition)).dump();
}

const connector_plugin_api& declarative_plugin_table() {
  static const connector_plugin_api table = make_table();
  return table;
}

connector_status create_declarative_provider(const std::shared_ptr<const DeclarativeDefinition>& definition,
                                             connector_str settings_json, connector_provider** out_provider,
                                             const connector_writer* out) {
  return sdk::detail::create_instance(settings_json, out_provider, out,
                                      [&](const nlohmann::json& settings) -> std::unique_ptr<sdk::IOAuthProvider> {
                                        return std::make_unique<AnyDefinition>(definition, settings);
                                      });
}

} // namespace connector::core
