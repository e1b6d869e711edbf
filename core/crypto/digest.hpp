// SHA-256 as lower-case hex: how states and API keys are stored (never the values).
#pragma once

#include <string>
#include <string_view>

namespace connector::core {

std::string sha256_hex(std::string_view data);

// Constant-time comparison of two equal-length strings (false when the lengths differ).
bool constant_time_equals(std::string_view a, std::string_view b);

} // namespace connector::core
