// The GitHub plugin driven through the real C ABI, the way the host drives it: consent URL,
// code exchange (token answer, then GET /user), refresh, revoke and check, against answers
// shaped like GitHub's own (200-with-error, form-encoded bodies, HTML error pages). It runs on
// Linux and, cross-built, on Windows under Wine (support/provider_loading.hpp); what the host
// checks of the plugin before serving it is github_host_checks_test.cpp.
#include "support/provider_loading.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace {

namespace core = connector::core;
using connector::testing::make_provider;
using Scopes = std::vector<std::string>;

const std::string kSecret = "s3cr3t-value";
const std::string kSettings = R"({"client_id":"Iv1.abc","client_secret":"s3cr3t-value"})";
const std::string kRedirectUri = "https://host.example/v1/oauth/callback";
const std::string kEncodedRedirectUri = "https%3A%2F%2Fhost.example%2Fv1%2Foauth%2Fcallback";
// RFC 7636 Appendix B.
const std::string kVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const std::string kChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const std::string kDefaultScope = "repo+read%3Aorg+read%3Arepo_hook+read%3Auser+read%3Aproject+read%3Adiscussion";
const std::string kOauthToken = "gho_16C7e42F292c6912E7710c838347Ae178B4a";
const std::string kAppToken = "ghu_16C7e42F292c6912E7710c838347Ae178B4a";
const std::string kAppRefreshToken = "ghr_1B4a2e77838347a7E420ce178F2E7c6912E169246c34E1ccbF66C46812d16D5B1A9Dc86A1498";
const std::string kUserBody = R"({"login":"octocat","id":1296269,"node_id":"MDQ6VXNlcjE=","type":"User"})";
const core::HeaderList kJson = {{"Content-Type", "application/json; charset=utf-8"}};

core::FlowParams consent_params() {
  core::FlowParams params;
  params.callback_uri = kRedirectUri;
  params.state = "st4te";
  params.code_challenge = kChallenge;
  return params;
}

core::FlowParams exchange_params() {
  core::FlowParams params;
  params.callback_uri = kRedirectUri;
  params.state = "st4te";
  params.code = "c0de";
  params.code_verifier = kVerifier;
  return params;
}

core::FlowParams token_params(const std::string& access_token, const std::string& refresh_token = {}) {
  core::FlowParams params;
  params.access_token = access_token;
  params.refresh_token = refresh_token;
  return params;
}

core::ProviderAnswer answer(unsigned status, std::string body, core::HeaderList headers = kJson) {
  core::ProviderAnswer out;
  out.status = status;
  out.headers = std::move(headers);
  out.body = std::move(body);
  return out;
}

// The value of a request header (names compared case-insensitively), or nullopt.
std::optional<std::string> header(const core::OutgoingRequest& request, const std::string& name) {
  for (const auto& [key, value] : request.headers) {
    if (std::equal(key.begin(), key.end(), name.begin(), name.end(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        })) {
      return value;
    }
  }
  return std::nullopt;
}

std::string consent_url(const std::string& settings, const core::FlowParams& params) {
  const auto provider = make_provider("github", settings);
  if (!provider) return "(no provider)";
  const core::OperationResult result = provider->authorization_url(params);
  EXPECT_EQ(result.status, CONNECTOR_STATUS_OK) << result.error_code << ": " << result.error_description;
  return result.authorization_url;
}

// Runs the exchange to its end: the token answer, then (if the plugin asks) the /user answer.
core::OperationResult run_exchange(const core::ProviderInstance& provider, const core::ProviderAnswer& token_answer,
                                   const core::ProviderAnswer& user_answer) {
  core::FlowParams params = exchange_params();
  const core::OperationResult first = provider.step(core::Operation::exchange_code, params, nullptr);
  EXPECT_EQ(first.status, CONNECTOR_STATUS_SEND_REQUEST);
  const core::OperationResult second = provider.step(core::Operation::exchange_code, params, &token_answer);
  if (second.status != CONNECTOR_STATUS_SEND_REQUEST) return second;
  EXPECT_EQ(second.request.url, "https://api.github.com/user");
  params.continuation = second.continuation;
  return provider.step(core::Operation::exchange_code, params, &user_answer);
}

// The outcome of the token step alone (the second call of the exchange).
core::OperationResult token_step(const core::ProviderAnswer& token_answer) {
  const auto provider = make_provider("github", kSettings);
  if (!provider) return {};
  const core::FlowParams params = exchange_params();
  return provider->step(core::Operation::exchange_code, params, &token_answer);
}

// ---- Settings --------------------------------------------------------------------------

