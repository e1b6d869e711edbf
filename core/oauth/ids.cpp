#include "oauth/ids.hpp"

#include "crypto/random.hpp"

#include <chrono>
#include <cstdint>

namespace connector::core {

std::string make_id(std::string_view prefix) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string id(prefix);
  id.reserve(prefix.size() + 33);
  id.push_back('_');
  // Milliseconds first, so that rows inserted one after another land side by side in the
  // primary-key index (appends, not page splits all over a large table); then 80 random
  // bits, which keeps ids unguessable and unique. Ids are names, not credentials.
  const auto millis = static_cast<uint64_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
          .count());
  for (int shift = 44; shift >= 0; shift -= 4)
    id.push_back(hex[(millis >> shift) & 0x0F]);
  for (const char byte : random_bytes(10)) {
    const auto b = static_cast<unsigned char>(byte);
    id.push_back(hex[b >> 4]);
    id.push_back(hex[b & 0x0F]);
  }
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
