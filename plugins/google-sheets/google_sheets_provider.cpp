// The Google Sheets provider: Google's OAuth 2.0 web-server flow with the read-only Sheets and
// Drive scopes that Airbyte's Google Sheets source asks for. It builds the consent URL and the
// token, refresh, revoke and check requests, and reads Google's answers; the host sends them.
// What it knows of Google (endpoints, parameters, error answers) follows Google's own documentation.
#include <connector/encoding.hpp>
#include <connector/oauth2.hpp>
#include <connector/plugin.hpp>
#include <connector/provider.hpp>
#include <connector/settings.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace {

namespace sdk = connector::sdk;
using nlohmann::json;

constexpr const char* kDefaultAuthUri = "https://accounts.google.com/o/oauth2/v2/auth";
constexpr const char* kDefaultTokenUri = "https://oauth2.googleapis.com/token";
constexpr const char* kDefaultRevokeUri = "https://oauth2.googleapis.com/revoke";
constexpr const char* kDefaultApiBaseUrl = "https://sheets.googleapis.com";
constexpr const char* kDefaultDriveApiUrl = "https://www.googleapis.com";
constexpr const char* kDefaultIssuer = "https://accounts.google.com";
constexpr const char* kDefaultPrompt = "consent";

// Airbyte's Google Sheets source definition: clients store this id, so it never changes.
constexpr const char* kSourceDefinitionId = "71607ba1-c0ac-4799-8049-7f4b90dd50f7";

const std::vector<std::string>& default_scopes() {
  static const std::vector<std::string> scopes{"https://www.googleapis.com/auth/spreadsheets.readonly",
                                               "https://www.googleapis.com/auth/drive.readonly"};
  return scopes;
}

// RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ). A space inside one would
// silently split it into two scopes once joined.
constexpr const char* kScopeTokenPattern = "^[\\x21\\x23-\\x5B\\x5D-\\x7E]+$";

// RFC 7636 section 4.2: an S256 challenge is 43 base64url characters; the grammar allows up to 128.
bool is_pkce_value(const std::string& value) {
  if (value.size() < 43 || value.size() > 128) return false;
  return std::all_of(value.begin(), value.end(),
                     [](char c) { return sdk::is_unreserved(static_cast<unsigned char>(c)); });
}

// Tokens go into an Authorization header: refuse anything that could end the header line.
bool is_header_safe(const std::string& value) {
  return std::all_of(value.begin(), value.end(), [](char ch) {
    const auto c = static_cast<unsigned char>(ch);
    return c >= 0x20 && c < 0x7F;
  });
}

// A key name the operator typed, short and printable, for an error message. Only names are ever
// quoted back, never values: a value may be a secret pasted into the wrong field.
std::string quoted_name(const std::string& name) {
  return "\"" + sdk::sanitize_description(std::string_view(name).substr(0, 64)) + "\"";
}

// Google's prompt: space-delimited, case-sensitive values; `none` must stand alone.
bool is_valid_prompt(std::string_view prompt) {
  std::vector<std::string_view> values;
  while (true) {
    const std::size_t space = prompt.find(' ');
    const std::string_view value = prompt.substr(0, space);
    if (value != "none" && value != "consent" && value != "select_account") return false;
    if (std::find(values.begin(), values.end(), value) != values.end()) return false;
    values.push_back(value);
    if (space == std::string_view::npos) break;
    prompt.remove_prefix(space + 1);
  }
  return values.size() == 1 || std::find(values.begin(), values.end(), "none") == values.end();
}

// ---- Settings --------------------------------------------------------------------------------

struct GoogleSheetsSettings {
  std::string client_id;
  std::string client_secret;
  sdk::HttpsSetting auth_uri;
  sdk::HttpsSetting token_uri;
  sdk::HttpsSetting revoke_uri;
  sdk::HttpsSetting api_base_url;
  sdk::HttpsSetting drive_api_url;
  std::string issuer;
  std::vector<std::string> scopes;
};

// Google's downloadable client_secret.json nests the client under "web" (or "installed") with the
// very key names used here, so an operator can paste the file as it is. Top-level keys win over
// the nested ones, so a pasted file can still be pointed at another token endpoint.
json flatten_client_secret_file(const json& settings) {
  const bool has_web = settings.contains("web");
  const bool has_installed = settings.contains("installed");
  if (!has_web && !has_installed) return settings;
  if (has_web && has_installed) throw sdk::InvalidInput("settings may hold \"web\" or \"installed\", not both");

  const char* const section = has_web ? "web" : "installed";
  const json& client = settings.at(section);
  if (!client.is_object()) throw sdk::InvalidInput(std::string("settings \"") + section + "\" must be a JSON object");

  json flat = json::object();
  // The file's other members (project_id, redirect_uris, ...) describe the Google project, not
  // this client: they are ignored rather than refused.
  for (const char* key : {"client_id", "client_secret", "auth_uri", "token_uri"}) {
    if (client.contains(key)) flat[key] = client.at(key);
  }
  for (const auto& item : settings.items()) {
    if (item.key() != section) flat[item.key()] = item.value();
  }
  return flat;
}

