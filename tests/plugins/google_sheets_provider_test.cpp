// The Google Sheets plugin driven through the real C ABI, as the host drives it: consent URLs,
// the token, refresh, revoke and check requests byte for byte, and Google's answers (including
// the odd ones: 403 HTML pages, truncated JSON, refresh answers without refresh_token). It runs on
// Linux and, cross-built, on Windows under Wine (support/provider_loading.hpp); what the host
// checks of the plugin before serving it is google_sheets_host_checks_test.cpp.
#include "plugins/google_sheets_test_values.hpp"
#include "support/provider_loading.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace {

using connector::core::FlowParams;
using connector::core::HeaderList;
using connector::core::Operation;
using connector::core::OperationResult;
using connector::core::ProviderAnswer;
using nlohmann::json;

using connector::testing::google_sheets::base_settings;
using connector::testing::google_sheets::kClientSecret;
using connector::testing::google_sheets::kDriveScope;
using connector::testing::google_sheets::kSheetsScope;

constexpr const char* kEncodedDefaultScopes =
    "https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fspreadsheets.readonly+https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fdrive."
    "readonly";

// RFC 7636 Appendix B.
constexpr const char* kPkceVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
constexpr const char* kPkceChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

// Shaped like Google's: codes start with "4/", refresh tokens with "1//".
constexpr const char* kCode = "4/0AeaYSHB-kT_x9";
constexpr const char* kRefreshToken = "1//0gLqW-3xYz_AbC";
constexpr const char* kAccessToken = "ya29.a0AfB_byC-test";

HeaderList form_headers() {
  return {{"Content-Type", "application/x-www-form-urlencoded"}, {"Accept", "application/json"}};
}

std::shared_ptr<const connector::core::ProviderInstance> make_google(const json& settings = base_settings()) {
  return connector::testing::make_provider("google-sheets", settings.dump());
}

FlowParams consent_params(const std::string& options_json = "") {
  FlowParams params;
  params.callback_uri = "https://airbyte.io";
  params.state = "state";
  params.options_json = options_json;
  return params;
}

FlowParams exchange_params() {
  FlowParams params;
  params.callback_uri = "https://app.example.com/oauth/callback";
  params.code = kCode;
  params.code_verifier = kPkceVerifier;
  return params;
}

ProviderAnswer answer(unsigned status, std::string body, HeaderList headers = {{"Content-Type", "application/json"}}) {
  ProviderAnswer out;
  out.status = status;
  out.body = std::move(body);
  out.headers = std::move(headers);
  return out;
}

constexpr const char* kInvalidGrantBody =
    R"({"error":"invalid_grant","error_description":"Token has been expired or revoked."})";
constexpr const char* kInvalidClientBody =
    R"({"error":"invalid_client","error_description":"The OAuth client was not found."})";
constexpr const char* kHtmlPage = "<!DOCTYPE html><html><head><title>Error 403 (Forbidden)!!1</title></head>"
                                  "<body><p>We're sorry, but you do not have access to this page.</p></body></html>";

// ---- Descriptor and instance -----------------------------------------------------------------

TEST(GoogleSheetsInstance, DeclaresGooglesHostsAndIssuer) {
  const auto google = make_google();
  ASSERT_NE(google, nullptr);
  EXPECT_EQ(google->allowed_hosts(), (std::vector<std::string>{"accounts.google.com", "oauth2.googleapis.com",
                                                               "sheets.googleapis.com", "www.googleapis.com"}));
  EXPECT_EQ(google->issuer(), "https://accounts.google.com");
}

TEST(GoogleSheetsInstance, DeclaresTheHostsOfOverriddenEndpoints) {
  json settings = base_settings();
  settings["auth_uri"] = "https://login.test/o/oauth2/v2/auth";
  settings["token_uri"] = "https://oauth2.test:8443/token";
  settings["revoke_uri"] = "https://oauth2.test:8443/revoke";
  settings["api_base_url"] = "https://sheets.test";
  settings["drive_api_url"] = "https://Drive.Test/";
  settings["issuer"] = "https://127.0.0.1:9443";
  const auto google = make_google(settings);
  ASSERT_NE(google, nullptr);
  EXPECT_EQ(google->allowed_hosts(),
            (std::vector<std::string>{"login.test", "oauth2.test", "sheets.test", "drive.test"}));
  EXPECT_EQ(google->issuer(), "https://127.0.0.1:9443");
}

