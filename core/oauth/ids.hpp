// Identifiers the API hands out: a type prefix, then a millisecond time and 80 random bits in hex
// ("conn_01a2…"), unguessable so that an id alone proves nothing and enumerates nothing.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace connector::core {

// "conn_" + 32 hex digits: 48 bits of milliseconds since the epoch, then 80 random bits.
std::string make_id(std::string_view prefix);

// Splits on runs of spaces.
std::vector<std::string> split_words(std::string_view text);

} // namespace connector::core