// An https URL setting, or the provider's own URL when it is not set.
sdk::HttpsSetting url_setting(const json& settings, const char* name, const char* fallback, sdk::UrlUse use) {
  if (auto setting = sdk::https_url_setting(settings, name, use)) return std::move(*setting);
  return sdk::HttpsSetting{fallback, sdk::parse_https_url(fallback)->host};
}

GoogleSheetsSettings read_settings(const json& raw_settings) {
  const json settings = flatten_client_secret_file(raw_settings);

  GoogleSheetsSettings out;
  out.client_id = sdk::required_string_setting(settings, "client_id");
  out.client_secret = sdk::required_string_setting(settings, "client_secret");
  out.auth_uri = url_setting(settings, "auth_uri", kDefaultAuthUri, sdk::UrlUse::endpoint);
  out.token_uri = url_setting(settings, "token_uri", kDefaultTokenUri, sdk::UrlUse::endpoint);
  out.revoke_uri = url_setting(settings, "revoke_uri", kDefaultRevokeUri, sdk::UrlUse::endpoint);
  out.api_base_url = url_setting(settings, "api_base_url", kDefaultApiBaseUrl, sdk::UrlUse::base);
  out.drive_api_url = url_setting(settings, "drive_api_url", kDefaultDriveApiUrl, sdk::UrlUse::base);
  // RFC 9207 compares the callback's iss to it character by character.
  out.issuer = url_setting(settings, "issuer", kDefaultIssuer, sdk::UrlUse::exact).url;

  out.scopes = default_scopes();
  if (const json* scopes = sdk::setting(settings, "scopes")) {
    out.scopes = sdk::scope_list(*scopes, "scopes");
    // Google refuses a consent request without scope; say so now rather than at the first flow.
    if (out.scopes.empty()) throw sdk::InvalidInput("scopes must name at least one scope");
  }
  return out;
}

// ---- Flow options ----------------------------------------------------------------------------

struct FlowOptions {
  std::vector<std::string> extra_scopes;
  std::string login_hint;
  std::string prompt = kDefaultPrompt;
};

// The host validates options against flow_options_schema already; this repeats the checks so a
// host with a laxer validator still cannot produce a consent URL Google would refuse.
FlowOptions read_flow_options(const json& options) {
  FlowOptions out;
  if (options.is_null()) return out;
  if (!options.is_object()) throw sdk::InvalidInput("flow options must be a JSON object");
  for (const auto& item : options.items()) {
    const json& value = item.value();
    if (item.key() == "scopes") {
      out.extra_scopes = sdk::scope_list(value, "flow option scopes");
    } else if (item.key() == "login_hint") {
      if (!value.is_string() || value.get_ref<const std::string&>().empty()) {
        throw sdk::InvalidInput("flow option login_hint must be a non-empty string");
      }
      out.login_hint = value.get<std::string>();
    } else if (item.key() == "prompt") {
      if (!value.is_string() || !is_valid_prompt(value.get_ref<const std::string&>())) {
        throw sdk::InvalidInput("flow option prompt must be space-separated values from consent and select_account, "
                                "or none alone");
      }
      out.prompt = value.get<std::string>();
    } else {
      throw sdk::InvalidInput("unknown flow option " + quoted_name(item.key()));
    }
  }
  return out;
}

// ---- Descriptor ------------------------------------------------------------------------------

json https_url_schema(const char* description, const char* fallback) {
  return {{"type", "string"},
          {"format", "uri"},
          {"pattern", "^https://"},
          {"description", description},
          {"default", fallback}};
}

json scope_list_schema(const char* description) {
  // Google's scopes are URLs of under a hundred characters, and a consent asks for a few.
  return {{"type", "array"},
          {"items", {{"type", "string"}, {"maxLength", 256}, {"pattern", kScopeTokenPattern}}},
          {"maxItems", 50},
          {"uniqueItems", true},
          {"description", description}};
}