// ---- Consent URL -----------------------------------------------------------------------------

TEST(GoogleSheetsAuthorizationUrl, ReproducesAirbytesExpectedUrl) {
  json settings = base_settings();
  settings["auth_uri"] = "https://accounts.google.com/o/oauth2/auth";
  const auto google = make_google(settings);
  ASSERT_NE(google, nullptr);
  const OperationResult result = google->authorization_url(consent_params());
  ASSERT_EQ(result.status, CONNECTOR_STATUS_OK) << result.error_description;
  EXPECT_EQ(result.authorization_url,
            "https://accounts.google.com/o/oauth2/auth?client_id=test_client_id&redirect_uri=https%3A%2F%2Fairbyte.io"
            "&response_type=code&scope=https%3A%2F%2Fwww.googleapis.com%2Fauth%2Fspreadsheets.readonly+https%3A%2F%2F"
            "www.googleapis.com%2Fauth%2Fdrive.readonly&access_type=offline&state=state&include_granted_scopes=true"
            "&prompt=consent");
}

TEST(GoogleSheetsAuthorizationUrl, AddsTheS256ChallengeOnGooglesV2Endpoint) {
  const auto google = make_google();
  ASSERT_NE(google, nullptr);
  FlowParams params = consent_params();
  params.code_challenge = kPkceChallenge;
  const OperationResult result = google->authorization_url(params);
  ASSERT_EQ(result.status, CONNECTOR_STATUS_OK) << result.error_description;
  EXPECT_EQ(
      result.authorization_url,
      std::string("https://accounts.google.com/o/oauth2/v2/auth?client_id=test_client_id&redirect_uri=https%3A%2F%2F"
                  "airbyte.io&response_type=code&scope=") +
          kEncodedDefaultScopes +
          "&access_type=offline&state=state&include_granted_scopes=true&prompt=consent"
          "&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256");
}

TEST(GoogleSheetsAuthorizationUrl, AppendsLoginHintPromptAndExtraScopesWithoutDuplicates) {
  const auto google = make_google();
  ASSERT_NE(google, nullptr);
  const json options{{"scopes", json::array({kDriveScope, "openid", "email"})},
                     {"login_hint", "jane.doe@example.com"},
                     {"prompt", "select_account consent"}};
  const OperationResult result = google->authorization_url(consent_params(options.dump()));
  ASSERT_EQ(result.status, CONNECTOR_STATUS_OK) << result.error_description;
  EXPECT_EQ(
      result.authorization_url,
      std::string("https://accounts.google.com/o/oauth2/v2/auth?client_id=test_client_id&redirect_uri=https%3A%2F%2F"
                  "airbyte.io&response_type=code&scope=") +
          kEncodedDefaultScopes +
          "+openid+email&access_type=offline&state=state&include_granted_scopes=true"
          "&prompt=select_account+consent&login_hint=jane.doe%40example.com");
}

TEST(GoogleSheetsAuthorizationUrl, EncodesALiteralPlusAsPercent2B) {
  json settings = base_settings();
  settings["scopes"] = json::array({"https://example.com/auth/a+b", kSheetsScope});
  const auto google = make_google(settings);
  ASSERT_NE(google, nullptr);
  FlowParams params = consent_params(json{{"login_hint", "jane+sheets@example.com"}}.dump());
  params.state = "st+ate";
  const OperationResult result = google->authorization_url(params);
  ASSERT_EQ(result.status, CONNECTOR_STATUS_OK) << result.error_description;
  EXPECT_EQ(
      result.authorization_url,
      "https://accounts.google.com/o/oauth2/v2/auth?client_id=test_client_id&redirect_uri=https%3A%2F%2Fairbyte.io"
      "&response_type=code&scope=https%3A%2F%2Fexample.com%2Fauth%2Fa%2Bb+https%3A%2F%2Fwww.googleapis.com%2F"
      "auth%2Fspreadsheets.readonly&access_type=offline&state=st%2Bate&include_granted_scopes=true"
      "&prompt=consent&login_hint=jane%2Bsheets%40example.com");
}

