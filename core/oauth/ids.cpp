#include "oauth/ids.hpp"

#include "crypto/random.hpp"
#include "text/hex.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace connector::core {

namespace {

constexpr char hex[] = "0123456789abcdef";
constexpr uint64_t lowest_row_key = uint64_t{1} << 60;
constexpr uint64_t highest_row_key = (uint64_t{1} << 63) - 1; // SQLite's rowid is signed

uint64_t milliseconds_now() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

constexpr int id_digits = 32;  // after the prefix and its underscore
constexpr int key_digits = 16; // a keyed id's row key, at the front of its digits

// prefix + "_" + `head` in `head_digits` hex digits + random hex digits up to 32 in all.
std::string compose_id(std::string_view prefix, uint64_t head, int head_digits) {
  std::string id(prefix);
  id.reserve(prefix.size() + 1 + id_digits);
  id.push_back('_');
  for (int shift = 4 * (head_digits - 1); shift >= 0; shift -= 4)
    id.push_back(hex[(head >> shift) & 0x0F]);
  id += hex_encode(random_bytes(static_cast<std::size_t>(id_digits - head_digits) / 2));
  return id;
}

std::optional<uint64_t> parse_hex(std::string_view digits) {
  uint64_t value = 0;
  for (const char c : digits) {
    int digit = 0;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else {
      return std::nullopt;
    }
    value = (value << 4) | static_cast<uint64_t>(digit);
  }
  return value;
}

// The last key handed out, by any thread.
std::atomic<uint64_t> last_row_key{0};

uint64_t next_row_key() {
  const uint64_t floor = lowest_row_key + (milliseconds_now() << 16);
  uint64_t previous = last_row_key.load(std::memory_order_relaxed);
  uint64_t key = 0;
  do {
    key = std::max(previous + 1, floor);
  } while (!last_row_key.compare_exchange_weak(previous, key, std::memory_order_relaxed));
  return key;
}

} // namespace

std::string make_id(std::string_view prefix) {
  // Milliseconds first, so that rows inserted one after another land side by side in the
  // primary-key index (appends, not page splits all over a large table); then 80 random
  // bits, which keeps ids unguessable and unique. Ids are names, not credentials.
  return compose_id(prefix, milliseconds_now(), 12);
}

std::string make_keyed_id(std::string_view prefix) { return compose_id(prefix, next_row_key(), key_digits); }

std::optional<int64_t> row_key_in_id(std::string_view id) {
  const std::size_t underscore = id.find('_');
  if (underscore == std::string_view::npos || id.size() - underscore - 1 != id_digits) return std::nullopt;
  const std::optional<uint64_t> key = parse_hex(id.substr(underscore + 1, key_digits));
  if (!key || *key < lowest_row_key || *key > highest_row_key || !parse_hex(id.substr(underscore + 1 + key_digits))) {
    return std::nullopt;
  }
  return static_cast<int64_t>(*key);
}

void keep_row_keys_above(int64_t key) {
  const auto floor = static_cast<uint64_t>(std::max<int64_t>(key, 0));
  uint64_t previous = last_row_key.load(std::memory_order_relaxed);
  while (previous < floor && !last_row_key.compare_exchange_weak(previous, floor, std::memory_order_relaxed)) {
  }
}

std::vector<std::string> split_words(std::string_view text) {
  std::vector<std::string> words;
  std::size_t start = 0;
  while (start < text.size()) {
    const std::size_t end = text.find(' ', start);
    const std::size_t stop = end == std::string_view::npos ? text.size() : end;
    if (stop > start) words.emplace_back(text.substr(start, stop - start));
    start = stop + 1;
  }
  return words;
}

} // namespace connector::core
