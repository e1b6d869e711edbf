// GitHub as an OAuth provider: OAuth Apps and GitHub App user-to-server tokens, on github.com
// or on a GitHub Enterprise Server. Built against the SDK alone, C++17, no I/O: every network
// step is a request description the host sends (see connector/provider.hpp).
//
// GitHub's dialect, and where this file deals with it:
// - the token endpoint answers errors with HTTP 200 and, without `Accept: application/json`,
//   with a form-encoded body: parse_token_response() in the SDK reads both;
// - granted scopes come back comma-separated ("repo,gist"), token_type in lower case;
// - the token answer carries no identity, so exchange_code makes a second call, GET /user;
// - GitHub App tokens expire (expires_in, refresh_token, refresh_token_expires_in) and their
//   refresh tokens are single-use; OAuth App tokens do not expire and have no refresh token;
// - revoking is a REST call authenticated as the app (Basic auth), not an RFC 7009 endpoint.
#include <connector/encoding.hpp>
#include <connector/oauth2.hpp>
#include <connector/plugin.hpp>
#include <connector/provider.hpp>
#include <connector/settings.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace {

using connector::sdk::Account;
using connector::sdk::Descriptor;
using connector::sdk::Done;
using connector::sdk::Failure;
using connector::sdk::FlowInput;
using connector::sdk::HttpRequest;
using connector::sdk::HttpResponse;
using connector::sdk::InvalidInput;
using connector::sdk::IOAuthProvider;
using connector::sdk::Params;
using connector::sdk::Step;
using connector::sdk::TokenSet;
using connector::sdk::UrlUse;

// Airbyte's GitHub source definition id: clients that already know it keep working.
constexpr const char* kSourceDefinitionId = "ef69ef6e-aa7f-4af1-a01d-ef775033524e";
constexpr const char* kDefaultBaseUrl = "https://github.com";
constexpr const char* kDefaultApiUrl = "https://api.github.com";
// GitHub's REST API refuses requests without a User-Agent.
constexpr const char* kUserAgent = "connector-host";
// Pinning the REST API version keeps the /user and revoke answers stable across GitHub releases.
constexpr const char* kApiVersion = "2022-11-28";

// What a connector that reads needs: the widely used Airbyte GitHub connector's list without
// `workflow`, which grants writing a repository's workflow files. (`repo` is GitHub's only
// scope that reads private repositories: it has no read-only one.)
std::vector<std::string> default_scopes() {
  return {"repo", "read:org", "read:repo_hook", "read:user", "read:project", "read:discussion"};
}

constexpr const char* kSettingsSchema = R"json({
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "required": ["client_id", "client_secret"],
  "additionalProperties": false,
  "properties": {
    "client_id": {
      "type": "string", "minLength": 1, "title": "Client ID", "x-organization-app": true,
      "description": "The OAuth App's or GitHub App's client ID (e.g. Iv1.0123456789abcdef)."
    },
    "client_secret": {
      "type": "string", "minLength": 1, "title": "Client secret",
      "x-secret": true, "writeOnly": true, "x-organization-app": true
    },
    "base_url": {
      "type": "string", "format": "uri", "pattern": "^https://", "default": "https://github.com",
      "title": "GitHub web URL",
      "description": "https://github.com, or a GitHub Enterprise Server such as https://github.example.com."
    },
    "api_url": {
      "type": "string", "format": "uri", "pattern": "^https://", "title": "GitHub REST API URL",
      "description": "Defaults to https://api.github.com for github.com and to base_url + /api/v3 otherwise."
    },
    "scopes": {
      "type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 100}, "maxItems": 50,
      "title": "Scopes", "x-organization-app": true,
      "description": "Replaces the default scopes. Empty for a GitHub App, whose permissions are set on the app."
    },
    "allow_signup": {
      "type": "boolean", "title": "Offer sign-up",
      "description": "Whether the consent page offers unauthenticated users to create a GitHub account."
    }
  }
})json";

