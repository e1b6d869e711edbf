#include "oauth/credentials.hpp"

namespace connector::core {

Credentials Credentials::from_result(const OperationResult& result, int64_t now, const Credentials* previous) {
  Credentials c;
  c.access_token = result.access_token;
  if (result.refresh_token) {
    c.refresh_token = *result.refresh_token;
  } else if (previous != nullptr) {
    c.refresh_token = previous->refresh_token; // refresh answers omit it: keep the old one
    c.refresh_token_expires_at = previous->refresh_token_expires_at;
  }
  c.token_type = result.token_type;
  c.granted_scopes = result.granted_scopes;
  if (c.granted_scopes.empty() && previous != nullptr) c.granted_scopes = previous->granted_scopes;
  c.obtained_at = now;
  if (result.expires_in) c.expires_at = now + *result.expires_in;
  if (result.refresh_token_expires_in) c.refresh_token_expires_at = now + *result.refresh_token_expires_in;
  c.account_id = result.account_id;
  c.account_name = result.account_name;
  if (previous != nullptr && c.account_id.empty()) {
    c.account_id = previous->account_id;
    c.account_name = previous->account_name;
  }
  if (auto metadata = grant_metadata(result.metadata_json)) {
    c.metadata = std::move(*metadata);
  } else if (previous != nullptr) {
    c.metadata = previous->metadata; // a refresh that says nothing of it keeps it
  }
  return c;
}

std::optional<nlohmann::json> grant_metadata(const std::string& text) {
  constexpr std::size_t max_members = 20;
  constexpr std::size_t max_name = 64;
  constexpr std::size_t max_value = 500;
  if (text.empty() || text.size() > std::size_t{32} * 1024) return std::nullopt;
  nlohmann::json object = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!object.is_object() || object.size() > max_members) return std::nullopt;
  for (const auto& item : object.items()) {
    const std::string& name = item.key();
    if (name.empty() || name.size() > max_name) return std::nullopt;
    for (const char c : name) {
      if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return std::nullopt;
    }
    if (!item.value().is_string() || item.value().get_ref<const std::string&>().size() > max_value) return std::nullopt;
    for (const char c : item.value().get_ref<const std::string&>()) {
      if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) return std::nullopt;
    }
  }
  return object;
}

std::string callback_parameters_json(const std::vector<std::pair<std::string, std::string>>& parameters) {
  constexpr std::size_t max_parameters = 10;
  constexpr std::size_t max_name = 64;
  constexpr std::size_t max_value = 512;
  nlohmann::json object = nlohmann::json::object();
  for (const auto& [name, value] : parameters) {
    if (object.size() == max_parameters) break;
    if (name.empty() || name.size() > max_name || value.size() > max_value || object.contains(name)) continue;
    object[name] = value;
  }
  if (object.empty()) return {};
  // Not UTF-8 (a redirect is anyone's to forge): such a parameter is nobody's metadata.
  return object.dump(-1, ' ', false, nlohmann::json::error_handler_t::ignore);
}

nlohmann::json Credentials::to_json() const {
  nlohmann::json json = {{"access_token", access_token}, {"refresh_token", refresh_token},
                         {"token_type", token_type},     {"granted_scopes", granted_scopes},
                         {"obtained_at", obtained_at},   {"account_id", account_id},
                         {"account_name", account_name}, {"metadata", metadata}};
  if (expires_at) json["expires_at"] = *expires_at;
  if (refresh_token_expires_at) json["refresh_token_expires_at"] = *refresh_token_expires_at;
  return json;
}

std::optional<Credentials> Credentials::from_json(const nlohmann::json& json) {
  if (!json.is_object() || !json.contains("access_token")) return std::nullopt;
  Credentials c;
  c.access_token = json.value("access_token", "");
  c.refresh_token = json.value("refresh_token", "");
  c.token_type = json.value("token_type", "");
  c.granted_scopes = json.value("granted_scopes", std::vector<std::string>{});
  c.obtained_at = json.value("obtained_at", int64_t{0});
  if (json.contains("expires_at")) c.expires_at = json["expires_at"].get<int64_t>();
  if (json.contains("refresh_token_expires_at"))
    c.refresh_token_expires_at = json["refresh_token_expires_at"].get<int64_t>();
  c.account_id = json.value("account_id", "");
  c.account_name = json.value("account_name", "");
  if (const auto metadata = json.find("metadata"); metadata != json.end() && metadata->is_object()) {
    c.metadata = *metadata;
  }
  return c;
}

std::string Credentials::scopes_text() const {
  std::string text;
  for (const auto& scope : granted_scopes)
    text += (text.empty() ? "" : " ") + scope;
  return text;
}

std::string sealing_context(const char* kind, const std::string& id, const char* field) {
  return std::string(kind) + ":" + id + ":" + field;
}

std::string flow_sealing_context(const std::string& flow_id, const char* field) {
  return sealing_context("connection", flow_id, field);
}

} // namespace connector::core
