// The token set a source holds, as it is sealed at rest (JSON inside AES-256-GCM).
#pragma once

#include "plugins/provider_types.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace connector::core {

struct Credentials {
  std::string access_token;
  std::string refresh_token;
  std::string token_type;
  std::vector<std::string> granted_scopes;
  int64_t obtained_at = 0;
  std::optional<int64_t> expires_at;               // access token
  std::optional<int64_t> refresh_token_expires_at; // GitHub App refresh tokens
  std::string account_id;
  std::string account_name;
  // What the grant says about where and what it is (Salesforce's instance_url, a team id):
  // never a secret, shown on the source as configuration.metadata. An object of strings.
  nlohmann::json metadata = nlohmann::json::object();

  // From a successful exchange or refresh at `now`; `previous` supplies the refresh token
  // (and account) when the provider's answer omits it, as refresh answers do.
  static Credentials from_result(const OperationResult& result, int64_t now, const Credentials* previous = nullptr);

  nlohmann::json to_json() const;
  static std::optional<Credentials> from_json(const nlohmann::json& json);
  std::string scopes_text() const; // space-separated
};

// A plugin's CONNECTOR_FIELD_METADATA, if it is what the ABI allows: a JSON object of at most 20
// members named like [a-z0-9_]{1,64}, each a string of at most 500 printable characters.
std::optional<nlohmann::json> grant_metadata(const std::string& text);

// The redirect's query parameters other than its own (code, state, iss, error, ...) for a
// plugin to keep as metadata: at most 10, names and values cut to size; as JSON text, or empty.
std::string callback_parameters_json(const std::vector<std::pair<std::string, std::string>>& parameters);

// Associated data that binds a sealed value to its record and field: "<kind>:<id>:<field>".
std::string sealing_context(const char* kind, const std::string& id, const char* field);

// The same for an OAuth flow's sealed code verifier and tokens. Its kind is "connection", the
// name flows had when the first were sealed, so that every flow already stored still opens.
std::string flow_sealing_context(const std::string& flow_id, const char* field);

} // namespace connector::core
