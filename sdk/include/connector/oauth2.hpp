// Reading OAuth 2.0 token endpoint answers (RFC 6749 sections 5.1 and 5.2) the way real
// providers send them: JSON or form-encoded bodies, errors with HTTP 200 (GitHub), HTML
// pages from overloaded front ends (Google), numbers as strings. Providers call
// parse_token_response() and adjust the few things that differ.
#ifndef CONNECTOR_OAUTH2_HPP
#define CONNECTOR_OAUTH2_HPP

#include <connector/encoding.hpp>
#include <connector/provider.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace connector::sdk {

// Maps an RFC 6749 (or GitHub) error code to the status that tells the host what to do.
inline connector_status classify_oauth_error(std::string_view code) {
  if (code == "invalid_grant" || code == "bad_verification_code" || code == "bad_refresh_token" ||
      code == "expired_token" || code == "unauthorized_user") {
    return CONNECTOR_STATUS_GRANT_INVALID;
  }
  if (code == "invalid_client" || code == "incorrect_client_credentials" || code == "redirect_uri_mismatch" ||
      code == "unauthorized_client" || code == "application_suspended") {
    return CONNECTOR_STATUS_CLIENT_INVALID;
  }
  if (code == "temporarily_unavailable" || code == "server_error" || code == "slow_down") {
    return CONNECTOR_STATUS_TRANSIENT;
  }
  return CONNECTOR_STATUS_PROVIDER_REJECTED;
}

// Provider text goes into errors and logs: cut to `limit` bytes, control characters (DEL
// included) blanked. The host uses the same rule for what it stores and logs.
inline std::string sanitize_description(std::string_view text, std::size_t limit = 300) {
  std::string out;
  for (const char c : text.substr(0, limit)) {
    out.push_back(static_cast<unsigned char>(c) < 0x20 || c == 0x7F ? ' ' : c);
  }
  return out;
}

// A token endpoint body as a flat object, whether it came as JSON or as a form.
// nullopt: neither (an HTML page, truncated JSON, nothing at all).
inline std::optional<nlohmann::json> parse_token_body(const HttpResponse& response) {
  const std::string_view body = response.body;
  const std::size_t start = body.find_first_not_of(" \t\r\n");
  if (start == std::string_view::npos) return std::nullopt;
  if (body[start] == '{') {
    nlohmann::json parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_object()) return parsed;
    return std::nullopt;
  }
  // Form-encoded: GitHub's default. Refuse anything that looks like markup or prose.
  if (body[start] == '<' || body.find('=') == std::string_view::npos || body.find(' ') != std::string_view::npos ||
      body.find('\n') != std::string_view::npos) {
    return std::nullopt;
  }
  nlohmann::json object = nlohmann::json::object();
  for (const auto& [name, value] : form_decode(body))
    object[name] = value;
  return object;
}

// Reads a string member; numbers are turned into text.
inline std::string string_member(const nlohmann::json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end()) return {};
  if (it->is_string()) return it->get<std::string>();
  if (it->is_number_integer()) return std::to_string(it->get<int64_t>());
  return {};
}

// Reads a non-negative integer member that may arrive as a number or as a decimal string.
inline std::optional<int64_t> integer_member(const nlohmann::json& object, const char* name) {
  const auto it = object.find(name);
  if (it == object.end()) return std::nullopt;
  if (it->is_number_integer()) {
    const auto value = it->get<int64_t>();
    return value >= 0 ? std::optional<int64_t>(value) : std::nullopt;
  }
  if (it->is_number_float()) {
    const auto value = it->get<double>();
    return value >= 0 && value < 1e15 ? std::optional<int64_t>(static_cast<int64_t>(value)) : std::nullopt;
  }
  if (it->is_string()) {
    const auto& text = it->get_ref<const std::string&>();
    if (text.empty() || text.size() > 15 || text.find_first_not_of("0123456789") != std::string::npos) {
      return std::nullopt;
    }
    return std::stoll(text);
  }
  return std::nullopt;
}

// The value `pointer` names in `document`, or null: absent, or a step through an array that
// is not a number.
inline const nlohmann::json* member_at(const nlohmann::json& document, const nlohmann::json::json_pointer& pointer) {
  try {
    return document.contains(pointer) ? &document.at(pointer) : nullptr;
  } catch (const nlohmann::json::exception&) {
    return nullptr;
  }
}

// The string (or integer, as text) `pointer` names in `document`; empty when there is none.
inline std::string string_at(const nlohmann::json& document, const nlohmann::json::json_pointer& pointer) {
  const nlohmann::json* value = member_at(document, pointer);
  if (value == nullptr) return {};
  if (value->is_string()) return value->get<std::string>();
  if (value->is_number_integer()) return std::to_string(value->get<int64_t>());
  return {};
}

// The failure for an answer that is not a usable token response, status by status.
inline Failure unusable_answer(const HttpResponse& response, std::string_view what) {
  std::string description = std::string(what) + " (HTTP " + std::to_string(response.status) + ")";
  // 4xx other than 403/408/429 is a definite refusal; everything else may pass.
  const bool transient = response.status >= 500 || response.status == 403 || response.status == 408 ||
                         response.status == 429 || (response.status >= 200 && response.status < 300) ||
                         response.status < 100;
  return Failure{transient ? CONNECTOR_STATUS_TRANSIENT : CONNECTOR_STATUS_PROVIDER_REJECTED,
                 transient ? "unexpected_response" : "http_" + std::to_string(response.status), description};
}

