// SHA-256 as lower-case hex: how states and API keys are stored (never the values).
#pragma once

#include <array>
#include <string>
#include <string_view>

namespace connector::core {

// The raw digest. OpenSSL's one-shot SHA256() looks the algorithm up in the provider
// registry at every call (OpenSSL 3); this fetches it once.
std::array<unsigned char, 32> sha256(std::string_view data);
std::string sha256_hex(std::string_view data);

// Constant-time comparison of two equal-length strings (false when the lengths differ).
bool constant_time_equals(std::string_view a, std::string_view b);

} // namespace connector::core