TEST(GoogleSheetsAuthorizationUrl, RefusesOptionsGoogleWouldReject) {
  const auto google = make_google();
  ASSERT_NE(google, nullptr);
  for (const json& options : {json{{"prompt", "none consent"}}, json{{"prompt", "Consent"}}, json{{"prompt", ""}},
                              json{{"prompt", "consent  select_account"}}, json{{"scopes", json::array({"a b"})}},
                              json{{"scopes", "openid"}}, json{{"login_hint", ""}}, json{{"access_type", "online"}}}) {
    const OperationResult result = google->authorization_url(consent_params(options.dump()));
    EXPECT_EQ(result.status, CONNECTOR_STATUS_INVALID_INPUT) << options.dump();
    EXPECT_FALSE(result.error_description.empty()) << options.dump();
  }
}

TEST(GoogleSheetsAuthorizationUrl, AcceptsPromptNoneAlone) {
  const auto google = make_google();
  ASSERT_NE(google, nullptr);
  const OperationResult result = google->authorization_url(consent_params(json{{"prompt", "none"}}.dump()));
  ASSERT_EQ(result.status, CONNECTOR_STATUS_OK) << result.error_description;
  EXPECT_NE(result.authorization_url.find("&include_granted_scopes=true&prompt=none"), std::string::npos)
      << result.authorization_url;
}

// ---- Settings --------------------------------------------------------------------------------