TEST(GithubSettings, GithubComTalksToTheWebAndApiHosts) {
  const auto provider = make_provider("github", kSettings);
  ASSERT_TRUE(provider);
  EXPECT_EQ(provider->allowed_hosts(), (Scopes{"github.com", "api.github.com"}));
  EXPECT_EQ(provider->issuer(), "");
}

TEST(GithubSettings, EnterpriseServerUsesItsOwnHostForBoth) {
  const auto provider = make_provider(
      "github", R"({"client_id":"Iv1.abc","client_secret":"s3cr3t-value","base_url":"https://GHE.Example.com/"})");
  ASSERT_TRUE(provider);
  EXPECT_EQ(provider->allowed_hosts(), (Scopes{"ghe.example.com"}));
}

TEST(GithubSettings, ExplicitApiUrlAddsItsHost) {
  const auto provider = make_provider("github", R"({"client_id":"Iv1.abc","client_secret":"s3cr3t-value",
      "base_url":"https://octo.ghe.com","api_url":"https://api.octo.ghe.com/"})");
  ASSERT_TRUE(provider);
  EXPECT_EQ(provider->allowed_hosts(), (Scopes{"octo.ghe.com", "api.octo.ghe.com"}));
  const auto check = provider->step(core::Operation::check, token_params(kOauthToken), nullptr);
  EXPECT_EQ(check.request.url, "https://api.octo.ghe.com/user");
}

// ---- Consent URL -----------------------------------------------------------------------

TEST(GithubConsentUrl, DefaultScopesAndPkce) {
  EXPECT_EQ(consent_url(kSettings, consent_params()),
            "https://github.com/login/oauth/authorize?response_type=code&client_id=Iv1.abc&redirect_uri=" +
                kEncodedRedirectUri + "&scope=" + kDefaultScope + "&state=st4te&code_challenge=" + kChallenge +
                "&code_challenge_method=S256");
}

TEST(GithubConsentUrl, WithoutChallengeHasNoPkceParameters) {
  core::FlowParams params = consent_params();
  params.code_challenge.clear();
  EXPECT_EQ(consent_url(kSettings, params),
            "https://github.com/login/oauth/authorize?response_type=code&client_id=Iv1.abc&redirect_uri=" +
                kEncodedRedirectUri + "&scope=" + kDefaultScope + "&state=st4te");
}

TEST(GithubConsentUrl, ConfiguredScopesReplaceTheDefaultAndALiteralPlusIsEscaped) {
  EXPECT_EQ(consent_url(R"({"client_id":"Iv1.abc","client_secret":"s3cr3t-value","scopes":["user:email","a+b"]})",
                        consent_params()),
            "https://github.com/login/oauth/authorize?response_type=code&client_id=Iv1.abc&redirect_uri=" +
                kEncodedRedirectUri + "&scope=user%3Aemail+a%2Bb&state=st4te&code_challenge=" + kChallenge +
                "&code_challenge_method=S256");
}

TEST(GithubConsentUrl, EmptyScopeListSendsNoScope) {
  core::FlowParams params = consent_params();
  params.code_challenge.clear();
  EXPECT_EQ(consent_url(R"({"client_id":"Iv1.abc","client_secret":"s3cr3t-value","scopes":[]})", params),
            "https://github.com/login/oauth/authorize?response_type=code&client_id=Iv1.abc&redirect_uri=" +
                kEncodedRedirectUri + "&state=st4te");
}

TEST(GithubConsentUrl, FlowOptionsAddScopesLoginPromptAndSettingsAllowSignup) {
  core::FlowParams params = consent_params();
  params.options_json = R"({"scopes":["gist","repo","gist"],"login":"octo cat","prompt":"select_account"})";
  EXPECT_EQ(consent_url(R"({"client_id":"Iv1.abc","client_secret":"s3cr3t-value","scopes":["repo","read:org"],
                            "allow_signup":false})",
                        params),
            "https://github.com/login/oauth/authorize?response_type=code&client_id=Iv1.abc&redirect_uri=" +
                kEncodedRedirectUri + "&scope=repo+read%3Aorg+gist&state=st4te&code_challenge=" + kChallenge +
                "&code_challenge_method=S256&login=octo+cat&allow_signup=false&prompt=select_account");
}

TEST(GithubConsentUrl, AllowSignupTrue) {
  core::FlowParams params = consent_params();
  params.code_challenge.clear();
  EXPECT_EQ(consent_url(R"({"client_id":"Iv1.abc","client_secret":"s3cr3t-value","scopes":["repo"],
                            "allow_signup":true})",
                        params),
            "https://github.com/login/oauth/authorize?response_type=code&client_id=Iv1.abc&redirect_uri=" +
                kEncodedRedirectUri + "&scope=repo&state=st4te&allow_signup=true");
}