constexpr const char* kFlowOptionsSchema = R"json({
  "$schema": "https://json-schema.org/draft/2020-12/schema",
  "type": "object",
  "additionalProperties": false,
  "properties": {
    "scopes": {
      "type": "array", "items": {"type": "string", "minLength": 1, "maxLength": 100}, "maxItems": 50,
      "description": "Scopes asked in addition to the configured ones."
    },
    "login": {"type": "string", "maxLength": 100, "description": "Suggests this GitHub account on the sign-in page."},
    "prompt": {"type": "string", "enum": ["select_account"], "description": "Forces the account picker."}
  }
})json";

// ---- Small helpers ---------------------------------------------------------------------

std::string to_lower(std::string text) {
  for (auto& c : text)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

bool is_success(unsigned status) { return status >= 200 && status < 300; }

// A REST API failure; GitHub explains itself in a JSON `message`, which is worth keeping.
Failure api_failure(const HttpResponse& response, std::string_view what) {
  Failure failure = connector::sdk::unusable_answer(response, what);
  const nlohmann::json body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_object()) {
    const std::string message = connector::sdk::string_member(body, "message");
    if (!message.empty()) failure.description += ": " + connector::sdk::sanitize_description(message);
  }
  return failure;
}

// ---- Settings --------------------------------------------------------------------------

struct GithubSettings {
  std::string client_id;
  std::string client_secret;
  std::string base_url; // no trailing slash
  std::string api_url;  // no trailing slash
  std::vector<std::string> allowed_hosts;
  std::vector<std::string> scopes;
  std::optional<bool> allow_signup;
};

GithubSettings read_settings(const nlohmann::json& settings) {
  GithubSettings out;
  out.client_id = connector::sdk::required_string_setting(settings, "client_id");
  // The client id goes into the revoke URL's path and into Basic credentials, where a space, a
  // colon or a control character would change the meaning.
  if (!std::all_of(out.client_id.begin(), out.client_id.end(), [](char ch) {
        const auto c = static_cast<unsigned char>(ch);
        return c > 0x20 && c < 0x7F && c != ':';
      })) {
    throw InvalidInput("client_id must be printable ASCII without spaces or colons");
  }
  out.client_secret = connector::sdk::required_string_setting(settings, "client_secret");

  // Endpoint paths are appended to both URLs.
  const auto base = connector::sdk::https_url_setting(settings, "base_url", UrlUse::base);
  out.base_url = base ? base->url : kDefaultBaseUrl;
  const std::string base_host = base ? base->host : "github.com";
  out.allowed_hosts = {base_host};
  if (const auto api = connector::sdk::https_url_setting(settings, "api_url", UrlUse::base)) {
    out.api_url = api->url;
    connector::sdk::append_unique(out.allowed_hosts, api->host);
  } else if (base_host == "github.com") {
    out.api_url = kDefaultApiUrl;
    out.allowed_hosts.emplace_back("api.github.com");
  } else {
    // GitHub Enterprise Server serves its REST API under the same host.
    out.api_url = out.base_url + "/api/v3";
  }

  const nlohmann::json* scopes = connector::sdk::setting(settings, "scopes");
  out.scopes = scopes == nullptr ? default_scopes() : connector::sdk::scope_list(*scopes, "scopes");
  out.allow_signup = connector::sdk::boolean_setting(settings, "allow_signup");
  return out;
}

// ---- Flow options ----------------------------------------------------------------------

struct FlowOptions {
  std::vector<std::string> extra_scopes;
  std::string login;
  std::string prompt;
};