TEST(GoogleSheetsSettings, AcceptsADownloadedClientSecretJson) {
  const json file{{"web",
                   {{"client_id", "1234-abc.apps.googleusercontent.com"},
                    {"project_id", "sheets-connector"},
                    {"auth_uri", "https://accounts.google.com/o/oauth2/auth"},
                    {"token_uri", "https://oauth2.test/token"},
                    {"auth_provider_x509_cert_url", "https://www.googleapis.com/oauth2/v1/certs"},
                    {"client_secret", kClientSecret},
                    {"redirect_uris", json::array({"https://airbyte.io"})}}}};
  const auto google = make_google(file);
  ASSERT_NE(google, nullptr);

  const OperationResult consent = google->authorization_url(consent_params());
  ASSERT_EQ(consent.status, CONNECTOR_STATUS_OK) << consent.error_description;
  EXPECT_EQ(consent.authorization_url.rfind("https://accounts.google.com/o/oauth2/auth?client_id=1234-abc.apps."
                                            "googleusercontent.com&redirect_uri=",
                                            0),
            0u)
      << consent.authorization_url;

  const OperationResult request = google->step(Operation::exchange_code, exchange_params(), nullptr);
  ASSERT_EQ(request.status, CONNECTOR_STATUS_SEND_REQUEST) << request.error_description;
  EXPECT_EQ(request.request.url, "https://oauth2.test/token");
  EXPECT_EQ(request.request.body,
            std::string("grant_type=authorization_code&code=4%2F0AeaYSHB-kT_x9&client_id=1234-abc.apps."
                        "googleusercontent.com&client_secret=") +
                kClientSecret +
                "&redirect_uri=https%3A%2F%2Fapp.example.com%2Foauth%2Fcallback"
                "&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
}

TEST(GoogleSheetsSettings, TopLevelKeysOverrideAnInstalledClientFile) {
  const json settings{{"installed",
                       {{"client_id", "desktop-client"},
                        {"client_secret", kClientSecret},
                        {"token_uri", "https://oauth2.googleapis.com/token"}}},
                      {"token_uri", "https://token.test/token"}};
  const auto google = make_google(settings);
  ASSERT_NE(google, nullptr);
  FlowParams params;
  params.refresh_token = kRefreshToken;
  const OperationResult request = google->step(Operation::refresh, params, nullptr);
  ASSERT_EQ(request.status, CONNECTOR_STATUS_SEND_REQUEST) << request.error_description;
  EXPECT_EQ(request.request.url, "https://token.test/token");
  EXPECT_EQ(request.request.body, std::string("grant_type=refresh_token&refresh_token=1%2F%2F0gLqW-3xYz_AbC"
                                              "&client_id=desktop-client&client_secret=") +
                                      kClientSecret);
}

// ---- Code exchange ---------------------------------------------------------------------------

TEST(GoogleSheetsExchange, PostsTheCodeAsAFormToTheConfiguredTokenUri) {
  json settings = base_settings();
  settings["token_uri"] = "https://oauth2.test:8443/token";
  const auto google = make_google(settings);
  ASSERT_NE(google, nullptr);
  const OperationResult result = google->step(Operation::exchange_code, exchange_params(), nullptr);
  ASSERT_EQ(result.status, CONNECTOR_STATUS_SEND_REQUEST) << result.error_description;
  EXPECT_EQ(result.request.method, "POST");
  EXPECT_EQ(result.request.url, "https://oauth2.test:8443/token");
  EXPECT_EQ(result.request.headers, form_headers());
  EXPECT_EQ(result.request.body, std::string("grant_type=authorization_code&code=4%2F0AeaYSHB-kT_x9"
                                             "&client_id=test_client_id&client_secret=") +
                                     kClientSecret +
                                     "&redirect_uri=https%3A%2F%2Fapp.example.com%2Foauth%2Fcallback"
                                     "&code_verifier=dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk");
}

TEST(GoogleSheetsExchange, OmitsCodeVerifierWithoutPkce) {
  const auto google = make_google();
  ASSERT_NE(google, nullptr);
  FlowParams params = exchange_params();
  params.code_verifier.clear();
  const OperationResult result = google->step(Operation::exchange_code, params, nullptr);
  ASSERT_EQ(result.status, CONNECTOR_STATUS_SEND_REQUEST) << result.error_description;
  EXPECT_EQ(result.request.url, "https://oauth2.googleapis.com/token");
  EXPECT_EQ(result.request.body, std::string("grant_type=authorization_code&code=4%2F0AeaYSHB-kT_x9"
                                             "&client_id=test_client_id&client_secret=") +
                                     kClientSecret + "&redirect_uri=https%3A%2F%2Fapp.example.com%2Foauth%2Fcallback");
}

TEST(GoogleSheetsExchange, RefusesToExchangeWithoutACode) {
  const auto google = make_google();
  ASSERT_NE(google, nullptr);
  FlowParams params = exchange_params();
  params.code.clear();
  const OperationResult result = google->step(Operation::exchange_code, params, nullptr);
  EXPECT_EQ(result.status, CONNECTOR_STATUS_INVALID_INPUT);
  EXPECT_EQ(result.error_code, "invalid_input");
}

TEST(GoogleSheetsExchange, StoresWhatGoogleGrantedNotWhatWasAsked) {
  const auto google = make_google();
  ASSERT_NE(google, nullptr);
  // The user unticked Drive; a scope granted earlier comes back through include_granted_scopes.
  const ProviderAnswer google_answer = answer(200, R"({
    "access_token": "ya29.a0AfB_byC-test",
    "expires_in": 3599,
    "refresh_token": "1//0gLqW-3xYz_AbC",
    "scope": "https://www.googleapis.com/auth/spreadsheets.readonly https://www.googleapis.com/auth/calendar.readonly",
    "token_type": "Bearer"
  })");
  const OperationResult result = google->step(Operation::exchange_code, exchange_params(), &google_answer);
  ASSERT_EQ(result.status, CONNECTOR_STATUS_OK) << result.error_description;
  EXPECT_EQ(result.access_token, kAccessToken);
  EXPECT_EQ(result.refresh_token, std::optional<std::string>(kRefreshToken));
  EXPECT_EQ(result.expires_in, std::optional<int64_t>(3599));
  EXPECT_FALSE(result.refresh_token_expires_in.has_value());
  EXPECT_EQ(result.token_type, "Bearer");
  EXPECT_EQ(result.granted_scopes,
            (std::vector<std::string>{kSheetsScope, "https://www.googleapis.com/auth/calendar.readonly"}));
}

TEST(GoogleSheetsExchange, ReportsAUsedCodeAsADeadGrant) {
  const auto google = make_google();
  ASSERT_NE(google, nullptr);
  const ProviderAnswer google_answer = answer(400, kInvalidGrantBody);
  const OperationResult result = google->step(Operation::exchange_code, exchange_params(), &google_answer);
  EXPECT_EQ(result.status, CONNECTOR_STATUS_GRANT_INVALID);
  EXPECT_EQ(result.error_code, "invalid_grant");
  EXPECT_EQ(result.error_description, "Token has been expired or revoked.");
  EXPECT_TRUE(result.access_token.empty());
}

// ---- Refresh ---------------------------------------------------------------------------------

