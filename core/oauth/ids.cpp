#include "oauth/ids.hpp"

#include "crypto/random.hpp"
#include "text/hex.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace connector::core {

namespace {

uint64_t milliseconds_now() {
  return static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
}

constexpr std::size_t random_bytes_in_id = 8; // 64 bits, 16 hex digits

// The time part of the next id: the milliseconds, then a 16-bit sequence number within the
// millisecond (RFC 9562's "fixed bit-length dedicated counter", as UUIDv7 ids use it), so
// that the ids a process makes sort in the order it made them, within a millisecond too. A
// clock set back, or more than 65,536 ids in one millisecond, moves the time part on from the
// last one rather than repeating or reversing it.
uint64_t next_time_part() {
  static std::atomic<uint64_t> last{0};
  const uint64_t now = milliseconds_now() << 16;
  uint64_t previous = last.load(std::memory_order_relaxed);
  uint64_t next = 0;
  do {
    next = std::max(now, previous + 1);
  } while (!last.compare_exchange_weak(previous, next, std::memory_order_relaxed));
  return next;
}

} // namespace

std::string make_id(std::string_view prefix) {
  // Time first (16 hex digits), so that rows made one after another land side by side wherever
  // a store orders them by id (appends, not page splits all over a large table; the SQLite
  // store takes its row keys from these digits); then 64 random bits, which keep ids
  // unguessable and unique across processes. Ids are names, not credentials, and say nothing
  // about where or how a store keeps the row.
  const uint64_t time_part = next_time_part();
  std::string id(prefix);
  id.reserve(prefix.size() + 1 + 16 + 2 * random_bytes_in_id);
  id.push_back('_');
  append_hex_u64(id, time_part);
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
