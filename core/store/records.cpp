#include "store/records.hpp"

#include <stdexcept>

namespace connector::core {

const char* to_string(FlowStatus status) {
  switch (status) {
  case FlowStatus::pending: return "pending";
  case FlowStatus::authorized: return "authorized";
  case FlowStatus::failed: return "failed";
  case FlowStatus::consumed: return "consumed";
  case FlowStatus::expired: return "expired";
  }
  return "unknown"; // only for a value cast from outside the enum
}

std::optional<FlowStatus> flow_status_from(const std::string& text) {
  for (const FlowStatus status :
       {FlowStatus::pending, FlowStatus::authorized, FlowStatus::failed, FlowStatus::consumed, FlowStatus::expired}) {
    if (text == to_string(status)) return status;
  }
  return std::nullopt;
}

FlowStatus stored_flow_status(const std::string& text) {
  const std::optional<FlowStatus> status = flow_status_from(text);
  if (!status) throw std::runtime_error("a connections row has an unknown status");
  return *status;
}

uint32_t key_id_from_envelope_header(const std::vector<uint8_t>& id_bytes) {
  if (id_bytes.size() < 4) return 0;
  uint32_t id = 0;
  for (std::size_t i = 0; i < 4; ++i)
    id = (id << 8) | id_bytes[i];
  return id;
}

} // namespace connector::core
