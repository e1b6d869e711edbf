// Identifiers the API hands out: a type prefix, then 32 hex digits that start with the time and
// end with at least 64 random bits, unguessable so that an id alone proves nothing and
// enumerates nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace connector::core {

// prefix + "_" + 32 hex digits ("src_…", "ws_…"): 48 bits of milliseconds since the epoch,
// then 80 random bits.
std::string make_id(std::string_view prefix);

// For rows that are looked up by id on the hot path (connections): "conn_" + 16 hex digits of
// a row key, then 16 random ones (64 bits, which keep the id unguessable). The store keys
// the row by that number, so that it needs no index over the id text and every new row
// goes at the end of its table. Keys come from one counter per process: strictly
// increasing, led by the millisecond clock (2^60 + milliseconds * 2^16 + a sequence), so at
// least 2^60, which no id of make_id's shape reaches (its first 16 digits stay below that
// until the year 2527).
std::string make_keyed_id(std::string_view prefix);

// The row key at the front of an id of make_keyed_id's shape (any prefix); nullopt for any
// other id.
std::optional<int64_t> row_key_in_id(std::string_view id);

// Keys handed out from now on are greater than `key`: a store that already holds keys from
// another process, or from before the clock was set back, is not handed them again.
void keep_row_keys_above(int64_t key);

// Splits on runs of spaces.
std::vector<std::string> split_words(std::string_view text);

} // namespace connector::core
