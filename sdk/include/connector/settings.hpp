// Reading a provider's settings in create(), and the scope lists settings and flow options
// carry. The host checks every settings object against the plugin's settings_schema before
// create() runs (types, required and unknown members, patterns, lengths), so a plugin states
// a setting once, in its schema, and reads it here; what a schema cannot say (a URL that
// parses, a host to derive) is checked here too. A value of another type than asked for (a
// host that did not check, a test calling create() directly) is still refused, as
// InvalidInput naming the setting. Messages never quote a value: it may be a secret pasted
// into the wrong field.
#ifndef CONNECTOR_SETTINGS_HPP
#define CONNECTOR_SETTINGS_HPP

#include <connector/encoding.hpp>
#include <connector/provider.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace connector::sdk {

// A member that is absent or JSON null is "not set": operators' tools often write null.
inline const nlohmann::json* setting(const nlohmann::json& settings, const char* name) {
  if (!settings.is_object()) return nullptr;
  const auto it = settings.find(name);
  if (it == settings.end() || it->is_null()) return nullptr;
  return &*it;
}

// A setting that must be a non-empty string (a client id, a secret).
inline std::string required_string_setting(const nlohmann::json& settings, const char* name) {
  const nlohmann::json* value = setting(settings, name);
  if (value == nullptr) throw InvalidInput(std::string(name) + " is required");
  if (!value->is_string()) throw InvalidInput(std::string(name) + " must be a string");
  if (value->get_ref<const std::string&>().empty()) throw InvalidInput(std::string(name) + " must not be empty");
  return value->get<std::string>();
}

// A true/false setting; nullopt when not set.
inline std::optional<bool> boolean_setting(const nlohmann::json& settings, const char* name) {
  const nlohmann::json* value = setting(settings, name);
  if (value == nullptr) return std::nullopt;
  if (!value->is_boolean()) throw InvalidInput(std::string(name) + " must be true or false");
  return value->get<bool>();
}

// How an https URL setting is used, which decides what it may carry.
enum class UrlUse {
  endpoint, // called as written: a query is kept
  base,     // paths are appended: no query, and trailing slashes are dropped (no "//drive/v3")
  exact,    // compared character by character (an RFC 9207 issuer): no query, kept as written
};

struct HttpsSetting {
  std::string url;
  std::string host; // lower case, for the instance's allowed_hosts()
};

// An absolute https:// URL setting without user info, spaces or a fragment (user info would
// put a password into logs and the egress allow-list; a fragment is never sent); nullopt when
// not set.
inline std::optional<HttpsSetting> https_url_setting(const nlohmann::json& settings, const char* name, UrlUse use) {
  const nlohmann::json* value = setting(settings, name);
  if (value == nullptr) return std::nullopt;
  const std::string refusal = std::string(name) + " must be an absolute https:// URL without user info, spaces" +
                              (use == UrlUse::endpoint ? "" : ", a query") + " or a fragment";
  if (!value->is_string()) throw InvalidInput(refusal);
  std::string url = value->get<std::string>();
  const std::optional<HttpsUrl> parsed = parse_https_url(url);
  if (!parsed || url.find('#') != std::string::npos) throw InvalidInput(refusal);
  if (use != UrlUse::endpoint && url.find('?') != std::string::npos) throw InvalidInput(refusal);
  if (use == UrlUse::base) {
    while (url.back() == '/')
      url.pop_back();
  }
  return HttpsSetting{url, parsed->host};
}

// RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). A space inside one would
// silently split it into two scopes once joined; a quote or backslash breaks the header forms.
inline bool is_scope_token(std::string_view scope) {
  if (scope.empty()) return false;
  return std::all_of(scope.begin(), scope.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c == 0x21 || (c >= 0x23 && c <= 0x5B) || (c >= 0x5D && c <= 0x7E);
  });
}

// Adds `item` unless `list` holds it already: scopes and hosts, in order of first appearance.
inline void append_unique(std::vector<std::string>& list, const std::string& item) {
  if (std::find(list.begin(), list.end(), item) == list.end()) list.push_back(item);
}

// A JSON array of scope tokens (a setting, or a flow option), each once, in order. `what`
// names it in a refusal ("scopes", "flow option scopes").
inline std::vector<std::string> scope_list(const nlohmann::json& value, const std::string& what) {
  if (!value.is_array()) throw InvalidInput(what + " must be an array of strings");
  std::vector<std::string> scopes;
  for (const auto& item : value) {
    if (!item.is_string() || !is_scope_token(item.get_ref<const std::string&>())) {
      throw InvalidInput(what + " must hold scope names without spaces, quotes or backslashes");
    }
    append_unique(scopes, item.get<std::string>());
  }
  return scopes;
}

} // namespace connector::sdk

#endif