TEST(GoogleSheetsRefresh, PostsTheRefreshTokenAsAForm) {
  const auto google = make_google();
  ASSERT_NE(google, nullptr);
  FlowParams params;
  params.refresh_token = kRefreshToken;
  const OperationResult result = google->step(Operation::refresh, params, nullptr);
  ASSERT_EQ(result.status, CONNECTOR_STATUS_SEND_REQUEST) << result.error_description;
  EXPECT_EQ(result.request.method, "POST");
  EXPECT_EQ(result.request.url, "https://oauth2.googleapis.com/token");
  EXPECT_EQ(result.request.headers, form_headers());
  EXPECT_EQ(result.request.body, std::string("grant_type=refresh_token&refresh_token=1%2F%2F0gLqW-3xYz_AbC"
                                             "&client_id=test_client_id&client_secret=") +
                                     kClientSecret);
}

TEST(GoogleSheetsRefresh, RefusesToRefreshWithoutARefreshToken) {
  const auto google = make_google();
  ASSERT_NE(google, nullptr);
  const OperationResult result = google->step(Operation::refresh, FlowParams{}, nullptr);
  EXPECT_EQ(result.status, CONNECTOR_STATUS_INVALID_INPUT);
}

TEST(GoogleSheetsRefresh, LeavesTheStoredRefreshTokenAloneWhenGoogleSendsNone) {
  const auto google = make_google();
  ASSERT_NE(google, nullptr);
  FlowParams params;
  params.refresh_token = kRefreshToken;
  const ProviderAnswer google_answer =
      answer(200, R"({"access_token":"ya29.a0-refreshed","expires_in":3419,"scope":"https://www.googleapis.com/auth/)"
                  R"(drive.readonly https://www.googleapis.com/auth/spreadsheets.readonly","token_type":"Bearer"})");
  const OperationResult result = google->step(Operation::refresh, params, &google_answer);
  ASSERT_EQ(result.status, CONNECTOR_STATUS_OK) << result.error_description;
  EXPECT_EQ(result.access_token, "ya29.a0-refreshed");
  EXPECT_FALSE(result.refresh_token.has_value());
  EXPECT_EQ(result.expires_in, std::optional<int64_t>(3419));
  EXPECT_EQ(result.token_type, "Bearer");
  EXPECT_EQ(result.granted_scopes, (std::vector<std::string>{kDriveScope, kSheetsScope}));
}

struct RefreshFailure {
  const char* name;
  unsigned status;
  std::string body;
  connector_status expected_status;
  const char* expected_code;
};

TEST(GoogleSheetsRefresh, ClassifiesGooglesFailures) {
  const auto google = make_google();
  ASSERT_NE(google, nullptr);
  FlowParams params;
  params.refresh_token = kRefreshToken;
  const std::vector<RefreshFailure> cases{
      {"revoked refresh token", 400, kInvalidGrantBody, CONNECTOR_STATUS_GRANT_INVALID, "invalid_grant"},
      {"deleted client", 401, kInvalidClientBody, CONNECTOR_STATUS_CLIENT_INVALID, "invalid_client"},
      {"overloaded front end", 403, kHtmlPage, CONNECTOR_STATUS_TRANSIENT, "unexpected_response"},
      {"server error page", 500, "<html><body>Internal Server Error</body></html>", CONNECTOR_STATUS_TRANSIENT,
       "unexpected_response"},
      {"server error with an error code", 500, R"({"error":"internal_failure"})", CONNECTOR_STATUS_TRANSIENT,
       "internal_failure"},
      {"truncated JSON", 200, R"({"access_token":"ya29.a0AfB_byC-te)", CONNECTOR_STATUS_TRANSIENT,
       "unexpected_response"},
      {"empty body", 502, "", CONNECTOR_STATUS_TRANSIENT, "unexpected_response"},
  };
  for (const auto& failure : cases) {
    const ProviderAnswer google_answer = answer(failure.status, failure.body);
    const OperationResult result = google->step(Operation::refresh, params, &google_answer);
    EXPECT_EQ(result.status, failure.expected_status) << failure.name;
    EXPECT_EQ(result.error_code, failure.expected_code) << failure.name;
    EXPECT_TRUE(result.access_token.empty()) << failure.name;
    EXPECT_EQ(result.error_description.find(kRefreshToken), std::string::npos) << failure.name;
  }
}