// The host validates options against flow_options_schema already; checking again costs little
// and keeps the plugin correct under a host that does not.
FlowOptions read_flow_options(const nlohmann::json& options) {
  FlowOptions out;
  if (options.is_null()) return out;
  if (!options.is_object()) throw InvalidInput("flow options must be a JSON object");
  for (const auto& item : options.items()) {
    const std::string& key = item.key();
    const nlohmann::json& value = item.value();
    if (key == "scopes") {
      out.extra_scopes = connector::sdk::scope_list(value, "flow option scopes");
    } else if (key == "login") {
      if (!value.is_string()) throw InvalidInput("flow option login must be a string");
      out.login = value.get<std::string>();
    } else if (key == "prompt") {
      if (!value.is_string() || value.get<std::string>() != "select_account") {
        throw InvalidInput("flow option prompt must be \"select_account\"");
      }
      out.prompt = value.get<std::string>();
    } else {
      throw InvalidInput("unknown flow option \"" + connector::sdk::sanitize_description(key.substr(0, 64)) + "\"");
    }
  }
  return out;
}

// ---- The token set carried between the steps of exchange_code ------------------------

// Exchange ends with a GET /user, whose answer carries no tokens; the tokens from the step
// before travel in the continuation, which the host keeps in memory for this one call chain.
constexpr const char* kContinuationStep = "github_user_v1";

// ---- The provider ----------------------------------------------------------------------

class GithubProvider final : public IOAuthProvider {
public:
  static Descriptor describe() {
    Descriptor descriptor;
    descriptor.slug = "github";
    descriptor.display_name = "GitHub";
    descriptor.version = "1.0.0";
    descriptor.documentation_url =
        "https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps";
    descriptor.source_definitions = {{kSourceDefinitionId, "GitHub"}};
    descriptor.default_scopes = default_scopes();
    descriptor.supports_pkce = true;
    descriptor.supports_refresh = true; // GitHub App user tokens expire and refresh
    descriptor.supports_revoke = true;
    descriptor.hosts = {"github.com", "api.github.com"};
    descriptor.settings_schema = nlohmann::json::parse(kSettingsSchema);
    descriptor.flow_options_schema = nlohmann::json::parse(kFlowOptionsSchema);
    return descriptor;
  }

  static std::unique_ptr<IOAuthProvider> create(const nlohmann::json& settings) {
    return std::unique_ptr<IOAuthProvider>(new GithubProvider(read_settings(settings)));
  }

  std::vector<std::string> allowed_hosts() const override { return settings_.allowed_hosts; }

  // GitHub sends no `iss` on its redirect, so there is nothing to check (RFC 9207).
  std::string issuer() const override { return {}; }

  std::string authorization_url(const FlowInput& input) const override {
    require(input.redirect_uri, "redirect_uri");
    require(input.state, "state");
    const FlowOptions options = read_flow_options(input.options);

    const std::string scope = scope_with(options.extra_scopes);

    Params params;
    params.reserve(9); // every parameter below at once
    // REQUIRED by RFC 6749 (4.1.1); github.com ignores it, GitHub-compatible servers need it.
    params.emplace_back("response_type", "code");
    params.emplace_back("client_id", settings_.client_id);
    params.emplace_back("redirect_uri", input.redirect_uri);
    // No scope at all is meaningful: GitHub Apps take their permissions from the app instead.
    if (!scope.empty()) params.emplace_back("scope", scope);
    params.emplace_back("state", input.state);
    if (!input.code_challenge.empty()) {
      params.emplace_back("code_challenge", input.code_challenge);
      params.emplace_back("code_challenge_method", "S256");
    }
    if (!options.login.empty()) params.emplace_back("login", options.login);
    if (settings_.allow_signup) params.emplace_back("allow_signup", *settings_.allow_signup ? "true" : "false");
    if (!options.prompt.empty()) params.emplace_back("prompt", options.prompt);
    return connector::sdk::with_query(authorize_endpoint_, params);
  }

