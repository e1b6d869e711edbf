// Host-side plain data for talking to a provider plugin: what goes in (FlowParams), what the
// plugin asks the host to send (OutgoingRequest), what came back (ProviderAnswer) and what
// the plugin concluded (OperationResult). All of it owned by the host; nothing here points
// into plugin memory.
#pragma once

#include <connector/abi.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace connector::core {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

enum class Operation { exchange_code, refresh, revoke, check };

const char* operation_name(Operation operation);

// Mirrors connector_flow_input.
struct FlowParams {
  std::string callback_uri; // the host's callback: the OAuth redirect_uri the provider sends the browser to
  std::string state;
  std::string code_challenge;
  std::string code_verifier;
  std::string code;
  std::string access_token;
  std::string refresh_token;
  std::string options_json;
  std::string continuation;
  std::string metadata_json;            // ABI 1.1: the grant's kept metadata, a JSON object of strings
  std::string callback_parameters_json; // ABI 1.1: the redirect's other query parameters, likewise
};

struct OutgoingRequest {
  std::string method;
  std::string url;
  HeaderList headers;
  std::string body;
};

struct ProviderAnswer {
  unsigned status = 0;
  HeaderList headers;
  std::string body;
};

// Everything a plugin can write through the host's connector_writer during one call.
struct OperationResult {
  connector_status status = CONNECTOR_STATUS_INTERNAL_ERROR;

  std::string error_code;
  std::string error_description;

  std::string authorization_url;

  OutgoingRequest request; // with CONNECTOR_STATUS_SEND_REQUEST
  std::string continuation;

  std::string access_token;
  std::optional<std::string> refresh_token; // nullopt: the provider sent none
  std::string token_type;
  std::vector<std::string> granted_scopes;
  std::optional<int64_t> expires_in;
  std::optional<int64_t> refresh_token_expires_in;
  std::string account_id;
  std::string account_name;
  std::string metadata_json; // as the plugin wrote it; Credentials checks it before keeping it

  // provider_create and describe only.
  std::vector<std::string> allowed_hosts;
  std::string issuer;
  std::string descriptor_json;

  bool ok() const { return status == CONNECTOR_STATUS_OK; }
};

// A short, stable name for a status, for logs and error details.
const char* status_name(connector_status status);

} // namespace connector::core
