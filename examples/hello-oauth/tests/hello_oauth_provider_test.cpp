// The example-oauth provider under the SDK's fake host: the plugin's own source is compiled into
// this executable (fast, debuggable), and the built module is loaded the way the real host
// loads it. Every network step is answered with canned HTTP responses, and the requests the
// plugin asked for are checked field by field.
#include <connector/testing/fake_host.hpp>

#include <gtest/gtest.h>

#include <string>

CONNECTOR_TESTING_DECLARE_LINKED_PLUGIN();

namespace {

using connector::sdk::FlowInput;
using connector::sdk::testing::CallResult;
using connector::sdk::testing::FakeHost;
using connector::sdk::testing::form_param;
using connector::sdk::testing::HostOptions;
using connector::sdk::testing::kPkceChallenge;
using connector::sdk::testing::kPkceVerifier;
using connector::sdk::testing::Provider;
using connector::sdk::testing::query_param;

constexpr const char* kDefinitionId = "1b0674dd-6a5b-44a8-93e8-2d91896c4c0c";
constexpr const char* kRedirectUri = "https://host.example/v1/oauth/callback";

nlohmann::json settings() {
  return {{"client_id", "hello-client"},
          {"client_secret", "hello-secret"},
          {"authorize_url", "https://login.example.com/authorize?tenant=t1"},
          {"token_url", "https://login.example.com/token"},
          {"userinfo_url", "https://api.example.com/userinfo"},
          {"revoke_url", "https://login.example.com/revoke"},
          {"issuer", "https://login.example.com"},
          {"scopes", {"openid", "profile"}}};
}

FlowInput exchange_input() {
  FlowInput input;
  input.redirect_uri = kRedirectUri;
  input.code = "the-code";
  input.code_verifier = kPkceVerifier;
  return input;
}

constexpr const char* kTokenAnswer =
    R"({"access_token":"at-1","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-1","scope":"openid profile"})";

class ExampleOAuth : public ::testing::Test {
protected:
  FakeHost host{&connector_plugin_negotiate};
  Provider provider = host.create(settings());
};

TEST_F(ExampleOAuth, DescribesItself) {
  EXPECT_EQ(host.slug(), "example-oauth");
  const auto& descriptor = host.descriptor();
  EXPECT_EQ(descriptor["source_definitions"][0]["id"], kDefinitionId);
  EXPECT_TRUE(descriptor["supports_pkce"].get<bool>());
  EXPECT_TRUE(descriptor["supports_refresh"].get<bool>());
  EXPECT_EQ(descriptor["settings_schema"]["required"].size(), 5U);
  EXPECT_EQ(host.table().abi_major, CONNECTOR_ABI_VERSION_MAJOR);
}

TEST_F(ExampleOAuth, DeclaresTheHostsItCallsAndItsIssuer) {
  ASSERT_TRUE(provider.ok()) << provider.result().summary();
  // The authorization endpoint is visited by the browser, never by the host.
  EXPECT_EQ(provider.allowed_hosts(), (std::vector<std::string>{"login.example.com", "api.example.com"}));
  EXPECT_EQ(provider.issuer(), "https://login.example.com");
}

TEST_F(ExampleOAuth, RefusesIncompleteOrUnsafeSettings) {
  auto missing = settings();
  missing.erase("client_secret");
  const Provider without_secret = host.create(missing);
  EXPECT_FALSE(without_secret.ok());
  EXPECT_EQ(without_secret.result().status, CONNECTOR_STATUS_INVALID_INPUT);
  EXPECT_EQ(without_secret.result().error_description, "client_secret is required");

  auto plain_http = settings();
  plain_http["token_url"] = "http://login.example.com/token";
  EXPECT_EQ(host.create(plain_http).result().status, CONNECTOR_STATUS_INVALID_INPUT);

  // A misspelt key ("clientId") is refused by the host, before create(), because the schema
  // says that no other keys are allowed.
  EXPECT_EQ(host.descriptor()["settings_schema"]["additionalProperties"], false);

  EXPECT_EQ(host.create_from_text("not json").result().status, CONNECTOR_STATUS_INVALID_INPUT);
}

TEST_F(ExampleOAuth, BuildsAConsentUrlWithPkce) {
  FlowInput input;
  input.redirect_uri = kRedirectUri;
  input.state = "st-1";
  input.code_challenge = kPkceChallenge;
  input.options = {{"scopes", {"email", "openid"}}, {"login_hint", "ada@example.com"}};
  const CallResult consent = provider.authorization_url(input);
  ASSERT_TRUE(consent.ok()) << consent.summary();
  const std::string& url = consent.authorization_url;
  EXPECT_EQ(url.rfind("https://login.example.com/authorize?tenant=t1&", 0), 0U) << url;
  EXPECT_EQ(query_param(url, "response_type"), "code");
  EXPECT_EQ(query_param(url, "client_id"), "hello-client");
  EXPECT_EQ(query_param(url, "redirect_uri"), kRedirectUri);
  EXPECT_EQ(query_param(url, "scope"), "openid profile email");
  EXPECT_EQ(query_param(url, "state"), "st-1");
  EXPECT_EQ(query_param(url, "code_challenge"), kPkceChallenge);
  EXPECT_EQ(query_param(url, "code_challenge_method"), "S256");
  EXPECT_EQ(query_param(url, "login_hint"), "ada@example.com");
}

TEST_F(ExampleOAuth, ExchangesTheCodeThenAsksWhoTheUserIs) {
  host.respond(200, kTokenAnswer);
  host.respond(200, R"({"sub":"user-42","preferred_username":"ada"})");
  const CallResult tokens = provider.exchange_code(exchange_input());
  ASSERT_TRUE(tokens.ok()) << tokens.summary();
  EXPECT_EQ(tokens.access_token, "at-1");
  EXPECT_EQ(tokens.refresh_token, "rt-1");
  EXPECT_EQ(tokens.token_type, "Bearer");
  EXPECT_EQ(tokens.expires_in, 3600);
  EXPECT_EQ(tokens.granted_scopes, (std::vector<std::string>{"openid", "profile"}));
  EXPECT_EQ(tokens.account_id, "user-42");
  EXPECT_EQ(tokens.account_name, "ada");

  ASSERT_EQ(host.requests().size(), 2U);
  const auto& token_request = host.requests()[0];
  EXPECT_EQ(token_request.method, "POST");
  EXPECT_EQ(token_request.url, "https://login.example.com/token");
  EXPECT_EQ(form_param(token_request.body, "grant_type"), "authorization_code");
  EXPECT_EQ(form_param(token_request.body, "code"), "the-code");
  EXPECT_EQ(form_param(token_request.body, "redirect_uri"), kRedirectUri);
  EXPECT_EQ(form_param(token_request.body, "code_verifier"), kPkceVerifier);
  EXPECT_EQ(form_param(token_request.body, "client_id"), "hello-client");
  EXPECT_EQ(form_param(token_request.body, "client_secret"), "hello-secret");

  const auto& userinfo_request = host.requests()[1];
  EXPECT_EQ(userinfo_request.method, "GET");
  EXPECT_EQ(userinfo_request.url, "https://api.example.com/userinfo");
  EXPECT_EQ(connector::sdk::find_param(userinfo_request.headers, "Authorization"), "Bearer at-1");
}

TEST_F(ExampleOAuth, StopsAtTheFirstUnansweredRequest) {
  const CallResult first = provider.exchange_code(exchange_input());
  ASSERT_TRUE(first.sends_request()) << first.summary();
  EXPECT_EQ(first.request.url, "https://login.example.com/token");
  EXPECT_EQ(host.requests().size(), 1U);
}

TEST_F(ExampleOAuth, ADeadCodeMeansConsentAgain) {
  host.respond(400, R"({"error":"invalid_grant","error_description":"grant request is invalid"})");
  const CallResult refused = provider.exchange_code(exchange_input());
  EXPECT_EQ(refused.status, CONNECTOR_STATUS_GRANT_INVALID) << refused.summary();
  EXPECT_EQ(refused.error_code, "invalid_grant");
  EXPECT_EQ(host.requests().size(), 1U) << "no userinfo call without tokens";
}

TEST_F(ExampleOAuth, AnHtmlErrorPageIsTransient) {
  host.respond(503, "<html>try later</html>", {{"Content-Type", "text/html"}});
  EXPECT_EQ(provider.exchange_code(exchange_input()).status, CONNECTOR_STATUS_TRANSIENT);
}

TEST_F(ExampleOAuth, KeepsTheTokensWhenUserInfoFails) {
  host.respond(200, kTokenAnswer);
  host.respond(500, "oops", {});
  const CallResult tokens = provider.exchange_code(exchange_input());
  ASSERT_TRUE(tokens.ok()) << tokens.summary();
  EXPECT_EQ(tokens.access_token, "at-1");
  EXPECT_TRUE(tokens.account_id.empty());
  ASSERT_FALSE(host.logs().empty());
  EXPECT_EQ(host.logs().back().level, CONNECTOR_LOG_WARNING);
}

TEST_F(ExampleOAuth, RefreshesWithTheRefreshToken) {
  host.respond(200, R"({"access_token":"at-2","token_type":"Bearer","expires_in":3600})");
  FlowInput input;
  input.refresh_token = "rt-1";
  const CallResult tokens = provider.refresh(input);
  ASSERT_TRUE(tokens.ok()) << tokens.summary();
  EXPECT_EQ(tokens.access_token, "at-2");
  EXPECT_FALSE(tokens.refresh_token) << "no new refresh token: the host keeps the old one";
  ASSERT_EQ(host.requests().size(), 1U);
  EXPECT_EQ(form_param(host.requests()[0].body, "grant_type"), "refresh_token");
  EXPECT_EQ(form_param(host.requests()[0].body, "refresh_token"), "rt-1");
}

TEST_F(ExampleOAuth, RevokesTheRefreshTokenWhenItHasOne) {
  host.respond(200, "", {});
  FlowInput input;
  input.access_token = "at-1";
  input.refresh_token = "rt-1";
  EXPECT_TRUE(provider.revoke(input).ok());
  ASSERT_EQ(host.requests().size(), 1U);
  EXPECT_EQ(host.requests()[0].url, "https://login.example.com/revoke");
  EXPECT_EQ(form_param(host.requests()[0].body, "token"), "rt-1");
  EXPECT_EQ(form_param(host.requests()[0].body, "token_type_hint"), "refresh_token");

  auto without_endpoint = settings();
  without_endpoint.erase("revoke_url");
  EXPECT_EQ(host.create(without_endpoint).revoke(input).status, CONNECTOR_STATUS_UNSUPPORTED);
}

TEST_F(ExampleOAuth, ChecksTheTokenAtTheUserInfoEndpoint) {
  host.respond(200, R"({"id":42,"login":"octocat"})");
  FlowInput input;
  input.access_token = "at-1";
  const CallResult account = provider.check(input);
  ASSERT_TRUE(account.ok()) << account.summary();
  EXPECT_EQ(account.account_id, "42");
  EXPECT_EQ(account.account_name, "octocat");

  host.respond(401, R"({"message":"Bad credentials"})");
  EXPECT_EQ(provider.check(input).status, CONNECTOR_STATUS_GRANT_INVALID);
}

// The module built by connector_add_plugin(), through dlopen and its one exported symbol.
TEST(ExampleOAuthModule, LoadsAndRunsAFlowLikeInTheHost) {
  FakeHost host = FakeHost::load(HELLO_OAUTH_MODULE);
  EXPECT_EQ(host.slug(), "example-oauth");
  const Provider provider = host.create(settings());
  ASSERT_TRUE(provider.ok()) << provider.result().summary();
  host.respond(200, kTokenAnswer);
  host.respond(200, R"({"sub":"user-42"})");
  const CallResult tokens = provider.exchange_code(exchange_input());
  ASSERT_TRUE(tokens.ok()) << tokens.summary();
  EXPECT_EQ(tokens.account_id, "user-42");
}

// A host of a later minor version offers a longer table: the plugin fills only what it knows.
TEST(ExampleOAuthModule, LoadsOnANewerHost) {
  HostOptions newer;
  newer.abi_minor = CONNECTOR_ABI_VERSION_MINOR + 1;
  newer.plugin_table_room = sizeof(connector_plugin_api) + 32;
  FakeHost host = FakeHost::load(HELLO_OAUTH_MODULE, newer);
  EXPECT_EQ(host.table().struct_size, sizeof(connector_plugin_api));
  EXPECT_TRUE(host.create(settings()).ok());
}

} // namespace