  // Three steps: the code exchange, then GET /user for the account, then the result.
  Step<TokenSet> exchange_code(const FlowInput& input, const HttpResponse* response) const override {
    if (response == nullptr) {
      require(input.code, "code");
      require(input.redirect_uri, "redirect_uri");
      // grant_type is REQUIRED by RFC 6749 (4.1.3); github.com ignores it, strict servers need it.
      Params form{{"grant_type", "authorization_code"},
                  {"client_id", settings_.client_id},
                  {"client_secret", settings_.client_secret},
                  {"code", input.code},
                  {"redirect_uri", input.redirect_uri}};
      if (!input.code_verifier.empty()) form.emplace_back("code_verifier", input.code_verifier);
      return token_request(form);
    }

    if (input.continuation.empty()) {
      Step<TokenSet> step = read_token_answer(*response);
      const auto* tokens = std::get_if<TokenSet>(&step);
      if (tokens == nullptr) return step;
      const auto continuation = connector::sdk::tokens_to_continuation(*tokens, kContinuationStep);
      if (!continuation) return connector::sdk::unusable_answer(*response, "the token endpoint's answer is not UTF-8");
      return user_request(tokens->access_token, *continuation);
    }

    auto tokens = connector::sdk::tokens_from_continuation(input.continuation, kContinuationStep);
    if (!tokens) {
      return Failure{CONNECTOR_STATUS_INVALID_INPUT, "bad_continuation",
                     "the continuation is not the one this plugin wrote for the /user step"};
    }
    return with_account(std::move(*tokens), *response);
  }

  Step<TokenSet> refresh(const FlowInput& input, const HttpResponse* response) const override {
    if (response == nullptr) {
      require(input.refresh_token, "refresh_token");
      return token_request({{"grant_type", "refresh_token"},
                            {"refresh_token", input.refresh_token},
                            {"client_id", settings_.client_id},
                            {"client_secret", settings_.client_secret}});
    }
    // bad_refresh_token arrives with HTTP 200 and becomes GRANT_INVALID in the SDK parser. An
    // answer without refresh_token leaves TokenSet::refresh_token empty: the host keeps its own.
    return read_token_answer(*response);
  }

  // Deletes the whole authorization of the app for this user: every token it holds for the app
  // stops working, refresh tokens included, which is what disconnecting a source means.
  Step<Done> revoke(const FlowInput& input, const HttpResponse* response) const override {
    if (response == nullptr) {
      require(input.access_token, "access_token");
      HttpRequest request;
      request.method = "DELETE";
      request.url =
          settings_.api_url + "/applications/" + connector::sdk::form_encode_component(settings_.client_id) + "/grant";
      const std::string credentials =
          connector::sdk::base64_encode(settings_.client_id + ":" + settings_.client_secret);
      request.headers = {{"Accept", "application/vnd.github+json"},
                         {"Authorization", "Basic " + credentials},
                         {"Content-Type", "application/json"},
                         {"User-Agent", kUserAgent},
                         {"X-GitHub-Api-Version", kApiVersion}};
      request.body = nlohmann::json{{"access_token", input.access_token}}.dump();
      return request;
    }
    if (is_success(response->status)) return Done{};
    // GitHub answers 404 for a grant it no longer has: the goal is reached.
    if (response->status == 404) return Done{};
    // Basic auth carries the app's own credentials here, so a 401 is about the client.
    if (response->status == 401) {
      return Failure{CONNECTOR_STATUS_CLIENT_INVALID, "bad_credentials",
                     "GitHub refused the client credentials while revoking (HTTP 401)"};
    }
    return api_failure(*response, "GitHub refused to revoke the grant");
  }

  Step<Account> check(const FlowInput& input, const HttpResponse* response) const override {
    if (response == nullptr) {
      require(input.access_token, "access_token");
      return user_request(input.access_token, {});
    }
    if (response->status == 401) return bad_credentials();
    if (!is_success(response->status)) return api_failure(*response, "GitHub's /user call failed");
    const nlohmann::json user = nlohmann::json::parse(response->body, nullptr, /*allow_exceptions=*/false);
    const std::string id = user.is_object() ? connector::sdk::string_member(user, "id") : std::string();
    if (id.empty()) return connector::sdk::unusable_answer(*response, "GitHub's /user answer has no account id");
    return Account{id, connector::sdk::string_member(user, "login"),
                   connector::sdk::split_scopes(response->header("X-OAuth-Scopes"))};
  }

private:
  explicit GithubProvider(GithubSettings settings)
      : settings_(std::move(settings)), authorize_endpoint_(settings_.base_url + "/login/oauth/authorize"),
        configured_scope_(connector::sdk::join_scopes(settings_.scopes)) {}