TEST(GoogleSheetsRefresh, PassesGooglesDescriptionsThrough) {
  const auto google = make_google();
  ASSERT_NE(google, nullptr);
  FlowParams params;
  params.refresh_token = kRefreshToken;
  const ProviderAnswer invalid_grant = answer(400, kInvalidGrantBody);
  EXPECT_EQ(google->step(Operation::refresh, params, &invalid_grant).error_description,
            "Token has been expired or revoked.");
  const ProviderAnswer invalid_client = answer(401, kInvalidClientBody);
  EXPECT_EQ(google->step(Operation::refresh, params, &invalid_client).error_description,
            "The OAuth client was not found.");
}

// ---- Revoke ----------------------------------------------------------------------------------

TEST(GoogleSheetsRevoke, RevokesTheRefreshTokenWhenThereIsOne) {
  json settings = base_settings();
  settings["revoke_uri"] = "https://oauth2.test/revoke";
  const auto google = make_google(settings);
  ASSERT_NE(google, nullptr);
  FlowParams params;
  params.refresh_token = kRefreshToken;
  params.access_token = kAccessToken;
  const OperationResult result = google->step(Operation::revoke, params, nullptr);
  ASSERT_EQ(result.status, CONNECTOR_STATUS_SEND_REQUEST) << result.error_description;
  EXPECT_EQ(result.request.method, "POST");
  EXPECT_EQ(result.request.url, "https://oauth2.test/revoke");
  EXPECT_EQ(result.request.headers, form_headers());
  EXPECT_EQ(result.request.body, "token=1%2F%2F0gLqW-3xYz_AbC");
}

TEST(GoogleSheetsRevoke, FallsBackToTheAccessToken) {
  const auto google = make_google();
  ASSERT_NE(google, nullptr);
  FlowParams params;
  params.access_token = kAccessToken;
  const OperationResult result = google->step(Operation::revoke, params, nullptr);
  ASSERT_EQ(result.status, CONNECTOR_STATUS_SEND_REQUEST) << result.error_description;
  EXPECT_EQ(result.request.url, "https://oauth2.googleapis.com/revoke");
  EXPECT_EQ(result.request.body, "token=ya29.a0AfB_byC-test");

  const OperationResult nothing = google->step(Operation::revoke, FlowParams{}, nullptr);
  EXPECT_EQ(nothing.status, CONNECTOR_STATUS_INVALID_INPUT);
}

TEST(GoogleSheetsRevoke, ReadsGooglesAnswers) {
  const auto google = make_google();
  ASSERT_NE(google, nullptr);
  FlowParams params;
  params.refresh_token = kRefreshToken;

  const ProviderAnswer revoked = answer(200, "{}");
  EXPECT_EQ(google->step(Operation::revoke, params, &revoked).status, CONNECTOR_STATUS_OK);

  // Already expired or revoked: the grant is gone, which is what revoking is for.
  const ProviderAnswer already_gone =
      answer(400, R"({"error":"invalid_token","error_description":"Token expired or revoked"})");
  EXPECT_EQ(google->step(Operation::revoke, params, &already_gone).status, CONNECTOR_STATUS_OK);

  const ProviderAnswer bad_request = answer(400, R"({"error":"invalid_request","error_description":"Bad Request"})");
  const OperationResult refused = google->step(Operation::revoke, params, &bad_request);
  EXPECT_EQ(refused.status, CONNECTOR_STATUS_PROVIDER_REJECTED);
  EXPECT_EQ(refused.error_code, "http_400");

  const ProviderAnswer unavailable = answer(503, kHtmlPage, {{"Content-Type", "text/html"}});
  const OperationResult later = google->step(Operation::revoke, params, &unavailable);
  EXPECT_EQ(later.status, CONNECTOR_STATUS_TRANSIENT);
  EXPECT_EQ(later.error_code, "unexpected_response");
}

// ---- Check -----------------------------------------------------------------------------------

TEST(GoogleSheetsCheck, AsksDriveWhoTheUserIsWithTheTokenInAHeader) {
  json settings = base_settings();
  settings["drive_api_url"] = "https://drive.test:8443/";
  const auto google = make_google(settings);
  ASSERT_NE(google, nullptr);
  FlowParams params;
  params.access_token = kAccessToken;
  const OperationResult result = google->step(Operation::check, params, nullptr);
  ASSERT_EQ(result.status, CONNECTOR_STATUS_SEND_REQUEST) << result.error_description;
  EXPECT_EQ(result.request.method, "GET");
  EXPECT_EQ(result.request.url, "https://drive.test:8443/drive/v3/about?fields=user");
  EXPECT_EQ(result.request.headers,
            (HeaderList{{"Authorization", "Bearer ya29.a0AfB_byC-test"}, {"Accept", "application/json"}}));
  EXPECT_EQ(result.request.body, "");
}