TEST(GithubConsentUrl, EnterpriseServerChangesHostAndKeepsPaths) {
  EXPECT_EQ(consent_url(R"({"client_id":"Iv1.abc","client_secret":"s3cr3t-value",
                            "base_url":"https://ghe.example.com/","scopes":["repo"]})",
                        consent_params()),
            "https://ghe.example.com/login/oauth/authorize?response_type=code&client_id=Iv1.abc&redirect_uri=" +
                kEncodedRedirectUri + "&scope=repo&state=st4te&code_challenge=" + kChallenge +
                "&code_challenge_method=S256");
}

TEST(GithubConsentUrl, RefusesAnUnknownPrompt) {
  const auto provider = make_provider("github", kSettings);
  ASSERT_TRUE(provider);
  core::FlowParams params = consent_params();
  params.options_json = R"({"prompt":"consent"})";
  const auto result = provider->authorization_url(params);
  EXPECT_EQ(result.status, CONNECTOR_STATUS_INVALID_INPUT);
  EXPECT_EQ(result.error_description, "flow option prompt must be \"select_account\"");
  EXPECT_EQ(result.authorization_url, "");
}

TEST(GithubConsentUrl, RefusesAFlowWithoutState) {
  const auto provider = make_provider("github", kSettings);
  ASSERT_TRUE(provider);
  core::FlowParams params = consent_params();
  params.state.clear();
  const auto result = provider->authorization_url(params);
  EXPECT_EQ(result.status, CONNECTOR_STATUS_INVALID_INPUT);
  EXPECT_EQ(result.error_description, "state is required");
}

// ---- Code exchange: the token request --------------------------------------------------

