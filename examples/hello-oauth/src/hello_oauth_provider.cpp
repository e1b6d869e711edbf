// hello-oauth: a generic OAuth 2.0 provider, slug "example-oauth", built outside the host's
// tree against the installed ConnectorSDK alone. The operator names the endpoints; the plugin
// speaks plain RFC 6749 to them:
//
// - consent: the authorization code grant with PKCE S256 (RFC 7636) and an optional RFC 9207
//   issuer, so the host can reject a callback that names another authorization server;
// - exchange_code: POST token_url (client_secret_post), then GET userinfo_url with the new
//   access token to learn whose account it is (two SEND_REQUEST steps);
// - refresh: POST token_url with grant_type=refresh_token;
// - revoke: RFC 7009 at revoke_url, when one is configured;
// - check: GET userinfo_url, the cheapest call that proves the token works.
//
// Like every plugin it does no I/O: each network step returns an HttpRequest that the host
// sends, and the host calls the same operation again with the answer. C++17.
#include <connector/encoding.hpp>
#include <connector/oauth2.hpp>
#include <connector/plugin.hpp>
#include <connector/provider.hpp>
#include <connector/settings.hpp>

#include <nlohmann/json.hpp>

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

namespace {

namespace sdk = connector::sdk;
using sdk::Account;
using sdk::Done;
using sdk::Failure;
using sdk::FlowInput;
using sdk::HttpRequest;
using sdk::HttpResponse;
using sdk::InvalidInput;
using sdk::Params;
using sdk::Step;
using sdk::TokenSet;

// Stable forever: applications store it to create sources of this type.
constexpr const char* kSourceDefinitionId = "1b0674dd-6a5b-44a8-93e8-2d91896c4c0c";

constexpr const char* kSettingsSchema = R"json({
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["client_id", "client_secret", "authorize_url", "token_url", "userinfo_url"],
  "additionalProperties": false,
  "properties": {
    "client_id": {"type": "string", "minLength": 1, "title": "Client ID"},
    "client_secret": {"type": "string", "minLength": 1, "title": "Client secret", "x-secret": true, "writeOnly": true},
    "authorize_url": {"type": "string", "pattern": "^https://", "title": "Authorization endpoint",
                      "description": "Where the user's browser is sent to consent."},
    "token_url": {"type": "string", "pattern": "^https://", "title": "Token endpoint"},
    "userinfo_url": {"type": "string", "pattern": "^https://", "title": "User info endpoint",
                     "description": "Answers a bearer-token GET with the account as JSON (sub or id; preferred_username, email, login or name)."},
    "revoke_url": {"type": "string", "pattern": "^https://", "title": "Revocation endpoint (RFC 7009)"},
    "issuer": {"type": "string", "pattern": "^https://", "title": "Issuer (RFC 9207)",
               "description": "When set, a callback whose iss differs is refused."},
    "scopes": {"type": "array", "items": {"type": "string", "minLength": 1}, "title": "Scopes"}
  }
})json";

constexpr const char* kFlowOptionsSchema = R"json({
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "scopes": {"type": "array", "items": {"type": "string", "minLength": 1},
               "description": "Scopes asked in addition to the configured ones."},
    "login_hint": {"type": "string", "description": "Suggests an account on the sign-in page."}
  }
})json";

// ---- Settings ---------------------------------------------------------------------------

struct Settings {
  std::string client_id;
  std::string client_secret;
  std::string authorize_url;
  std::string token_url;
  std::string userinfo_url;
  std::string revoke_url; // empty: revoke is unsupported
  std::string issuer;     // empty: no RFC 9207 check
  std::vector<std::string> scopes;
  std::vector<std::string> allowed_hosts; // every host this plugin asks the host to call
};

// A URL setting the plugin cannot do without.
sdk::HttpsSetting required_url(const nlohmann::json& settings, const char* name) {
  std::optional<sdk::HttpsSetting> url = sdk::https_url_setting(settings, name, sdk::UrlUse::endpoint);
  if (!url) throw InvalidInput(std::string(name) + " is required");
  return std::move(*url);
}

// The host has checked the settings against kSettingsSchema (types, required and unknown
// keys) before create() runs; what is read here is what a schema cannot say: that each URL
// parses as https without user info, and which hosts the plugin will call.
Settings read_settings(const nlohmann::json& settings) {
  Settings out;
  out.client_id = sdk::required_string_setting(settings, "client_id");
  out.client_secret = sdk::required_string_setting(settings, "client_secret");
  out.authorize_url = required_url(settings, "authorize_url").url; // the browser goes there, not the host
  const sdk::HttpsSetting token = required_url(settings, "token_url");
  out.token_url = token.url;
  sdk::append_unique(out.allowed_hosts, token.host);
  const sdk::HttpsSetting userinfo = required_url(settings, "userinfo_url");
  out.userinfo_url = userinfo.url;
  sdk::append_unique(out.allowed_hosts, userinfo.host);
  if (const auto revoke = sdk::https_url_setting(settings, "revoke_url", sdk::UrlUse::endpoint)) {
    out.revoke_url = revoke->url;
    sdk::append_unique(out.allowed_hosts, revoke->host);
  }
  if (const auto issuer = sdk::https_url_setting(settings, "issuer", sdk::UrlUse::exact)) out.issuer = issuer->url;
  if (const nlohmann::json* scopes = sdk::setting(settings, "scopes")) out.scopes = sdk::scope_list(*scopes, "scopes");
  return out;
}

