// The C++ face of the plugin contract: what a plugin author implements.
//
// A provider is a class derived from IOAuthProvider with two static members,
//   static connector::sdk::Descriptor describe();
//   static std::unique_ptr<IOAuthProvider> create(const nlohmann::json& settings);
// registered once per plugin with CONNECTOR_REGISTER_PROVIDER(Class) (connector/plugin.hpp).
// Nothing here does I/O: operations return the HTTP request to send, and are called again
// with the answer. C++17, so authors on older compilers can use it.
#ifndef CONNECTOR_PROVIDER_HPP
#define CONNECTOR_PROVIDER_HPP

#include <connector/abi.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace connector::sdk {

using Headers = std::vector<std::pair<std::string, std::string>>;
// What a grant says about where and what it is (Salesforce's instance_url, a Slack team id),
// never a secret: the host keeps it with the tokens and shows it on the source (ABI 1.1).
using Metadata = std::map<std::string, std::string>;

struct SourceDefinition {
  std::string id; // stable forever: clients store it
  std::string name;
};

// What the plugin tells the host about itself; serialised to the descriptor JSON.
struct Descriptor {
  std::string slug; // lower-case, [a-z0-9-], unique across loaded plugins
  std::string display_name;
  std::string version;
  std::string documentation_url;
  std::vector<SourceDefinition> source_definitions;
  std::vector<std::string> default_scopes;
  bool supports_pkce = false;
  bool supports_refresh = false;
  bool supports_revoke = false;
  std::vector<std::string> hosts;     // default hosts it talks to (settings may add)
  nlohmann::json settings_schema;     // JSON Schema of the operator's settings
  nlohmann::json flow_options_schema; // JSON Schema of per-flow options
};

// Everything the host knows about the flow at the time of a call (see connector_flow_input).
struct FlowInput {
  std::string redirect_uri;
  std::string state;
  std::string code_challenge;
  std::string code_verifier;
  std::string code;
  std::string access_token;
  std::string refresh_token;
  nlohmann::json options = nlohmann::json::object(); // validated per-flow options
  std::string continuation;
  Metadata metadata;            // refresh, revoke, check: what the grant's metadata is (ABI 1.1)
  Metadata callback_parameters; // exchange_code: the redirect's other query parameters (realmId)
};

struct HttpRequest {
  std::string method = "POST";
  std::string url;
  Headers headers;
  std::string body;
  std::string continuation; // handed back in FlowInput::continuation with the answer
};

struct HttpResponse {
  unsigned status = 0;
  Headers headers;
  std::string body;

  // Case-insensitive header lookup; the first match, or empty.
  std::string header(const std::string& name) const {
    for (const auto& [key, value] : headers) {
      if (key.size() == name.size() && std::equal(key.begin(), key.end(), name.begin(), [](char a, char b) {
            return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
          })) {
        return value;
      }
    }
    return {};
  }
};

struct TokenSet {
  std::string access_token;
  std::optional<std::string> refresh_token; // none: keep the stored one
  std::string token_type;
  std::vector<std::string> granted_scopes; // what the provider granted, not what was asked
  std::optional<int64_t> expires_in;
  std::optional<int64_t> refresh_token_expires_in;
  std::string account_id;
  std::string account_name;
  Metadata metadata; // a refresh result without any keeps what the host has
};

// Outcome of a check call.
struct Account {
  std::string account_id;
  std::string account_name;
  std::vector<std::string> granted_scopes;
};

struct Done {};

// A definite refusal or failure; `status` is one of the CONNECTOR_STATUS_* error values.
struct Failure {
  connector_status status = CONNECTOR_STATUS_PROVIDER_REJECTED;
  std::string code;        // the provider's error code, e.g. "invalid_grant"
  std::string description; // never a secret
};

// One step of a network operation: send this request, or here is the result, or it failed.
template <typename Result> using Step = std::variant<HttpRequest, Result, Failure>;

// Thrown by create() and authorization_url() for bad settings or options.
class InvalidInput : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

class IOAuthProvider {
public:
  virtual ~IOAuthProvider() = default;

  // Hosts this configured instance may send requests to (the host's egress allow-list).
  virtual std::vector<std::string> allowed_hosts() const = 0;
  // The exact issuer for RFC 9207 checks, or empty when the provider sends none.
  virtual std::string issuer() const { return {}; }

  virtual std::string authorization_url(const FlowInput& input) const = 0;
  virtual Step<TokenSet> exchange_code(const FlowInput& input, const HttpResponse* response) const = 0;

  virtual Step<TokenSet> refresh(const FlowInput&, const HttpResponse*) const { return unsupported("refresh"); }
  virtual Step<Done> revoke(const FlowInput&, const HttpResponse*) const { return unsupported("revoke"); }
  virtual Step<Account> check(const FlowInput&, const HttpResponse*) const { return unsupported("check"); }

protected:
  static Failure unsupported(const char* operation) {
    return Failure{CONNECTOR_STATUS_UNSUPPORTED, "unsupported", std::string(operation) + " is not offered"};
  }
};

inline nlohmann::json to_json(const Descriptor& d) {
  nlohmann::json definitions = nlohmann::json::array();
  for (const auto& definition : d.source_definitions) {
    definitions.push_back({{"id", definition.id}, {"name", definition.name}});
  }
  return {{"slug", d.slug},
          {"display_name", d.display_name},
          {"version", d.version},
          {"documentation_url", d.documentation_url},
          {"source_definitions", definitions},
          {"default_scopes", d.default_scopes},
          {"supports_pkce", d.supports_pkce},
          {"supports_refresh", d.supports_refresh},
          {"supports_revoke", d.supports_revoke},
          {"hosts", d.hosts},
          {"settings_schema", d.settings_schema.is_null() ? nlohmann::json::object() : d.settings_schema},
          {"flow_options_schema", d.flow_options_schema.is_null() ? nlohmann::json::object() : d.flow_options_schema}};
}

} // namespace connector::sdk

#endif // CONNECTOR_PROVIDER_HPP
