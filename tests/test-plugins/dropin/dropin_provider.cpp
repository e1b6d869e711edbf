// The drop-in test provider (tests/integration/plugin_dropin_test.cpp): a small Google-like
// OAuth provider, compiled twice from this one file as build "v1" (version 1.0.0) and "v2"
// (version 2.0.0). The build shows in behaviour, so a test can tell which code served a step:
// the consent URL carries dropin_build=<build>, and the code exchange names the account
// "dropin-<build>". It talks to the provider double's Google paths through its settings
// (CONNECTOR_DROPIN_CLIENT_ID, _CLIENT_SECRET, _AUTH_URI, _TOKEN_URI).
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

#ifndef DROPIN_BUILD
#error "define DROPIN_BUILD (\"v1\", \"v2\") when compiling the drop-in test provider"
#endif
#ifndef DROPIN_VERSION
#error "define DROPIN_VERSION (\"1.0.0\", \"2.0.0\") when compiling the drop-in test provider"
#endif

namespace {

namespace sdk = connector::sdk;
using nlohmann::json;

constexpr const char* kBuild = DROPIN_BUILD;
constexpr const char* kVersion = DROPIN_VERSION;
// The same in every build: flows started on one build are completed with the other.
constexpr const char* kSourceDefinitionId = "d7a0b5c2-4e1f-4c3a-9b8d-0d10f1a2b3c4";
constexpr const char* kScope = "dropin.read";

struct DropinSettings {
  std::string client_id;
  std::string client_secret;
  std::string auth_uri;
  std::string token_uri;
  std::string host; // of both URIs: the egress allow-list
};

DropinSettings read_settings(const json& settings) {
  if (!settings.is_object()) throw sdk::InvalidInput("settings must be a JSON object");
  DropinSettings out;
  out.client_id = sdk::required_string_setting(settings, "client_id");
  out.client_secret = sdk::required_string_setting(settings, "client_secret");
  out.auth_uri = sdk::required_string_setting(settings, "auth_uri");
  out.token_uri = sdk::required_string_setting(settings, "token_uri");
  const auto auth = sdk::parse_https_url(out.auth_uri);
  const auto token = sdk::parse_https_url(out.token_uri);
  if (!auth || !token) throw sdk::InvalidInput("auth_uri and token_uri must be absolute https:// URLs");
  if (auth->host != token->host) throw sdk::InvalidInput("auth_uri and token_uri must name the same host");
  out.host = auth->host;
  return out;
}

json settings_schema() {
  const json organization_url = {
      {"type", "string"}, {"format", "uri"}, {"pattern", "^https://"}, {"x-organization-app", true}};
  return {{"type", "object"},
          {"properties",
           {{"client_id", {{"type", "string"}, {"minLength", 1}, {"x-organization-app", true}}},
            {"client_secret", {{"type", "string"}, {"minLength", 1}, {"x-secret", true}, {"x-organization-app", true}}},
            // Endpoints an organization's app may set, which no real plugin should allow: the
            // host must still keep such an app on the operator's hosts
            // (tests/integration/organization_app_settings_test.cpp).
            {"auth_uri", organization_url},
            {"token_uri", organization_url}}},
          {"required", json::array({"client_id", "client_secret", "auth_uri", "token_uri"})},
          {"additionalProperties", false}};
}

class DropinProvider final : public sdk::IOAuthProvider {
public:
  static sdk::Descriptor describe() {
    sdk::Descriptor d;
    d.slug = "dropin";
    d.display_name = "Drop-in test provider";
    d.version = kVersion;
    d.documentation_url = "https://example.com/dropin";
    d.source_definitions = {{kSourceDefinitionId, "Drop-in test source"}};
    d.default_scopes = {kScope};
    d.supports_pkce = true;
    d.supports_refresh = true;
    d.settings_schema = settings_schema();
    d.flow_options_schema = {{"type", "object"}, {"additionalProperties", false}};
    return d;
  }

  static std::unique_ptr<sdk::IOAuthProvider> create(const json& settings) {
    return std::make_unique<DropinProvider>(read_settings(settings));
  }

  explicit DropinProvider(DropinSettings settings) : settings_(std::move(settings)) {}

  std::vector<std::string> allowed_hosts() const override { return {settings_.host}; }

  std::string authorization_url(const sdk::FlowInput& input) const override {
    if (input.redirect_uri.empty()) throw sdk::InvalidInput("redirect_uri is required for the consent URL");
    if (input.state.empty()) throw sdk::InvalidInput("state is required for the consent URL");
    sdk::Params query{{"client_id", settings_.client_id},
                      {"redirect_uri", input.redirect_uri},
                      {"response_type", "code"},
                      {"scope", kScope},
                      {"access_type", "offline"},
                      {"prompt", "consent"},
                      {"state", input.state},
                      {"dropin_build", kBuild}};
    if (!input.code_challenge.empty()) {
      query.emplace_back("code_challenge", input.code_challenge);
      query.emplace_back("code_challenge_method", "S256");
    }
    return sdk::with_query(settings_.auth_uri, query);
  }

  sdk::Step<sdk::TokenSet> exchange_code(const sdk::FlowInput& input,
                                         const sdk::HttpResponse* response) const override {
    if (response != nullptr) return mark(sdk::parse_token_response(*response));
    if (input.code.empty()) return missing("the authorization code");
    sdk::Params form{{"grant_type", "authorization_code"},
                     {"code", input.code},
                     {"client_id", settings_.client_id},
                     {"client_secret", settings_.client_secret},
                     {"redirect_uri", input.redirect_uri}};
    if (!input.code_verifier.empty()) form.emplace_back("code_verifier", input.code_verifier);
    return token_request(form);
  }

  sdk::Step<sdk::TokenSet> refresh(const sdk::FlowInput& input, const sdk::HttpResponse* response) const override {
    if (response != nullptr) return sdk::parse_token_response(*response);
    if (input.refresh_token.empty()) return missing("a refresh token");
    return token_request({{"grant_type", "refresh_token"},
                          {"refresh_token", input.refresh_token},
                          {"client_id", settings_.client_id},
                          {"client_secret", settings_.client_secret}});
  }

private:
  // The build that exchanged the code names the account.
  static sdk::Step<sdk::TokenSet> mark(sdk::Step<sdk::TokenSet> step) {
    if (auto* tokens = std::get_if<sdk::TokenSet>(&step)) {
      tokens->account_id = "dropin-user";
      tokens->account_name = std::string("dropin-") + kBuild;
    }
    return step;
  }

  static sdk::Failure missing(const std::string& what) {
    return sdk::Failure{CONNECTOR_STATUS_INVALID_INPUT, "invalid_input", what + " is required"};
  }

  sdk::HttpRequest token_request(const sdk::Params& form) const {
    sdk::HttpRequest request;
    request.method = "POST";
    request.url = settings_.token_uri;
    request.headers = {{"Content-Type", "application/x-www-form-urlencoded"}, {"Accept", "application/json"}};
    request.body = sdk::form_encode(form);
    return request;
  }

  DropinSettings settings_;
};

} // namespace

CONNECTOR_REGISTER_PROVIDER(DropinProvider)
