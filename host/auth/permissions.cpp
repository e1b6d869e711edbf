#include "auth/permissions.hpp"

#include <array>
#include <vector>

namespace connector::host {

namespace {

constexpr std::array<std::string_view, 3> known = {sources_permission, credentials_read_permission, admin_permission};

std::vector<std::string_view> words_of(std::string_view text) {
  std::vector<std::string_view> words;
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t start = text.find_first_not_of(" \t,", at);
    if (start == std::string_view::npos) break;
    const std::size_t end = std::min(text.find_first_of(" \t,", start), text.size());
    words.push_back(text.substr(start, end - start));
    at = end;
  }
  return words;
}

} // namespace

bool is_known_permission(std::string_view word) {
  for (const std::string_view name : known) {
    if (name == word) return true;
  }
  return false;
}

std::optional<std::string> parse_permissions(std::string_view text, std::string& unknown) {
  std::string normalized;
  for (const std::string_view word : words_of(text)) {
    if (!is_known_permission(word)) {
      unknown = std::string(word);
      return std::nullopt;
    }
    if (holds_permission(normalized, word)) continue;
    if (!normalized.empty()) normalized.push_back(' ');
    normalized += word;
  }
  return normalized;
}

// Runs on every authenticated request: a scan of the words in place, nothing allocated.
bool holds_permission(std::string_view held, std::string_view permission) {
  constexpr std::string_view separators = " \t,";
  for (std::size_t at = held.find(permission); at != std::string_view::npos; at = held.find(permission, at + 1)) {
    const std::size_t end = at + permission.size();
    const bool starts_word = at == 0 || separators.find(held[at - 1]) != std::string_view::npos;
    const bool ends_word = end == held.size() || separators.find(held[end]) != std::string_view::npos;
    if (starts_word && ends_word && !permission.empty()) return true;
  }
  return false;
}

} // namespace connector::host