json client_secret_file_schema(const char* description) {
  return {{"type", "object"},
          {"description", description},
          {"properties",
           {{"client_id", {{"type", "string"}, {"minLength", 1}}},
            {"client_secret", {{"type", "string"}, {"minLength", 1}, {"x-secret", true}}},
            {"auth_uri", {{"type", "string"}, {"format", "uri"}, {"pattern", "^https://"}}},
            {"token_uri", {{"type", "string"}, {"format", "uri"}, {"pattern", "^https://"}}}}},
          {"required", json::array({"client_id", "client_secret"})}};
}

json settings_schema() {
  json scopes = scope_list_schema("Scopes to ask for; replaces the defaults.");
  scopes["minItems"] = 1;
  scopes["default"] = default_scopes();
  scopes["x-organization-app"] = true;
  return {{"type", "object"},
          {"title", "Google Sheets OAuth client"},
          {"description", "The OAuth client from the Google Cloud console: either client_id and client_secret, or the "
                          "downloaded client_secret.json as it is."},
          {"properties",
           {{"client_id", {{"type", "string"}, {"minLength", 1}, {"title", "Client ID"}, {"x-organization-app", true}}},
            {"client_secret",
             {{"type", "string"},
              {"minLength", 1},
              {"title", "Client secret"},
              {"x-secret", true},
              {"x-organization-app", true}}},
            {"auth_uri", https_url_schema("Google's consent page.", kDefaultAuthUri)},
            {"token_uri", https_url_schema("Google's token endpoint.", kDefaultTokenUri)},
            {"revoke_uri", https_url_schema("Google's revocation endpoint.", kDefaultRevokeUri)},
            {"api_base_url", https_url_schema("The Sheets API the source reads with the token.", kDefaultApiBaseUrl)},
            {"drive_api_url",
             https_url_schema("The Drive API that the check call asks who the user is.", kDefaultDriveApiUrl)},
            {"issuer", https_url_schema("The iss value Google puts on the callback (RFC 9207).", kDefaultIssuer)},
            {"scopes", scopes},
            {"web", client_secret_file_schema("client_secret.json of a web application client.")},
            {"installed", client_secret_file_schema("client_secret.json of a desktop client.")}}},
          // Either the flat keys or the downloaded file; a plain "required" would refuse the file.
          {"anyOf",
           json::array({json{{"required", json::array({"client_id", "client_secret"})}},
                        json{{"required", json::array({"web"})}}, json{{"required", json::array({"installed"})}}})},
          {"additionalProperties", false}};
}

json flow_options_schema() {
  return {
      {"type", "object"},
      {"properties",
       {{"scopes", scope_list_schema("Scopes to ask for in addition to the configured ones.")},
        {"login_hint",
         {{"type", "string"}, {"minLength", 1}, {"maxLength", 320}, {"description", "E-mail address to preselect."}}},
        {"prompt",
         {{"type", "string"},
          {"enum",
           json::array({"none", "consent", "select_account", "consent select_account", "select_account consent"})},
          {"default", kDefaultPrompt},
          {"description", "Google shows the consent screen (and so issues a refresh token) only with consent."}}}}},
      {"additionalProperties", false}};
}

// ---- Provider --------------------------------------------------------------------------------

sdk::Failure missing_input(const std::string& what, const char* operation) {
  return sdk::Failure{CONNECTOR_STATUS_INVALID_INPUT, "invalid_input", what + " is required to " + operation};
}

// Google's front ends answer 5xx and 429 with bodies of every kind, some carrying an `error`
// member the SDK would take as a definite refusal; at these statuses a retry is the right call.
sdk::Step<sdk::TokenSet> read_token_answer(const sdk::HttpResponse& response) {
  sdk::Step<sdk::TokenSet> step = sdk::parse_token_response(response);
  if (auto* failure = std::get_if<sdk::Failure>(&step); failure && (response.status >= 500 || response.status == 429)) {
    failure->status = CONNECTOR_STATUS_TRANSIENT;
  }
  return step;
}

// Drive answers 403 both for a missing scope (definite: the user unticked Drive on the consent
// screen) and for rate limits (worth a retry); only the first is marked like this.
bool reports_missing_scope(const sdk::HttpResponse& response) {
  if (response.header("WWW-Authenticate").find("insufficient_scope") != std::string::npos) return true;
  const json body = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  const auto error = body.find("error");
  if (error == body.end() || !error->is_object()) return false;
  for (const char* list_name : {"errors", "details"}) {
    const auto list = error->find(list_name);
    if (list == error->end() || !list->is_array()) continue;
    for (const auto& entry : *list) {
      const std::string reason = entry.is_object() ? sdk::string_member(entry, "reason") : std::string();
      if (reason == "insufficientPermissions" || reason == "ACCESS_TOKEN_SCOPE_INSUFFICIENT") return true;
    }
  }
  return false;
}

