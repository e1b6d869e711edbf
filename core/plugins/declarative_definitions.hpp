// Declarative provider definitions served without a compiler: a `*.json` file in the plugins
// folder becomes a plugin like a module does, through the same ABI table, whose entries run
// the SDK's engine (connector/declarative_provider.hpp) in the host's own process. Only the
// two entries without an instance (describe, provider_create) need the definition, and
// LoadedPlugin calls these two functions for them instead.
#pragma once

#include <connector/abi.h>

#include <memory>
#include <string>
#include <string_view>

namespace connector::sdk::declarative {
struct Definition;
}

namespace connector::core {

using DeclarativeDefinition = sdk::declarative::Definition;

// The largest definition file read: far beyond any real one, small enough to parse at once.
inline constexpr std::size_t max_definition_bytes = std::size_t{256} * 1024;

// Parses and validates a definition's text; on refusal returns null and says why in
// `problem` ("definition: $.token.url: must start with https:// …").
std::shared_ptr<const DeclarativeDefinition> read_declarative_definition(std::string_view text, std::string& problem);

// The descriptor JSON the definition makes (what a module's describe() writes).
std::string declarative_descriptor_json(const DeclarativeDefinition& definition);

// The ABI table of every definition: provider_destroy, authorization_url and the operations
// over instances made by create_declarative_provider; describe and provider_create are null.
const connector_plugin_api& declarative_plugin_table();

// provider_create for one definition, with the same contract.
connector_status create_declarative_provider(const std::shared_ptr<const DeclarativeDefinition>& definition,
                                             connector_str settings_json, connector_provider** out_provider,
                                             const connector_writer* out);

} // namespace connector::core
