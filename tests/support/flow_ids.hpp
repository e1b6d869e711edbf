// Ids in make_id's shape (oauth/ids.hpp) with chosen digits, for tests of how the store keys
// and orders flows: "conn_", 12 hex digits of milliseconds, then 20 more (4 of sequence, 16
// random).
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>

namespace connector::testing {

inline std::string id_made_at(int64_t millisecond, const std::string& sequence_and_random_digits) {
  char digits[13];
  std::snprintf(digits, sizeof digits, "%012llx", static_cast<unsigned long long>(millisecond));
  return "conn_" + std::string(digits) + sequence_and_random_digits;
}

} // namespace connector::testing