class GoogleSheetsProvider final : public sdk::IOAuthProvider {
public:
  static sdk::Descriptor describe() {
    sdk::Descriptor d;
    d.slug = "google-sheets";
    d.display_name = "Google Sheets";
    d.version = "1.0.0";
    d.documentation_url = "https://developers.google.com/identity/protocols/oauth2/web-server";
    d.source_definitions = {{kSourceDefinitionId, "Google Sheets"}};
    d.default_scopes = default_scopes();
    d.supports_pkce = true;
    d.supports_refresh = true;
    d.supports_revoke = true;
    d.hosts = {"accounts.google.com", "oauth2.googleapis.com", "sheets.googleapis.com", "www.googleapis.com"};
    d.settings_schema = settings_schema();
    d.flow_options_schema = flow_options_schema();
    return d;
  }

  static std::unique_ptr<sdk::IOAuthProvider> create(const json& settings) {
    return std::make_unique<GoogleSheetsProvider>(read_settings(settings));
  }

  explicit GoogleSheetsProvider(GoogleSheetsSettings settings) : settings_(std::move(settings)) {}

  std::vector<std::string> allowed_hosts() const override {
    std::vector<std::string> hosts;
    for (const sdk::HttpsSetting* url : {&settings_.auth_uri, &settings_.token_uri, &settings_.revoke_uri,
                                         &settings_.api_base_url, &settings_.drive_api_url}) {
      sdk::append_unique(hosts, url->host);
    }
    return hosts;
  }

  std::string issuer() const override { return settings_.issuer; }

  std::string authorization_url(const sdk::FlowInput& input) const override {
    if (input.redirect_uri.empty()) throw sdk::InvalidInput("redirect_uri is required for the consent URL");
    if (input.state.empty()) throw sdk::InvalidInput("state is required for the consent URL");
    if (!input.code_challenge.empty() && !is_pkce_value(input.code_challenge)) {
      throw sdk::InvalidInput("code_challenge is not an RFC 7636 S256 challenge");
    }
    const FlowOptions options = read_flow_options(input.options);

    std::vector<std::string> scopes = settings_.scopes;
    for (const auto& scope : options.extra_scopes)
      sdk::append_unique(scopes, scope);

    // The order is Airbyte's, so its consent URLs and ours compare equal.
    sdk::Params query{{"client_id", settings_.client_id},
                      {"redirect_uri", input.redirect_uri},
                      {"response_type", "code"},
                      {"scope", sdk::join_scopes(scopes)},
                      // Without offline access Google issues no refresh token at all.
                      {"access_type", "offline"},
                      {"state", input.state},
                      {"include_granted_scopes", "true"},
                      // Google sends a refresh token only when its consent screen was shown.
                      {"prompt", options.prompt}};
    if (!options.login_hint.empty()) query.emplace_back("login_hint", options.login_hint);
    if (!input.code_challenge.empty()) {
      query.emplace_back("code_challenge", input.code_challenge);
      query.emplace_back("code_challenge_method", "S256");
    }
    return sdk::with_query(settings_.auth_uri.url, query);
  }

  sdk::Step<sdk::TokenSet> exchange_code(const sdk::FlowInput& input,
                                         const sdk::HttpResponse* response) const override {
    if (response != nullptr) {
      sdk::Step<sdk::TokenSet> step = read_token_answer(*response);
      if (const auto* tokens = std::get_if<sdk::TokenSet>(&step); tokens && !tokens->refresh_token) {
        sdk::log(CONNECTOR_LOG_WARNING, "Google issued no refresh token: the consent screen was not shown "
                                        "(prompt without consent after an earlier grant)");
      }
      return step;
    }
    if (input.code.empty()) return missing_input("the authorization code", "exchange it");
    if (input.redirect_uri.empty()) return missing_input("redirect_uri", "exchange the code");

    // redirect_uri must be the one the consent URL carried (RFC 6749 section 4.1.3).
    sdk::Params form{{"grant_type", "authorization_code"},
                     {"code", input.code},
                     {"client_id", settings_.client_id},
                     {"client_secret", settings_.client_secret},
                     {"redirect_uri", input.redirect_uri}};
    if (!input.code_verifier.empty()) form.emplace_back("code_verifier", input.code_verifier);
    return token_request(form);
  }

