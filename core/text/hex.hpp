// Lower-case hexadecimal text of bytes: how ids, trace ids and digests are spelled.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace connector::core {

inline constexpr char hex_digits[] = "0123456789abcdef";

// A number as exactly 16 digits, the most significant first, so that such numbers sort as
// their text does.
inline void append_hex_u64(std::string& out, uint64_t value) {
  for (int shift = 60; shift >= 0; shift -= 4)
    out.push_back(hex_digits[(value >> shift) & 0x0F]);
}

inline std::string hex_encode(std::string_view bytes) {
  std::string out;
  out.reserve(2 * bytes.size());
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    out.push_back(hex_digits[byte >> 4]);
    out.push_back(hex_digits[byte & 0x0F]);
  }
  return out;
}

} // namespace connector::core
