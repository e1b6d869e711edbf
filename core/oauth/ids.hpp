// Identifiers the API hands out: a type prefix, then 32 hex digits that start with the time and
// end with at least 64 random bits, unguessable so that an id alone proves nothing and
// enumerates nothing.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace connector::core {

// prefix + "_" + 32 hex digits ("src_…", "ws_…"): 48 bits of milliseconds since the epoch,
// 16 bits that count the process's ids within the millisecond, then 64 random bits. The ids
// one process makes sort (as text) in the order it made them.
std::string make_id(std::string_view prefix);

// Splits on runs of spaces.
std::vector<std::string> split_words(std::string_view text);

} // namespace connector::core