  sdk::Step<sdk::TokenSet> refresh(const sdk::FlowInput& input, const sdk::HttpResponse* response) const override {
    // Google's refresh answer has no refresh_token; parse_token_response leaves it nullopt so the
    // host keeps the stored one.
    if (response != nullptr) return read_token_answer(*response);
    if (input.refresh_token.empty()) return missing_input("a refresh token", "refresh");

    return token_request({{"grant_type", "refresh_token"},
                          {"refresh_token", input.refresh_token},
                          {"client_id", settings_.client_id},
                          {"client_secret", settings_.client_secret}});
  }

  sdk::Step<sdk::Done> revoke(const sdk::FlowInput& input, const sdk::HttpResponse* response) const override {
    if (response != nullptr) return read_revoke_answer(*response);
    // Revoking the refresh token ends the whole grant; an access token only ends itself and its
    // refresh token, which is the best there is when none is stored.
    const std::string& token = input.refresh_token.empty() ? input.access_token : input.refresh_token;
    if (token.empty()) return missing_input("a refresh or access token", "revoke");

    sdk::HttpRequest request;
    request.method = "POST";
    request.url = settings_.revoke_uri.url;
    request.headers = {{"Content-Type", "application/x-www-form-urlencoded"}, {"Accept", "application/json"}};
    request.body = sdk::form_encode({{"token", token}});
    return request;
  }

  sdk::Step<sdk::Account> check(const sdk::FlowInput& input, const sdk::HttpResponse* response) const override {
    if (response != nullptr) return read_about_answer(*response);
    if (input.access_token.empty()) return missing_input("an access token", "check it");
    if (!is_header_safe(input.access_token)) {
      return sdk::Failure{CONNECTOR_STATUS_INVALID_INPUT, "invalid_input",
                          "the access token holds characters that cannot go in a header"};
    }

    // Drive's about is cheap, covered by drive.readonly and names the user. tokeninfo would do
    // without a scope but wants the token in the URL, where proxies and logs keep it.
    sdk::HttpRequest request;
    request.method = "GET";
    request.url = sdk::with_query(settings_.drive_api_url.url + "/drive/v3/about", {{"fields", "user"}});
    request.headers = {{"Authorization", "Bearer " + input.access_token}, {"Accept", "application/json"}};
    return request;
  }

private:
  sdk::HttpRequest token_request(const sdk::Params& form) const {
    sdk::HttpRequest request;
    request.method = "POST";
    request.url = settings_.token_uri.url;
    request.headers = {{"Content-Type", "application/x-www-form-urlencoded"}, {"Accept", "application/json"}};
    request.body = sdk::form_encode(form);
    return request;
  }

  static sdk::Step<sdk::Done> read_revoke_answer(const sdk::HttpResponse& response) {
    if (response.status >= 200 && response.status < 300) return sdk::Done{};
    // invalid_token: the token is already expired or revoked. The goal, a dead grant, is met.
    if (response.status == 400) {
      const std::optional<json> body = sdk::parse_token_body(response);
      if (body && sdk::string_member(*body, "error") == "invalid_token") return sdk::Done{};
    }
    return sdk::unusable_answer(response, "Google did not confirm the revocation");
  }

  static sdk::Step<sdk::Account> read_about_answer(const sdk::HttpResponse& response) {
    if (response.status == 401) {
      return sdk::Failure{CONNECTOR_STATUS_GRANT_INVALID, "invalid_token",
                          "Google refused the access token (HTTP 401)"};
    }
    if (response.status == 403 && reports_missing_scope(response)) {
      return sdk::Failure{CONNECTOR_STATUS_PROVIDER_REJECTED, "insufficient_scope",
                          "the grant lacks Drive read access (drive.readonly); the user must consent again"};
    }
    if (response.status < 200 || response.status >= 300) {
      return sdk::unusable_answer(response, "Google Drive refused the account check");
    }

    const json body = json::parse(response.body, nullptr, /*allow_exceptions=*/false);
    const auto user = body.find("user");
    if (user == body.end() || !user->is_object()) {
      return sdk::unusable_answer(response, "Google Drive's about answer names no user");
    }
    sdk::Account account;
    account.account_id = sdk::string_member(*user, "permissionId");
    if (account.account_id.empty()) return sdk::unusable_answer(response, "Google Drive's user has no permissionId");
    account.account_name = sdk::string_member(*user, "emailAddress");
    if (account.account_name.empty()) account.account_name = sdk::string_member(*user, "displayName");
    return account;
  }

  GoogleSheetsSettings settings_;
};

} // namespace

CONNECTOR_REGISTER_PROVIDER(GoogleSheetsProvider)