  // The configured scopes joined once: most flows ask for nothing more, and every consent URL
  // needs them.
  std::string scope_with(const std::vector<std::string>& extra_scopes) const {
    if (extra_scopes.empty()) return configured_scope_;
    std::vector<std::string> scopes = settings_.scopes;
    for (const std::string& scope : extra_scopes)
      connector::sdk::append_unique(scopes, scope);
    return connector::sdk::join_scopes(scopes);
  }

  static void require(const std::string& value, const char* name) {
    if (value.empty()) throw InvalidInput(std::string(name) + " is required");
  }

  static Failure bad_credentials() {
    return Failure{CONNECTOR_STATUS_GRANT_INVALID, "bad_credentials", "GitHub refused the access token (HTTP 401)"};
  }

  HttpRequest token_request(const Params& form) const {
    HttpRequest request;
    request.method = "POST";
    request.url = settings_.base_url + "/login/oauth/access_token";
    // Without Accept: application/json GitHub answers form-encoded; the parser copes with both,
    // but JSON keeps numbers as numbers.
    request.headers = {{"Accept", "application/json"},
                       {"Content-Type", "application/x-www-form-urlencoded"},
                       {"User-Agent", kUserAgent}};
    request.body = connector::sdk::form_encode(form);
    return request;
  }

  HttpRequest user_request(const std::string& access_token, std::string continuation) const {
    HttpRequest request;
    request.method = "GET";
    request.url = settings_.api_url + "/user";
    request.headers = {{"Accept", "application/vnd.github+json"},
                       {"Authorization", "Bearer " + access_token},
                       {"User-Agent", kUserAgent},
                       {"X-GitHub-Api-Version", kApiVersion}};
    request.continuation = std::move(continuation);
    return request;
  }

  // GitHub writes "bearer"; other spellings are folded to it so the host sees one form.
  static Step<TokenSet> read_token_answer(const HttpResponse& response) {
    Step<TokenSet> step = connector::sdk::parse_token_response(response);
    if (auto* tokens = std::get_if<TokenSet>(&step)) tokens->token_type = to_lower(tokens->token_type);
    return step;
  }

  // The code is spent by now, so only a definite "this token is bad" (401) fails the exchange;
  // any other trouble with /user keeps the tokens and leaves the account unknown.
  static Step<TokenSet> with_account(TokenSet tokens, const HttpResponse& user_answer) {
    if (user_answer.status == 401) return bad_credentials();
    if (!is_success(user_answer.status)) {
      connector::sdk::log(CONNECTOR_LOG_WARNING, "GitHub's /user call answered HTTP " +
                                                     std::to_string(user_answer.status) +
                                                     " after a code exchange; the account stays unknown");
      return tokens;
    }
    const nlohmann::json user = nlohmann::json::parse(user_answer.body, nullptr, /*allow_exceptions=*/false);
    if (user.is_object()) {
      tokens.account_id = connector::sdk::string_member(user, "id");
      tokens.account_name = connector::sdk::string_member(user, "login");
    }
    // The token answer's `scope` is authoritative; X-OAuth-Scopes only fills in when it was
    // empty (GitHub documents both as the granted scopes of the token).
    if (tokens.granted_scopes.empty()) {
      tokens.granted_scopes = connector::sdk::split_scopes(user_answer.header("X-OAuth-Scopes"));
    }
    return tokens;
  }

  GithubSettings settings_;
  std::string authorize_endpoint_;
  std::string configured_scope_;
};

} // namespace

CONNECTOR_REGISTER_PROVIDER(GithubProvider)