TEST(GithubExchange, TokenRequestCarriesEveryField) {
  const auto provider = make_provider("github", kSettings);
  ASSERT_TRUE(provider);
  const auto result = provider->step(core::Operation::exchange_code, exchange_params(), nullptr);
  ASSERT_EQ(result.status, CONNECTOR_STATUS_SEND_REQUEST) << result.error_description;
  EXPECT_EQ(result.request.method, "POST");
  EXPECT_EQ(result.request.url, "https://github.com/login/oauth/access_token");
  EXPECT_EQ(header(result.request, "Accept"), "application/json");
  EXPECT_EQ(header(result.request, "Content-Type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(header(result.request, "User-Agent"), "connector-host");
  // The client authenticates in the body, not with Basic auth.
  EXPECT_EQ(header(result.request, "Authorization"), std::nullopt);
  EXPECT_EQ(result.request.body,
            "grant_type=authorization_code&client_id=Iv1.abc&client_secret=s3cr3t-value&code=c0de&redirect_uri=" +
                kEncodedRedirectUri + "&code_verifier=" + kVerifier);
  EXPECT_EQ(result.continuation, "");
}

TEST(GithubExchange, TokenRequestWithoutPkceHasNoVerifier) {
  const auto provider = make_provider("github", kSettings);
  ASSERT_TRUE(provider);
  core::FlowParams params = exchange_params();
  params.code_verifier.clear();
  const auto result = provider->step(core::Operation::exchange_code, params, nullptr);
  ASSERT_EQ(result.status, CONNECTOR_STATUS_SEND_REQUEST);
  EXPECT_EQ(result.request.body,
            "grant_type=authorization_code&client_id=Iv1.abc&client_secret=s3cr3t-value&code=c0de&redirect_uri=" +
                kEncodedRedirectUri);
}

TEST(GithubExchange, EnterpriseServerTokenEndpoint) {
  const auto provider = make_provider(
      "github", R"({"client_id":"Iv1.abc","client_secret":"s3cr3t-value","base_url":"https://ghe.example.com"})");
  ASSERT_TRUE(provider);
  const auto result = provider->step(core::Operation::exchange_code, exchange_params(), nullptr);
  EXPECT_EQ(result.request.url, "https://ghe.example.com/login/oauth/access_token");
}

TEST(GithubExchange, RefusesAMissingCode) {
  const auto provider = make_provider("github", kSettings);
  ASSERT_TRUE(provider);
  core::FlowParams params = exchange_params();
  params.code.clear();
  const auto result = provider->step(core::Operation::exchange_code, params, nullptr);
  EXPECT_EQ(result.status, CONNECTOR_STATUS_INVALID_INPUT);
  EXPECT_EQ(result.error_description, "code is required");
}

// ---- Code exchange: the token answer and the /user call --------------------------------

TEST(GithubExchange, JsonTokenAnswerLeadsToUserCall) {
  const auto provider = make_provider("github", kSettings);
  ASSERT_TRUE(provider);
  const auto token_answer =
      answer(200, R"({"access_token":")" + kOauthToken + R"(","scope":"repo,gist","token_type":"bearer"})");
  const auto result = provider->step(core::Operation::exchange_code, exchange_params(), &token_answer);
  ASSERT_EQ(result.status, CONNECTOR_STATUS_SEND_REQUEST) << result.error_description;
  EXPECT_EQ(result.request.method, "GET");
  EXPECT_EQ(result.request.url, "https://api.github.com/user");
  EXPECT_EQ(header(result.request, "Authorization"), "Bearer " + kOauthToken);
  EXPECT_EQ(header(result.request, "Accept"), "application/vnd.github+json");
  EXPECT_EQ(header(result.request, "User-Agent"), "connector-host");
  EXPECT_EQ(header(result.request, "X-GitHub-Api-Version"), "2022-11-28");
  EXPECT_EQ(result.request.body, "");
  EXPECT_NE(result.continuation, "");
  // The tokens come only with the final step.
  EXPECT_EQ(result.access_token, "");
}

TEST(GithubExchange, JsonSuccessWithAccount) {
  const auto provider = make_provider("github", kSettings);
  ASSERT_TRUE(provider);
  const auto result = run_exchange(
      *provider, answer(200, R"({"access_token":")" + kOauthToken + R"(","scope":"repo,gist","token_type":"bearer"})"),
      answer(200, kUserBody, {{"Content-Type", "application/json"}, {"X-OAuth-Scopes", "gist, repo, user"}}));
  ASSERT_EQ(result.status, CONNECTOR_STATUS_OK) << result.error_code << ": " << result.error_description;
  EXPECT_EQ(result.access_token, kOauthToken);
  EXPECT_EQ(result.refresh_token, std::nullopt);
  EXPECT_EQ(result.token_type, "bearer");
  // The token answer's scope wins over the header when it has one.
  EXPECT_EQ(result.granted_scopes, (Scopes{"repo", "gist"}));
  EXPECT_EQ(result.expires_in, std::nullopt);
  EXPECT_EQ(result.refresh_token_expires_in, std::nullopt);
  EXPECT_EQ(result.account_id, "1296269");
  EXPECT_EQ(result.account_name, "octocat");
}

TEST(GithubExchange, FormEncodedSuccess) {
  const auto provider = make_provider("github", kSettings);
  ASSERT_TRUE(provider);
  const auto result = run_exchange(*provider,
                                   answer(200, "access_token=" + kOauthToken + "&scope=repo%2Cgist&token_type=bearer",
                                          {{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"}}),
                                   answer(200, kUserBody));
  ASSERT_EQ(result.status, CONNECTOR_STATUS_OK) << result.error_code << ": " << result.error_description;
  EXPECT_EQ(result.access_token, kOauthToken);
  EXPECT_EQ(result.granted_scopes, (Scopes{"repo", "gist"}));
  EXPECT_EQ(result.token_type, "bearer");
  EXPECT_EQ(result.account_id, "1296269");
}

TEST(GithubExchange, TokenTypeIsFoldedToLowerCase) {
  const auto provider = make_provider("github", kSettings);
  ASSERT_TRUE(provider);
  const auto result = run_exchange(
      *provider, answer(200, R"({"access_token":")" + kOauthToken + R"(","scope":"repo","token_type":"Bearer"})"),
      answer(200, kUserBody));
  EXPECT_EQ(result.token_type, "bearer");
}

TEST(GithubExchange, ExpiringAppTokensInJson) {
  const auto provider = make_provider("github", kSettings);
  ASSERT_TRUE(provider);
  const auto result = run_exchange(
      *provider,
      answer(200, R"({"access_token":")" + kAppToken + R"(","expires_in":28800,"refresh_token":")" + kAppRefreshToken +
                      R"(","refresh_token_expires_in":15811200,"scope":"","token_type":"bearer"})"),
      answer(200, kUserBody));
  ASSERT_EQ(result.status, CONNECTOR_STATUS_OK) << result.error_code << ": " << result.error_description;
  EXPECT_EQ(result.access_token, kAppToken);
  EXPECT_EQ(result.refresh_token, kAppRefreshToken);
  EXPECT_EQ(result.expires_in, 28800);
  EXPECT_EQ(result.refresh_token_expires_in, 15811200);
  EXPECT_EQ(result.granted_scopes, Scopes{});
  EXPECT_EQ(result.account_name, "octocat");
}

TEST(GithubExchange, ExpiringAppTokensFormEncodedWithNumbersAsText) {
  const auto provider = make_provider("github", kSettings);
  ASSERT_TRUE(provider);
  const auto result = run_exchange(*provider,
                                   answer(200,
                                          "access_token=ghu_abc&expires_in=28800&refresh_token=ghr_def"
                                          "&refresh_token_expires_in=15811200&scope=&token_type=bearer",
                                          {{"Content-Type", "application/x-www-form-urlencoded"}}),
                                   answer(200, kUserBody));
  ASSERT_EQ(result.status, CONNECTOR_STATUS_OK) << result.error_code << ": " << result.error_description;
  EXPECT_EQ(result.access_token, "ghu_abc");
  EXPECT_EQ(result.refresh_token, "ghr_def");
  EXPECT_EQ(result.expires_in, 28800);
  EXPECT_EQ(result.refresh_token_expires_in, 15811200);
}

TEST(GithubExchange, EmptyTokenScopeIsFilledFromXOAuthScopes) {
  const auto provider = make_provider("github", kSettings);
  ASSERT_TRUE(provider);
  const auto result = run_exchange(
      *provider, answer(200, R"({"access_token":")" + kOauthToken + R"(","scope":"","token_type":"bearer"})"),
      answer(200, kUserBody, {{"x-oauth-scopes", "read:org, repo"}}));
  ASSERT_EQ(result.status, CONNECTOR_STATUS_OK);
  EXPECT_EQ(result.granted_scopes, (Scopes{"read:org", "repo"}));
}

TEST(GithubExchange, UserCallRefusedWith401IsBadCredentials) {
  const auto provider = make_provider("github", kSettings);
  ASSERT_TRUE(provider);
  const auto result = run_exchange(
      *provider, answer(200, R"({"access_token":")" + kOauthToken + R"(","scope":"repo","token_type":"bearer"})"),
      answer(401, R"({"message":"Bad credentials","documentation_url":"https://docs.github.com/rest"})"));
  EXPECT_EQ(result.status, CONNECTOR_STATUS_GRANT_INVALID);
  EXPECT_EQ(result.error_code, "bad_credentials");
  EXPECT_EQ(result.access_token, "");
}

TEST(GithubExchange, UserCallFailingOtherwiseKeepsTheTokens) {
  const auto provider = make_provider("github", kSettings);
  ASSERT_TRUE(provider);
  const auto result = run_exchange(
      *provider, answer(200, R"({"access_token":")" + kOauthToken + R"(","scope":"repo","token_type":"bearer"})"),
      answer(503, "<html><body>Unicorn!</body></html>", {{"Content-Type", "text/html"}}));
  ASSERT_EQ(result.status, CONNECTOR_STATUS_OK) << result.error_code << ": " << result.error_description;
  EXPECT_EQ(result.access_token, kOauthToken);
  EXPECT_EQ(result.granted_scopes, (Scopes{"repo"}));
  EXPECT_EQ(result.account_id, "");
  EXPECT_EQ(result.account_name, "");
}

TEST(GithubExchange, ForeignContinuationIsRefused) {
  const auto provider = make_provider("github", kSettings);
  ASSERT_TRUE(provider);
  core::FlowParams params = exchange_params();
  params.continuation = R"({"something":"else"})";
  const auto user_answer = answer(200, kUserBody);
  const auto result = provider->step(core::Operation::exchange_code, params, &user_answer);
  EXPECT_EQ(result.status, CONNECTOR_STATUS_INVALID_INPUT);
  EXPECT_EQ(result.error_code, "bad_continuation");
}

// ---- Code exchange: errors -------------------------------------------------------------

TEST(GithubExchange, BadVerificationCodeWithHttp200IsGrantInvalid) {
  const auto result = token_step(answer(200, R"({"error":"bad_verification_code",
      "error_description":"The code passed is incorrect or expired.",
      "error_uri":"https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request"
      })"));
  EXPECT_EQ(result.status, CONNECTOR_STATUS_GRANT_INVALID);
  EXPECT_EQ(result.error_code, "bad_verification_code");
  EXPECT_EQ(result.error_description, "The code passed is incorrect or expired.");
  EXPECT_EQ(result.access_token, "");
}

TEST(GithubExchange, FormEncodedErrorWithHttp200IsGrantInvalid) {
  const auto result =
      token_step(answer(200, "error=bad_verification_code&error_description=The+code+passed+is+incorrect+or+expired.",
                        {{"Content-Type", "application/x-www-form-urlencoded"}}));
  EXPECT_EQ(result.status, CONNECTOR_STATUS_GRANT_INVALID);
  EXPECT_EQ(result.error_code, "bad_verification_code");
  EXPECT_EQ(result.error_description, "The code passed is incorrect or expired.");
}

TEST(GithubExchange, IncorrectClientCredentialsIsClientInvalid) {
  const auto result = token_step(answer(200, R"({"error":"incorrect_client_credentials",
      "error_description":"The client_id and/or client_secret passed are incorrect."})"));
  EXPECT_EQ(result.status, CONNECTOR_STATUS_CLIENT_INVALID);
  EXPECT_EQ(result.error_code, "incorrect_client_credentials");
  EXPECT_EQ(result.error_description, "The client_id and/or client_secret passed are incorrect.");
}

TEST(GithubExchange, RedirectUriMismatchIsClientInvalid) {
  const auto result = token_step(answer(200, R"({"error":"redirect_uri_mismatch",
      "error_description":"The redirect_uri MUST match the registered callback URL for this application."})"));
  EXPECT_EQ(result.status, CONNECTOR_STATUS_CLIENT_INVALID);
  EXPECT_EQ(result.error_code, "redirect_uri_mismatch");
  EXPECT_EQ(result.error_description, "The redirect_uri MUST match the registered callback URL for this application.");
}

TEST(GithubExchange, HtmlBadGatewayIsTransient) {
  const auto result = token_step(
      answer(502, "<html>\n<head><title>502 Bad Gateway</title></head>\n</html>\n", {{"Content-Type", "text/html"}}));
  EXPECT_EQ(result.status, CONNECTOR_STATUS_TRANSIENT);
  EXPECT_EQ(result.error_code, "unexpected_response");
  EXPECT_EQ(result.access_token, "");
}

TEST(GithubExchange, SuccessStatusWithoutAccessTokenIsTransient) {
  const auto result = token_step(answer(200, R"({"token_type":"bearer"})"));
  EXPECT_EQ(result.status, CONNECTOR_STATUS_TRANSIENT);
}

// ---- Refresh ---------------------------------------------------------------------------

TEST(GithubRefresh, RequestShape) {
  const auto provider = make_provider("github", kSettings);
  ASSERT_TRUE(provider);
  const auto result = provider->step(core::Operation::refresh, token_params("ghu_old", "ghr_old"), nullptr);
  ASSERT_EQ(result.status, CONNECTOR_STATUS_SEND_REQUEST) << result.error_description;
  EXPECT_EQ(result.request.method, "POST");
  EXPECT_EQ(result.request.url, "https://github.com/login/oauth/access_token");
  EXPECT_EQ(header(result.request, "Accept"), "application/json");
  EXPECT_EQ(header(result.request, "Content-Type"), "application/x-www-form-urlencoded");
  EXPECT_EQ(header(result.request, "User-Agent"), "connector-host");
  EXPECT_EQ(result.request.body,
            "grant_type=refresh_token&refresh_token=ghr_old&client_id=Iv1.abc&client_secret=s3cr3t-value");
}

TEST(GithubRefresh, RefusesAMissingRefreshToken) {
  const auto provider = make_provider("github", kSettings);
  ASSERT_TRUE(provider);
  const auto result = provider->step(core::Operation::refresh, token_params("ghu_old"), nullptr);
  EXPECT_EQ(result.status, CONNECTOR_STATUS_INVALID_INPUT);
  EXPECT_EQ(result.error_description, "refresh_token is required");
}

TEST(GithubRefresh, NewTokensWithRotatedRefreshToken) {
  const auto provider = make_provider("github", kSettings);
  ASSERT_TRUE(provider);
  const auto refreshed = answer(200, R"({"access_token":"ghu_new","expires_in":28800,"refresh_token":"ghr_new",
      "refresh_token_expires_in":15724800,"scope":"","token_type":"bearer"})");
  const auto result = provider->step(core::Operation::refresh, token_params("ghu_old", "ghr_old"), &refreshed);
  ASSERT_EQ(result.status, CONNECTOR_STATUS_OK) << result.error_code << ": " << result.error_description;
  EXPECT_EQ(result.access_token, "ghu_new");
  EXPECT_EQ(result.refresh_token, "ghr_new");
  EXPECT_EQ(result.expires_in, 28800);
  EXPECT_EQ(result.refresh_token_expires_in, 15724800);
  EXPECT_EQ(result.token_type, "bearer");
}

TEST(GithubRefresh, AnswerWithoutRefreshTokenLeavesItAbsent) {
  const auto provider = make_provider("github", kSettings);
  ASSERT_TRUE(provider);
  const auto refreshed = answer(200, R"({"access_token":"ghu_new","expires_in":28800,"token_type":"bearer"})");
  const auto result = provider->step(core::Operation::refresh, token_params("ghu_old", "ghr_old"), &refreshed);
  ASSERT_EQ(result.status, CONNECTOR_STATUS_OK);
  EXPECT_EQ(result.access_token, "ghu_new");
  EXPECT_EQ(result.refresh_token, std::nullopt);
}

TEST(GithubRefresh, BadRefreshTokenWithHttp200IsGrantInvalid) {
  const auto provider = make_provider("github", kSettings);
  ASSERT_TRUE(provider);
  const auto refused = answer(200, R"({"error":"bad_refresh_token",
      "error_description":"The refresh token passed is incorrect or expired.",
      "error_uri":"https://docs.github.com"})");
  const auto result = provider->step(core::Operation::refresh, token_params("ghu_old", "ghr_old"), &refused);
  EXPECT_EQ(result.status, CONNECTOR_STATUS_GRANT_INVALID);
  EXPECT_EQ(result.error_code, "bad_refresh_token");
  EXPECT_EQ(result.error_description, "The refresh token passed is incorrect or expired.");
  EXPECT_EQ(result.access_token, "");
}

// ---- Revoke ----------------------------------------------------------------------------

TEST(GithubRevoke, RequestShape) {
  const auto provider = make_provider("github", kSettings);
  ASSERT_TRUE(provider);
  const auto result = provider->step(core::Operation::revoke, token_params(kOauthToken), nullptr);
  ASSERT_EQ(result.status, CONNECTOR_STATUS_SEND_REQUEST) << result.error_description;
  EXPECT_EQ(result.request.method, "DELETE");
  EXPECT_EQ(result.request.url, "https://api.github.com/applications/Iv1.abc/grant");
  // base64("Iv1.abc:s3cr3t-value")
  EXPECT_EQ(header(result.request, "Authorization"), "Basic SXYxLmFiYzpzM2NyM3QtdmFsdWU=");
  EXPECT_EQ(header(result.request, "Accept"), "application/vnd.github+json");
  EXPECT_EQ(header(result.request, "Content-Type"), "application/json");
  EXPECT_EQ(header(result.request, "User-Agent"), "connector-host");
  EXPECT_EQ(header(result.request, "X-GitHub-Api-Version"), "2022-11-28");
  EXPECT_EQ(result.request.body, R"({"access_token":")" + kOauthToken + R"("})");
}

TEST(GithubRevoke, BasicCredentialsPadCorrectly) {
  // "Iv1.abc:secret1" is 15 bytes (no padding), "Iv1.abc:secret12" 16 (two '=').
  const auto no_padding = make_provider("github", R"({"client_id":"Iv1.abc","client_secret":"secret1"})");
  const auto two_pads = make_provider("github", R"({"client_id":"Iv1.abc","client_secret":"secret12"})");
  ASSERT_TRUE(no_padding && two_pads);
  EXPECT_EQ(
      header(no_padding->step(core::Operation::revoke, token_params(kOauthToken), nullptr).request, "Authorization"),
      "Basic SXYxLmFiYzpzZWNyZXQx");
  EXPECT_EQ(
      header(two_pads->step(core::Operation::revoke, token_params(kOauthToken), nullptr).request, "Authorization"),
      "Basic SXYxLmFiYzpzZWNyZXQxMg==");
}

TEST(GithubRevoke, EnterpriseServerApiPath) {
  const auto provider = make_provider(
      "github", R"({"client_id":"Iv1.abc","client_secret":"s3cr3t-value","base_url":"https://ghe.example.com"})");
  ASSERT_TRUE(provider);
  const auto result = provider->step(core::Operation::revoke, token_params(kOauthToken), nullptr);
  EXPECT_EQ(result.request.url, "https://ghe.example.com/api/v3/applications/Iv1.abc/grant");
}

TEST(GithubRevoke, NoContentIsDone) {
  const auto provider = make_provider("github", kSettings);
  ASSERT_TRUE(provider);
  const auto done = answer(204, "", {});
  const auto result = provider->step(core::Operation::revoke, token_params(kOauthToken), &done);
  EXPECT_EQ(result.status, CONNECTOR_STATUS_OK);
  EXPECT_EQ(result.error_code, "");
}

TEST(GithubRevoke, NotFoundMeansAlreadyRevoked) {
  const auto provider = make_provider("github", kSettings);
  ASSERT_TRUE(provider);
  const auto gone = answer(404, R"({"message":"Not Found","documentation_url":"https://docs.github.com/rest"})");
  const auto result = provider->step(core::Operation::revoke, token_params(kOauthToken), &gone);
  EXPECT_EQ(result.status, CONNECTOR_STATUS_OK);
}

TEST(GithubRevoke, ValidationFailedIsRejectedWithGithubsMessage) {
  const auto provider = make_provider("github", kSettings);
  ASSERT_TRUE(provider);
  const auto refused = answer(422, R"({"message":"Validation Failed","documentation_url":"https://docs.github.com"})");
  const auto result = provider->step(core::Operation::revoke, token_params(kOauthToken), &refused);
  EXPECT_EQ(result.status, CONNECTOR_STATUS_PROVIDER_REJECTED);
  EXPECT_EQ(result.error_code, "http_422");
  EXPECT_EQ(result.error_description, "GitHub refused to revoke the grant (HTTP 422): Validation Failed");
}

TEST(GithubRevoke, UnauthorizedMeansBadClientCredentials) {
  const auto provider = make_provider("github", kSettings);
  ASSERT_TRUE(provider);
  const auto refused = answer(401, R"({"message":"Bad credentials"})");
  const auto result = provider->step(core::Operation::revoke, token_params(kOauthToken), &refused);
  EXPECT_EQ(result.status, CONNECTOR_STATUS_CLIENT_INVALID);
  EXPECT_EQ(result.error_code, "bad_credentials");
  EXPECT_EQ(result.error_description.find(kSecret), std::string::npos);
}

TEST(GithubRevoke, ServerErrorIsTransient) {
  const auto provider = make_provider("github", kSettings);
  ASSERT_TRUE(provider);
  const auto failed = answer(500, "oops", {{"Content-Type", "text/plain"}});
  const auto result = provider->step(core::Operation::revoke, token_params(kOauthToken), &failed);
  EXPECT_EQ(result.status, CONNECTOR_STATUS_TRANSIENT);
}

// ---- Check -----------------------------------------------------------------------------

TEST(GithubCheck, RequestShape) {
  const auto provider = make_provider("github", kSettings);
  ASSERT_TRUE(provider);
  const auto result = provider->step(core::Operation::check, token_params(kOauthToken), nullptr);
  ASSERT_EQ(result.status, CONNECTOR_STATUS_SEND_REQUEST) << result.error_description;
  EXPECT_EQ(result.request.method, "GET");
  EXPECT_EQ(result.request.url, "https://api.github.com/user");
  EXPECT_EQ(header(result.request, "Authorization"), "Bearer " + kOauthToken);
  EXPECT_EQ(header(result.request, "Accept"), "application/vnd.github+json");
  EXPECT_EQ(header(result.request, "User-Agent"), "connector-host");
  EXPECT_EQ(header(result.request, "X-GitHub-Api-Version"), "2022-11-28");
  EXPECT_EQ(result.continuation, "");
}

TEST(GithubCheck, AccountAndScopesFromUser) {
  const auto provider = make_provider("github", kSettings);
  ASSERT_TRUE(provider);
  const auto user = answer(200, kUserBody, {{"Content-Type", "application/json"}, {"X-OAuth-Scopes", "repo, user"}});
  const auto result = provider->step(core::Operation::check, token_params(kOauthToken), &user);
  ASSERT_EQ(result.status, CONNECTOR_STATUS_OK) << result.error_code << ": " << result.error_description;
  EXPECT_EQ(result.account_id, "1296269");
  EXPECT_EQ(result.account_name, "octocat");
  EXPECT_EQ(result.granted_scopes, (Scopes{"repo", "user"}));
}

TEST(GithubCheck, UnauthorizedIsGrantInvalid) {
  const auto provider = make_provider("github", kSettings);
  ASSERT_TRUE(provider);
  const auto refused = answer(401, R"({"message":"Bad credentials","documentation_url":"https://docs.github.com"})");
  const auto result = provider->step(core::Operation::check, token_params(kOauthToken), &refused);
  EXPECT_EQ(result.status, CONNECTOR_STATUS_GRANT_INVALID);
  EXPECT_EQ(result.error_code, "bad_credentials");
}

TEST(GithubCheck, ServerErrorIsTransient) {
  const auto provider = make_provider("github", kSettings);
  ASSERT_TRUE(provider);
  const auto failed = answer(503, "<html>Unicorn!</html>", {{"Content-Type", "text/html"}});
  const auto result = provider->step(core::Operation::check, token_params(kOauthToken), &failed);
  EXPECT_EQ(result.status, CONNECTOR_STATUS_TRANSIENT);
  EXPECT_EQ(result.account_id, "");
}

TEST(GithubCheck, SuccessWithoutIdIsTransient) {
  const auto provider = make_provider("github", kSettings);
  ASSERT_TRUE(provider);
  const auto odd = answer(200, R"({"login":"octocat"})");
  const auto result = provider->step(core::Operation::check, token_params(kOauthToken), &odd);
  EXPECT_EQ(result.status, CONNECTOR_STATUS_TRANSIENT);
}

} // namespace