// Where a token answer keeps its parts: RFC 6749's places by default (tokens at the top level,
// `error`, `error_description`); some providers nest the tokens (Slack's `authed_user`) or
// name the error elsewhere.
struct TokenAnswerShape {
  nlohmann::json::json_pointer tokens_at{};
  nlohmann::json::json_pointer error_at{"/error"};
  nlohmann::json::json_pointer error_description_at{"/error_description"};
};

// The error carried by an answer, if any: an error member wins whatever the status, since
// GitHub and Slack report errors with HTTP 200.
inline std::optional<Failure> oauth_error(const nlohmann::json& body, const TokenAnswerShape& shape = {}) {
  const std::string code = string_at(body, shape.error_at);
  if (code.empty()) return std::nullopt;
  std::string description = sanitize_description(string_at(body, shape.error_description_at));
  if (description.empty()) description = "the provider answered " + sanitize_description(code);
  return Failure{classify_oauth_error(code), sanitize_description(code), description};
}

// Parses a token endpoint answer into tokens or a precise failure.
inline Step<TokenSet> parse_token_response(const HttpResponse& response, const TokenAnswerShape& shape = {}) {
  const std::optional<nlohmann::json> body = parse_token_body(response);
  if (!body) return unusable_answer(response, "the token endpoint's answer is neither JSON nor a form");
  if (auto failure = oauth_error(*body, shape)) {
    // A server in trouble may still name an error: whatever it says, the request may pass later.
    if (response.status >= 500 || response.status == 429) failure->status = CONNECTOR_STATUS_TRANSIENT;
    return *failure;
  }
  if (response.status < 200 || response.status >= 300) {
    return unusable_answer(response, "the token endpoint refused the request without an error code");
  }
  const nlohmann::json* members = member_at(*body, shape.tokens_at);
  if (members == nullptr || !members->is_object()) {
    return unusable_answer(response, "the token endpoint's answer has no tokens where the definition says they sit");
  }

  TokenSet tokens;
  tokens.access_token = string_member(*members, "access_token");
  if (tokens.access_token.empty()) return unusable_answer(response, "the token endpoint's answer has no access_token");
  const std::string refresh_token = string_member(*members, "refresh_token");
  if (!refresh_token.empty()) tokens.refresh_token = refresh_token;
  tokens.token_type = string_member(*members, "token_type");
  tokens.granted_scopes = split_scopes(string_member(*members, "scope"));
  tokens.expires_in = integer_member(*members, "expires_in");
  tokens.refresh_token_expires_in = integer_member(*members, "refresh_token_expires_in");
  return tokens;
}

// A token answer carried to a later step of the same operation (a call that names the
// account, which carries no tokens): the host keeps the continuation in memory for that call
// chain only and hands it back with the next answer. `step` tells a plugin's own
// continuations apart. nullopt when a token is not UTF-8: no real token is, and a token
// mended into one would be a different token.
inline std::optional<std::string> tokens_to_continuation(const TokenSet& tokens, std::string_view step) {
  nlohmann::json state = {{"step", step},
                          {"access_token", tokens.access_token},
                          {"token_type", tokens.token_type},
                          {"granted_scopes", tokens.granted_scopes}};
  if (tokens.refresh_token) state["refresh_token"] = *tokens.refresh_token;
  if (tokens.expires_in) state["expires_in"] = *tokens.expires_in;
  if (tokens.refresh_token_expires_in) state["refresh_token_expires_in"] = *tokens.refresh_token_expires_in;
  if (!tokens.metadata.empty()) state["metadata"] = tokens.metadata;
  try {
    return state.dump();
  } catch (const nlohmann::json::type_error&) {
    return std::nullopt;
  }
}

// The tokens tokens_to_continuation() carried under `step`; nullopt for anything else.
inline std::optional<TokenSet> tokens_from_continuation(const std::string& continuation, std::string_view step) {
  const nlohmann::json state = nlohmann::json::parse(continuation, nullptr, /*allow_exceptions=*/false);
  if (!state.is_object() || string_member(state, "step") != step) return std::nullopt;
  TokenSet tokens;
  tokens.access_token = string_member(state, "access_token");
  if (tokens.access_token.empty()) return std::nullopt;
  if (state.contains("refresh_token")) tokens.refresh_token = string_member(state, "refresh_token");
  tokens.token_type = string_member(state, "token_type");
  if (const auto scopes = state.find("granted_scopes"); scopes != state.end() && scopes->is_array()) {
    for (const auto& scope : *scopes) {
      if (scope.is_string()) tokens.granted_scopes.push_back(scope.get<std::string>());
    }
  }
  tokens.expires_in = integer_member(state, "expires_in");
  tokens.refresh_token_expires_in = integer_member(state, "refresh_token_expires_in");
  if (const auto metadata = state.find("metadata"); metadata != state.end() && metadata->is_object()) {
    for (const auto& item : metadata->items()) {
      if (item.value().is_string()) tokens.metadata.emplace(item.key(), item.value().get<std::string>());
    }
  }
  return tokens;
}

} // namespace connector::sdk

#endif // CONNECTOR_OAUTH2_HPP
