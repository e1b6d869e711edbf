// Lower-case hexadecimal text of bytes: how ids, trace ids and digests are spelled.
#pragma once

#include <string>
#include <string_view>

namespace connector::core {

inline std::string hex_encode(std::string_view bytes) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * bytes.size());
  for (const char c : bytes) {
    const auto byte = static_cast<unsigned char>(c);
    out.push_back(digits[byte >> 4]);
    out.push_back(digits[byte & 0x0F]);
  }
  return out;
}

} // namespace connector::core
