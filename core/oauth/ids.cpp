#include "oauth/ids.hpp"

#include "crypto/random.hpp"
#include "text/hex.hpp"

#include <chrono>
#include <cstdint>

namespace connector::core {

namespace {

constexpr char hex[] = "0123456789abcdef";

uint64_t milliseconds_now() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

constexpr int time_digits = 12;                // 48 bits of milliseconds
constexpr std::size_t random_bytes_in_id = 10; // 80 bits, 20 hex digits

} // namespace

std::string make_id(std::string_view prefix) {
  // Milliseconds first, so that rows inserted one after another land side by side wherever a
  // store orders them by id (appends, not page splits all over a large table; the SQLite
  // store takes its row keys from these digits); then 80 random bits, which keep ids
  // unguessable and unique. Ids are names, not credentials, and say nothing about where or
  // how a store keeps the row.
  const uint64_t millis = milliseconds_now();
  std::string id(prefix);
  id.reserve(prefix.size() + 1 + std::size_t{time_digits} + 2 * random_bytes_in_id);
  id.push_back('_');
  for (int shift = 4 * (time_digits - 1); shift >= 0; shift -= 4)
    id.push_back(hex[(millis >> shift) & 0x0F]);
  id += hex_encode(random_bytes(random_bytes_in_id));
  return id;
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
