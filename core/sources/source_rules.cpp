#include "sources/source_rules.hpp"

#include "crypto/sealer.hpp"
#include "oauth/ids.hpp"

#include <algorithm>
#include <array>
#include <iterator>
#include <tuple>

namespace connector::core {

namespace {

// Configuration keys the host writes from the grant.
constexpr std::array<const char*, 5> host_managed_keys = {"auth_type", "scopes", "account_id", "account_name",
                                                          "metadata"};

nlohmann::json configuration_of(const SourceRecord& source) {
  nlohmann::json configuration = nlohmann::json::parse(source.configuration_json, nullptr, false);
  return configuration.is_object() ? configuration : nlohmann::json::object();
}

SourceRecord new_source(const NewSource& made, int64_t now) {
  SourceRecord source;
  source.id = make_id("src");
  source.organization_id = made.organization_id;
  source.workspace_id = made.workspace_id;
  source.source_definition_id = made.source_definition_id;
  source.slug = made.slug;
  source.name = made.name;
  source.status = "active";
  source.created_at = now;
  source.updated_at = now;
  return source;
}

} // namespace

void seal_source_credentials(SourceRecord& source, const std::string& credentials_json, const Sealer& sealer) {
  source.sealed_credentials = sealer.seal(credentials_json, sealing_context("source", source.id, "credentials"));
}

std::optional<Credentials> open_source_credentials(const Sealer& sealer, const SourceRecord& source) {
  const auto opened = sealer.open(source.sealed_credentials, sealing_context("source", source.id, "credentials"));
  if (!opened) return std::nullopt;
  return Credentials::from_json(nlohmann::json::parse(*opened, nullptr, false));
}

SourceRecord source_from_flow(const NewSource& made, const FlowRecord& flow, const std::string& credentials_json,
                              const Sealer& sealer, int64_t now) {
  SourceRecord source = new_source(made, now);
  source.connection_id = flow.id;
  source.auth_type = "oauth2.0";
  source.oauth_app_scope = flow.oauth_app_scope;
  source.granted_scopes = flow.granted_scopes;
  source.token_expires_at = flow.token_expires_at;
  nlohmann::json configuration = {{"auth_type", "oauth2.0"},
                                  {"scopes", nlohmann::json::array()},
                                  {"account_id", flow.account_id},
                                  {"account_name", flow.account_name}};
  for (const auto& scope : split_words(flow.granted_scopes))
    configuration["scopes"].push_back(scope);
  const auto credentials = Credentials::from_json(nlohmann::json::parse(credentials_json, nullptr, false));
  if (credentials && !credentials->metadata.empty()) configuration["metadata"] = credentials->metadata;
  source.configuration_json = configuration.dump();
  seal_source_credentials(source, credentials_json, sealer);
  return source;
}

SourceRecord source_with_token(const NewSource& made, nlohmann::json configuration, const Credentials& credentials,
                               const Sealer& sealer, int64_t now) {
  SourceRecord source = new_source(made, now);
  source.auth_type = "access_token";
  configuration.erase("credentials");
  configuration["auth_type"] = "access_token";
  source.configuration_json = configuration.dump();
  seal_source_credentials(source, credentials.to_json().dump(), sealer);
  return source;
}

Expected<Credentials> token_credentials(const nlohmann::json& credentials, int64_t now) {
  if (!credentials.is_object()) return field_error("configuration.credentials", "must be an object");
  for (const auto& [name, value] : credentials.items()) {
    if (name != "auth_type" && name != "access_token" && name != "token_type") {
      return field_error("configuration.credentials." + name, "is not a field of token credentials");
    }
  }
  if (credentials.contains("auth_type") && credentials["auth_type"] != "access_token") {
    return field_error("configuration.credentials.auth_type",
                       "must be \"access_token\", or \"oauth2.0\" with the refresh_token of a grant to import");
  }
  const auto token = credentials.find("access_token");
  if (token == credentials.end() || !token->is_string() || token->get_ref<const std::string&>().empty() ||
      token->get_ref<const std::string&>().size() > 8192) {
    return field_error("configuration.credentials.access_token", "is required: a non-empty string");
  }
  Credentials result;
  result.access_token = token->get<std::string>();
  result.token_type = credentials.value("token_type", std::string("bearer"));
  result.obtained_at = now;
  return result;
}

bool is_imported_grant(const nlohmann::json& credentials) {
  return credentials.is_object() && credentials.value("auth_type", nlohmann::json()) == "oauth2.0";
}

Expected<Credentials> imported_grant_credentials(const nlohmann::json& credentials, int64_t now) {
  constexpr int64_t ten_years = 10LL * 366 * 24 * 3600;
  const auto at = [](const std::string& name) { return "configuration.credentials." + name; };
  const auto text = [&](const char* name, bool required, std::size_t limit) -> Expected<std::string> {
    const auto found = credentials.find(name);
    if (found == credentials.end()) {
      if (required) return field_error(at(name), "is required: a non-empty string");
      return std::string();
    }
    if (!found->is_string() || found->get_ref<const std::string&>().empty() ||
        found->get_ref<const std::string&>().size() > limit) {
      return field_error(at(name), "must be a non-empty string of at most " + std::to_string(limit) + " bytes");
    }
    return found->get<std::string>();
  };
  static constexpr const char* known[] = {"auth_type",  "refresh_token", "access_token", "token_type",   "expires_in",
                                          "expires_at", "scopes",        "account_id",   "account_name", "metadata"};
  for (const auto& [name, value] : credentials.items()) {
    if (std::find(std::begin(known), std::end(known), name) == std::end(known)) {
      return field_error(at(name), "is not a field of imported OAuth credentials");
    }
  }
  Credentials result;
  result.obtained_at = now;
  for (const auto& [name, target, required, limit] :
       {std::tuple{"refresh_token", &result.refresh_token, true, std::size_t{8192}},
        std::tuple{"access_token", &result.access_token, false, std::size_t{8192}},
        std::tuple{"token_type", &result.token_type, false, std::size_t{40}},
        std::tuple{"account_id", &result.account_id, false, std::size_t{200}},
        std::tuple{"account_name", &result.account_name, false, std::size_t{200}}}) {
    auto value = text(name, required, limit);
    if (!value) return value.error();
    *target = std::move(*value);
  }
  if (result.token_type.empty()) result.token_type = "bearer";
  if (credentials.contains("expires_in") && credentials.contains("expires_at")) {
    return field_error(at("expires_at"), "goes without expires_in: give one of them");
  }
  if (const auto in = credentials.find("expires_in"); in != credentials.end()) {
    if (!in->is_number_integer() || in->get<int64_t>() < 0 || in->get<int64_t>() > ten_years) {
      return field_error(at("expires_in"), "must be a whole number of seconds, 0 or more");
    }
    result.expires_at = now + in->get<int64_t>();
  } else if (const auto until = credentials.find("expires_at"); until != credentials.end()) {
    if (!until->is_number_integer() || until->get<int64_t>() < 0 || until->get<int64_t>() > now + ten_years) {
      return field_error(at("expires_at"), "must be a time in Unix seconds");
    }
    result.expires_at = until->get<int64_t>();
  }
  // An access token of unknown age (or none) is due: the first use refreshes it.
  if (result.access_token.empty() || !result.expires_at) result.expires_at = now;
  if (const auto scopes = credentials.find("scopes"); scopes != credentials.end()) {
    if (!scopes->is_array() || scopes->size() > 100) return field_error(at("scopes"), "must be an array of scopes");
    for (const auto& scope : *scopes) {
      if (!scope.is_string() || scope.get_ref<const std::string&>().empty() ||
          scope.get_ref<const std::string&>().size() > 200 ||
          scope.get_ref<const std::string&>().find_first_of(" \t\r\n") != std::string::npos) {
        return field_error(at("scopes"), "must hold scope names without spaces");
      }
      result.granted_scopes.push_back(scope.get<std::string>());
    }
  }
  if (const auto metadata = credentials.find("metadata"); metadata != credentials.end()) {
    auto checked = grant_metadata(metadata->dump());
    if (!checked) {
      return field_error(at("metadata"), "must be an object of at most 20 strings (names [a-z0-9_], values of at "
                                         "most 500 printable characters)");
    }
    result.metadata = std::move(*checked);
  }
  return result;
}

SourceRecord source_with_grant(const NewSource& made, nlohmann::json configuration, const Credentials& credentials,
                               const std::string& oauth_app_scope, const Sealer& sealer, int64_t now) {
  SourceRecord source = new_source(made, now);
  source.auth_type = "oauth2.0";
  source.oauth_app_scope = oauth_app_scope;
  source.granted_scopes = credentials.scopes_text();
  source.token_expires_at = credentials.expires_at;
  configuration.erase("credentials");
  configuration["auth_type"] = "oauth2.0";
  configuration["scopes"] = credentials.granted_scopes;
  configuration["account_id"] = credentials.account_id;
  configuration["account_name"] = credentials.account_name;
  if (!credentials.metadata.empty()) configuration["metadata"] = credentials.metadata;
  source.configuration_json = configuration.dump();
  seal_source_credentials(source, credentials.to_json().dump(), sealer);
  return source;
}

bool is_host_managed(const std::string& key) {
  for (const char* managed : host_managed_keys) {
    if (key == managed) return true;
  }
  return false;
}

std::optional<ApiError> change_configuration(SourceRecord& source, const nlohmann::json& incoming, bool replace,
                                             const Sealer& sealer, int64_t now) {
  const nlohmann::json current = configuration_of(source);
  for (const auto& [name, value] : incoming.items()) {
    if (!is_host_managed(name)) continue;
    if (!current.contains(name) || current[name] != value) {
      return field_error("configuration." + name, "is set by the host from the grant and cannot be changed");
    }
  }
  std::optional<Credentials> new_credentials;
  if (const auto credentials = incoming.find("credentials"); credentials != incoming.end()) {
    if (source.auth_type != "access_token") {
      return field_error("configuration.credentials",
                         "an OAuth source's credentials change only by re-authorizing it (sources/{id}/reauthorize)");
    }
    auto token = token_credentials(*credentials, now);
    if (!token) return token.error();
    new_credentials = std::move(*token);
  }
  nlohmann::json result = nlohmann::json::object();
  if (replace) {
    result = incoming;
  } else {
    result = current;
    result.merge_patch(incoming);
  }
  result.erase("credentials");
  for (const char* managed : host_managed_keys) {
    if (current.contains(managed)) result[managed] = current[managed];
  }
  source.configuration_json = result.dump();
  if (new_credentials) {
    seal_source_credentials(source, new_credentials->to_json().dump(), sealer);
    source.status = "active";
    source.status_detail.clear();
  }
  return std::nullopt;
}

std::optional<ReauthorizationRefused> reauthorize_source(SourceRecord& source, const Credentials& credentials,
                                                         const std::string& oauth_app_scope, const Sealer& sealer,
                                                         int64_t now) {
  nlohmann::json configuration = configuration_of(source);
  const std::string known_account = configuration.value("account_id", "");
  if (!known_account.empty() && !credentials.account_id.empty() && known_account != credentials.account_id) {
    return ReauthorizationRefused{"account_mismatch", "The provider account signed in (" + credentials.account_name +
                                                          ") is not the one this source was made for."};
  }
  configuration["scopes"] = credentials.granted_scopes;
  if (!credentials.account_id.empty()) {
    configuration["account_id"] = credentials.account_id;
    configuration["account_name"] = credentials.account_name;
  }
  if (!credentials.metadata.empty()) configuration["metadata"] = credentials.metadata;
  source.configuration_json = configuration.dump();
  // The new grant is a refresh as far as the token goes; the app and the lease change too.
  apply_refreshed_credentials(source, credentials, sealer, now);
  source.oauth_app_scope = oauth_app_scope;
  source.refresh_lease_owner.clear();
  source.refresh_lease_until.reset();
  source.updated_at = now;
  return std::nullopt;
}

void apply_refreshed_credentials(SourceRecord& source, const Credentials& credentials, const Sealer& sealer,
                                 int64_t now) {
  seal_source_credentials(source, credentials.to_json().dump(), sealer);
  // A refresh may move the grant (Salesforce answers with its instance_url again): show the new.
  if (!credentials.metadata.empty()) {
    nlohmann::json configuration = configuration_of(source);
    if (configuration.value("metadata", nlohmann::json()) != credentials.metadata) {
      configuration["metadata"] = credentials.metadata;
      source.configuration_json = configuration.dump();
    }
  }
  // Usable again: its status and its refresh record start over.
  source.status = "active";
  source.status_detail.clear();
  source.refresh_failures = 0;
  source.next_refresh_at.reset();
  source.last_refresh_error_json.clear();
  source.token_expires_at = credentials.expires_at;
  source.granted_scopes = credentials.scopes_text();
  source.last_refreshed_at = now;
}

} // namespace connector::core
