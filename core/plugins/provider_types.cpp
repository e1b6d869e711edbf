#include "plugins/provider_types.hpp"

namespace connector::core {

const char* operation_name(Operation operation) {
  switch (operation) {
  case Operation::exchange_code: return "exchange_code";
  case Operation::refresh: return "refresh";
  case Operation::revoke: return "revoke";
  case Operation::check: return "check";
  }
  return "unknown";
}

const char* status_name(connector_status status) {
  switch (status) {
  case CONNECTOR_STATUS_OK: return "ok";
  case CONNECTOR_STATUS_SEND_REQUEST: return "send_request";
  case CONNECTOR_STATUS_GRANT_INVALID: return "grant_invalid";
  case CONNECTOR_STATUS_CLIENT_INVALID: return "client_invalid";
  case CONNECTOR_STATUS_PROVIDER_REJECTED: return "provider_rejected";
  case CONNECTOR_STATUS_TRANSIENT: return "transient";
  case CONNECTOR_STATUS_INVALID_INPUT: return "invalid_input";
  case CONNECTOR_STATUS_UNSUPPORTED: return "unsupported";
  case CONNECTOR_STATUS_INTERNAL_ERROR: return "internal_error";
  case CONNECTOR_STATUS_REFUSED: return "refused";
  default: return "unknown_status";
  }
}

} // namespace connector::core
