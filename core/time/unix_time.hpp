// The wall clock as the API and the store spell it: whole seconds since the Unix epoch, and
// RFC 3339 text in UTC.
#pragma once

#include <cstdint>
#include <string>

namespace connector::core {

int64_t unix_now();
std::string rfc3339_utc(int64_t unix_seconds);
std::string rfc3339_utc_now();

} // namespace connector::core
