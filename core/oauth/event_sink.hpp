// Where the flow and token services report what happened ("flow started", "token refreshed",
// ...): the host logs these and counts them for /metrics. Fields never carry a secret.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <string>

namespace connector::core {

using EventSink = std::function<void(const std::string& event, const nlohmann::json& fields)>;

} // namespace connector::core
