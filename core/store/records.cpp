#include "store/records.hpp"

namespace connector::core {

const char* to_string(ConnectionStatus status) {
  switch (status) {
  case ConnectionStatus::pending: return "pending";
  case ConnectionStatus::authorized: return "authorized";
  case ConnectionStatus::failed: return "failed";
  case ConnectionStatus::consumed: return "consumed";
  case ConnectionStatus::expired: return "expired";
  }
  return "unknown"; // only for a value cast from outside the enum
}

std::optional<ConnectionStatus> connection_status_from(const std::string& text) {
  for (const ConnectionStatus status :
       {ConnectionStatus::pending, ConnectionStatus::authorized, ConnectionStatus::failed, ConnectionStatus::consumed,
        ConnectionStatus::expired}) {
    if (text == to_string(status)) return status;
  }
  return std::nullopt;
}

} // namespace connector::core