TEST(GoogleSheetsCheck, DefaultsToGooglesDriveApi) {
  const auto google = make_google();
  ASSERT_NE(google, nullptr);
  FlowParams params;
  params.access_token = kAccessToken;
  EXPECT_EQ(google->step(Operation::check, params, nullptr).request.url,
            "https://www.googleapis.com/drive/v3/about?fields=user");

  params.access_token = "ya29.x\r\nX-Injected: 1";
  EXPECT_EQ(google->step(Operation::check, params, nullptr).status, CONNECTOR_STATUS_INVALID_INPUT);
}

TEST(GoogleSheetsCheck, ReadsTheAccountFromDrive) {
  const auto google = make_google();
  ASSERT_NE(google, nullptr);
  FlowParams params;
  params.access_token = kAccessToken;
  const ProviderAnswer about = answer(200, R"({"user":{"kind":"drive#user","displayName":"Jane Doe",)"
                                           R"("me":true,"permissionId":"01234567890123456789",)"
                                           R"("emailAddress":"jane.doe@example.com"}})");
  const OperationResult result = google->step(Operation::check, params, &about);
  ASSERT_EQ(result.status, CONNECTOR_STATUS_OK) << result.error_description;
  EXPECT_EQ(result.account_id, "01234567890123456789");
  EXPECT_EQ(result.account_name, "jane.doe@example.com");
}

TEST(GoogleSheetsCheck, ClassifiesDrivesRefusals) {
  const auto google = make_google();
  ASSERT_NE(google, nullptr);
  FlowParams params;
  params.access_token = kAccessToken;

  const ProviderAnswer unauthorized =
      answer(401, R"({"error":{"code":401,"message":"Request had invalid authentication credentials.",)"
                  R"("status":"UNAUTHENTICATED"}})");
  const OperationResult dead = google->step(Operation::check, params, &unauthorized);
  EXPECT_EQ(dead.status, CONNECTOR_STATUS_GRANT_INVALID);
  EXPECT_EQ(dead.error_code, "invalid_token");

  const ProviderAnswer no_drive_scope = answer(
      403, R"({"error":{"code":403,"message":"Request had insufficient authentication scopes.",)"
           R"("errors":[{"message":"Insufficient Permission","domain":"global","reason":"insufficientPermissions"}],)"
           R"("status":"PERMISSION_DENIED"}})");
  const OperationResult unticked = google->step(Operation::check, params, &no_drive_scope);
  EXPECT_EQ(unticked.status, CONNECTOR_STATUS_PROVIDER_REJECTED);
  EXPECT_EQ(unticked.error_code, "insufficient_scope");

  const ProviderAnswer rate_limited = answer(
      403, R"({"error":{"code":403,"message":"Rate Limit Exceeded","errors":[{"reason":"rateLimitExceeded"}]}})");
  EXPECT_EQ(google->step(Operation::check, params, &rate_limited).status, CONNECTOR_STATUS_TRANSIENT);

  const ProviderAnswer garbage = answer(200, "<html>captive portal</html>", {{"Content-Type", "text/html"}});
  const OperationResult unreadable = google->step(Operation::check, params, &garbage);
  EXPECT_EQ(unreadable.status, CONNECTOR_STATUS_TRANSIENT);
  EXPECT_TRUE(unreadable.account_id.empty());

  const ProviderAnswer no_user = answer(200, R"({"user":{"displayName":"Jane Doe"}})");
  EXPECT_EQ(google->step(Operation::check, params, &no_user).status, CONNECTOR_STATUS_TRANSIENT);

  const ProviderAnswer not_found = answer(404, R"({"error":{"code":404,"message":"Not Found"}})");
  const OperationResult missing = google->step(Operation::check, params, &not_found);
  EXPECT_EQ(missing.status, CONNECTOR_STATUS_PROVIDER_REJECTED);
  EXPECT_EQ(missing.error_code, "http_404");
}

} // namespace