// ---- The tokens carried from the token step to the userinfo step ------------------------

// The userinfo answer carries no tokens, so the token answer travels in the continuation,
// which the host keeps in memory for this one call chain and hands back with the next answer.
constexpr const char* kUserinfoStep = "example_oauth_userinfo_v1";

// ---- User info -------------------------------------------------------------------------

bool is_success(unsigned status) { return status >= 200 && status < 300; }

// OpenID Connect answers {"sub": ...}; GitHub-like APIs {"id": 42, "login": ...}.
std::optional<Account> read_account(const HttpResponse& response) {
  const nlohmann::json user = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (!user.is_object()) return std::nullopt;
  Account account;
  for (const char* key : {"sub", "id"}) {
    if (account.account_id.empty()) account.account_id = sdk::string_member(user, key);
  }
  for (const char* key : {"preferred_username", "email", "login", "name"}) {
    if (account.account_name.empty()) account.account_name = sdk::string_member(user, key);
  }
  if (account.account_id.empty()) return std::nullopt;
  return account;
}

Failure token_refused() {
  return Failure{CONNECTOR_STATUS_GRANT_INVALID, "invalid_token", "the user info endpoint refused the access token"};
}

// ---- The provider ----------------------------------------------------------------------

class ExampleOAuthProvider final : public sdk::IOAuthProvider {
public:
  static sdk::Descriptor describe() {
    sdk::Descriptor descriptor;
    descriptor.slug = "example-oauth";
    descriptor.display_name = "Example OAuth 2.0 provider";
    descriptor.version = "1.0.0";
    descriptor.documentation_url = "https://www.rfc-editor.org/rfc/rfc6749";
    descriptor.source_definitions = {{kSourceDefinitionId, "Example OAuth"}};
    descriptor.default_scopes = {}; // the operator's `scopes` setting decides
    descriptor.supports_pkce = true;
    descriptor.supports_refresh = true;
    descriptor.supports_revoke = true; // with revoke_url; without, a revocation is reported as not done
    descriptor.hosts = {};             // all come from the settings
    descriptor.settings_schema = nlohmann::json::parse(kSettingsSchema);
    descriptor.flow_options_schema = nlohmann::json::parse(kFlowOptionsSchema);
    return descriptor;
  }

  static std::unique_ptr<sdk::IOAuthProvider> create(const nlohmann::json& settings) {
    return std::unique_ptr<sdk::IOAuthProvider>(new ExampleOAuthProvider(read_settings(settings)));
  }

  std::vector<std::string> allowed_hosts() const override { return settings_.allowed_hosts; }
  std::string issuer() const override { return settings_.issuer; }

  std::string authorization_url(const FlowInput& input) const override {
    require(input.redirect_uri, "redirect_uri");
    require(input.state, "state");
    std::vector<std::string> scopes = settings_.scopes;
    std::string login_hint;
    // The host has checked the options against kFlowOptionsSchema; read them defensively anyway.
    if (input.options.is_object()) {
      if (const auto extra = input.options.find("scopes"); extra != input.options.end()) {
        for (const auto& scope : sdk::scope_list(*extra, "flow option scopes"))
          sdk::append_unique(scopes, scope);
      }
      login_hint = input.options.value("login_hint", "");
    }
    Params params{{"response_type", "code"}, {"client_id", settings_.client_id}, {"redirect_uri", input.redirect_uri}};
    const std::string scope = sdk::join_scopes(scopes);
    if (!scope.empty()) params.emplace_back("scope", scope);
    params.emplace_back("state", input.state);
    if (!input.code_challenge.empty()) {
      params.emplace_back("code_challenge", input.code_challenge);
      params.emplace_back("code_challenge_method", "S256");
    }
    if (!login_hint.empty()) params.emplace_back("login_hint", login_hint);
    return sdk::with_query(settings_.authorize_url, params);
  }

