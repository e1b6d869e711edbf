// URL and form encoding as OAuth providers expect it (RFC 3986, WHATWG
// application/x-www-form-urlencoded): unreserved characters stay, a space is '+', every
// other byte is %XX (so a literal '+' is %2B). Small on purpose: plugins depend on the SDK
// alone, and these few rules are where other clients went wrong.
#ifndef CONNECTOR_ENCODING_HPP
#define CONNECTOR_ENCODING_HPP

#include <connector/provider.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace connector::sdk {

using Params = std::vector<std::pair<std::string, std::string>>;

inline bool is_unreserved(unsigned char c) {
  // A table: every byte of every consent URL passes here.
  static constexpr auto unreserved = [] {
    std::array<bool, 256> table{};
    for (int letter = 0; letter < 26; ++letter) {
      table['A' + letter] = true;
      table['a' + letter] = true;
    }
    for (int digit = 0; digit < 10; ++digit)
      table['0' + digit] = true;
    for (const char mark : {'-', '.', '_', '~'})
      table[static_cast<unsigned char>(mark)] = true;
    return table;
  }();
  return unreserved[c];
}

// Appends one form-encoded name or value to `out`: space as '+', the rest of the
// non-unreserved bytes as %XX. Runs of unreserved characters are copied in one append.
inline void append_form_encoded(std::string& out, std::string_view text) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::size_t plain = 0; // the start of the current run of unreserved characters
  for (std::size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (is_unreserved(c)) continue;
    out.append(text.substr(plain, i - plain));
    plain = i + 1;
    if (c == ' ') {
      out.push_back('+');
    } else {
      const char escape[3] = {'%', hex[c >> 4], hex[c & 0x0F]};
      out.append(escape, sizeof escape);
    }
  }
  out.append(text.substr(plain));
}

// The same, as a string of its own.
inline std::string form_encode_component(std::string_view text) {
  std::string out;
  out.reserve(text.size() * 3);
  append_form_encoded(out, text);
  return out;
}

namespace detail {
// Room for a whole form, escapes included for a few: one allocation for a consent URL.
inline std::size_t form_size_hint(const Params& params) {
  std::size_t size = 0;
  for (const auto& [name, value] : params)
    size += name.size() + value.size() + 2;
  return size + size / 4;
}

inline void append_form(std::string& out, const Params& params) {
  bool first = true;
  for (const auto& [name, value] : params) {
    if (!first) out.push_back('&');
    first = false;
    append_form_encoded(out, name);
    out.push_back('=');
    append_form_encoded(out, value);
  }
}
} // namespace detail

// name=value&name=value, in the given order (empty values are kept as "name=").
inline std::string form_encode(const Params& params) {
  std::string out;
  out.reserve(detail::form_size_hint(params));
  detail::append_form(out, params);
  return out;
}

namespace detail {
inline int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}
} // namespace detail

// Decodes one form component: '+' is a space, %XX a byte. A malformed escape is kept as is,
// the way browsers do.
inline std::string form_decode_component(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < text.size() && detail::hex_value(text[i + 1]) >= 0 &&
               detail::hex_value(text[i + 2]) >= 0) {
      out.push_back(static_cast<char>(detail::hex_value(text[i + 1]) * 16 + detail::hex_value(text[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Parses "a=1&b=2" (a leading '?' is skipped). A pair without '=' has an empty value.
inline Params form_decode(std::string_view text) {
  Params out;
  if (!text.empty() && text.front() == '?') text.remove_prefix(1);
  while (!text.empty()) {
    const std::size_t amp = text.find('&');
    const std::string_view pair = text.substr(0, amp);
    if (!pair.empty()) {
      const std::size_t eq = pair.find('=');
      out.emplace_back(form_decode_component(pair.substr(0, eq)),
                       eq == std::string_view::npos ? std::string() : form_decode_component(pair.substr(eq + 1)));
    }
    if (amp == std::string_view::npos) break;
    text.remove_prefix(amp + 1);
  }
  return out;
}

inline std::optional<std::string> find_param(const Params& params, std::string_view name) {
  for (const auto& [key, value] : params) {
    if (key == name) return value;
  }
  return std::nullopt;
}

// Appends a query to a URL that may already have one.
inline std::string with_query(const std::string& url, const Params& params) {
  if (params.empty()) return url;
  std::string out;
  out.reserve(url.size() + 1 + detail::form_size_hint(params));
  out.append(url).push_back(url.find('?') == std::string::npos ? '?' : '&');
  detail::append_form(out, params);
  return out;
}

// Joins scopes with single spaces (the OAuth scope syntax, RFC 6749 section 3.3).
inline std::string join_scopes(const std::vector<std::string>& scopes) {
  std::string out;
  for (const auto& scope : scopes) {
    if (scope.empty()) continue;
    if (!out.empty()) out.push_back(' ');
    out += scope;
  }
  return out;
}

// Splits a granted-scope string on spaces and commas (GitHub answers "repo,gist").
inline std::vector<std::string> split_scopes(std::string_view text) {
  std::vector<std::string> out;
  std::string current;
  for (const char c : text) {
    if (c == ' ' || c == ',') {
      if (!current.empty()) out.push_back(std::move(current));
      current.clear();
    } else {
      current.push_back(c);
    }
  }
  if (!current.empty()) out.push_back(std::move(current));
  return out;
}

// RFC 4648 base64 with padding (client_secret_basic credentials, keys).
inline std::string base64_encode(std::string_view bytes) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const std::size_t left = bytes.size() - i;
    uint32_t group = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
    if (left > 1) group |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    if (left > 2) group |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 2]));
    out.push_back(alphabet[(group >> 18) & 0x3F]);
    out.push_back(alphabet[(group >> 12) & 0x3F]);
    out.push_back(left > 1 ? alphabet[(group >> 6) & 0x3F] : '=');
    out.push_back(left > 2 ? alphabet[group & 0x3F] : '=');
  }
  return out;
}

// Parts of an absolute https URL that settings validation needs.
struct HttpsUrl {
  std::string host;      // lower-case, no port
  std::string authority; // host[:port], as written
};

// Accepts only "https://host[:port][/path...]" without user info; anything else is nullopt.
inline std::optional<HttpsUrl> parse_https_url(std::string_view url) {
  constexpr std::string_view scheme = "https://";
  if (url.size() <= scheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < scheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(url[i])) != scheme[i]) return std::nullopt;
  }
  url.remove_prefix(scheme.size());
  const std::string_view authority = url.substr(0, url.find_first_of("/?#"));
  if (authority.empty() || authority.find('@') != std::string_view::npos) return std::nullopt;
  for (const char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == '\\') return std::nullopt;
  }
  std::string_view host = authority;
  if (host.front() == '[') {
    const std::size_t close = host.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = host.substr(0, close + 1);
  } else {
    host = host.substr(0, host.find(':'));
  }
  if (host.empty()) return std::nullopt;
  HttpsUrl out{std::string(host), std::string(authority)};
  for (auto& c : out.host)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

} // namespace connector::sdk

#endif // CONNECTOR_ENCODING_HPP
