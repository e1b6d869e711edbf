#include "oauth/ids.hpp"

#include "crypto/random.hpp"

namespace connector::core {

std::string make_id(std::string_view prefix) {
  static constexpr char hex[] = "0123456789abcdef";
  std::string id(prefix);
  id.push_back('_');
  for (const char byte : random_bytes(16)) {
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