  // Three calls: token request, then userinfo request, then the result.
  Step<TokenSet> exchange_code(const FlowInput& input, const HttpResponse* response) const override {
    if (response == nullptr) {
      require(input.code, "code");
      require(input.redirect_uri, "redirect_uri");
      Params form{{"grant_type", "authorization_code"}, {"code", input.code}, {"redirect_uri", input.redirect_uri}};
      if (!input.code_verifier.empty()) form.emplace_back("code_verifier", input.code_verifier);
      return token_request(std::move(form));
    }
    if (input.continuation.empty()) { // the token endpoint's answer
      Step<TokenSet> step = sdk::parse_token_response(*response);
      const auto* tokens = std::get_if<TokenSet>(&step);
      if (tokens == nullptr) return step;
      std::optional<std::string> continuation = sdk::tokens_to_continuation(*tokens, kUserinfoStep);
      if (!continuation) return sdk::unusable_answer(*response, "the token endpoint's answer is not UTF-8");
      return userinfo_request(tokens->access_token, std::move(*continuation));
    }
    std::optional<TokenSet> tokens = sdk::tokens_from_continuation(input.continuation, kUserinfoStep);
    if (!tokens) {
      return Failure{CONNECTOR_STATUS_INVALID_INPUT, "bad_continuation", "the continuation is not this plugin's"};
    }
    // The code is spent by now: only a definite "this token is bad" fails the exchange; any
    // other trouble leaves the account unknown and keeps the tokens.
    if (response->status == 401) return token_refused();
    if (const auto account = is_success(response->status) ? read_account(*response) : std::nullopt) {
      tokens->account_id = account->account_id;
      tokens->account_name = account->account_name;
    } else {
      sdk::log(CONNECTOR_LOG_WARNING, "the user info endpoint answered HTTP " + std::to_string(response->status) +
                                          " without an account id; the account stays unknown");
    }
    return *tokens;
  }

  Step<TokenSet> refresh(const FlowInput& input, const HttpResponse* response) const override {
    if (response == nullptr) {
      require(input.refresh_token, "refresh_token");
      return token_request({{"grant_type", "refresh_token"}, {"refresh_token", input.refresh_token}});
    }
    // An answer without refresh_token leaves TokenSet::refresh_token empty: the host keeps its own.
    return sdk::parse_token_response(*response);
  }

  // RFC 7009: revoking the refresh token ends the whole grant at most servers; the access
  // token is the fallback when there is no refresh token.
  Step<Done> revoke(const FlowInput& input, const HttpResponse* response) const override {
    if (settings_.revoke_url.empty()) return unsupported("revoke");
    if (response == nullptr) {
      const bool has_refresh_token = !input.refresh_token.empty();
      const std::string& token = has_refresh_token ? input.refresh_token : input.access_token;
      require(token, "refresh_token or access_token");
      return form_post(settings_.revoke_url, {{"token", token},
                                              {"token_type_hint", has_refresh_token ? "refresh_token" : "access_token"},
                                              {"client_id", settings_.client_id},
                                              {"client_secret", settings_.client_secret}});
    }
    // RFC 7009 section 2.2: 200 also for a token the server no longer knows.
    if (is_success(response->status)) return Done{};
    const auto body = sdk::parse_token_body(*response);
    if (body) {
      if (auto failure = sdk::oauth_error(*body)) return *failure;
    }
    return sdk::unusable_answer(*response, "the revocation endpoint refused the request");
  }

  Step<Account> check(const FlowInput& input, const HttpResponse* response) const override {
    if (response == nullptr) {
      require(input.access_token, "access_token");
      return userinfo_request(input.access_token, {});
    }
    if (response->status == 401) return token_refused();
    if (!is_success(response->status)) return sdk::unusable_answer(*response, "the user info call failed");
    std::optional<Account> account = read_account(*response);
    if (!account) return sdk::unusable_answer(*response, "the user info answer has no sub or id");
    return *account;
  }

private:
  explicit ExampleOAuthProvider(Settings settings) : settings_(std::move(settings)) {}

  static void require(const std::string& value, const char* name) {
    if (value.empty()) throw InvalidInput(std::string(name) + " is required");
  }

  static HttpRequest form_post(const std::string& url, const Params& form) {
    HttpRequest request;
    request.method = "POST";
    request.url = url;
    request.headers = {{"Accept", "application/json"}, {"Content-Type", "application/x-www-form-urlencoded"}};
    request.body = sdk::form_encode(form);
    return request;
  }

  // client_secret_post (RFC 6749 section 2.3.1): the credentials go in the form.
  HttpRequest token_request(Params form) const {
    form.emplace_back("client_id", settings_.client_id);
    form.emplace_back("client_secret", settings_.client_secret);
    return form_post(settings_.token_url, form);
  }

  HttpRequest userinfo_request(const std::string& access_token, std::string continuation) const {
    HttpRequest request;
    request.method = "GET";
    request.url = settings_.userinfo_url;
    request.headers = {{"Accept", "application/json"}, {"Authorization", "Bearer " + access_token}};
    request.continuation = std::move(continuation);
    return request;
  }

  Settings settings_;
};

} // namespace

CONNECTOR_REGISTER_PROVIDER(ExampleOAuthProvider)
