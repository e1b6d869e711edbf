// Whole flows through the real host process, the real plugins and the TLS provider double:
// authorize, the user's consent (the double's consent stand-in redirects at once), the
// provider-facing callback with the code exchange, and the completion that makes a source.
#include "integration/flow_driver.hpp"
#include "integration/host_fixture.hpp"

#include <gmock/gmock.h>

#include <chrono>
#include <thread>

using namespace connector::testing;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

class OAuthFlow : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    work_ = std::make_unique<TempDir>("connector-flow");
    provider_ = std::make_unique<ProviderDouble>(work_->path());
    host_ = std::make_unique<HostProcess>(work_->path(), provider_.get());
  }
  static void TearDownTestSuite() {
    host_.reset();
    provider_.reset();
    work_.reset();
  }
  void SetUp() override { provider_->control("POST", "/__control/reset"); }

  // Runs authorize and the consent step; returns {connection_id, the host callback URL}.
  static std::pair<std::string, std::string> start_flow(const std::string& org, const std::string& key,
                                                        const std::string& slug) {
    const auto started =
        api_post(host_->api(org) + "/sources/authorize", key, {{"slug", slug}, {"redirect_url", client_redirect}});
    EXPECT_EQ(started.status, 200) << started.body;
    const auto body = started.json();
    const std::string consent_url = body.value("authorization_url", "");
    const auto consent = http_request("GET", consent_url, {}, {}, (tls_dir() / "ca.pem").string());
    EXPECT_EQ(consent.status, 302) << consent.body;
    return {body.value("connection_id", ""), consent.header("location")};
  }

  static std::unique_ptr<TempDir> work_;
  static std::unique_ptr<ProviderDouble> provider_;
  static std::unique_ptr<HostProcess> host_;
};

std::unique_ptr<TempDir> OAuthFlow::work_;
std::unique_ptr<ProviderDouble> OAuthFlow::provider_;
std::unique_ptr<HostProcess> OAuthFlow::host_;

TEST_F(OAuthFlow, GithubFlowCreatesASourceWithSealedCredentials) {
  const std::string org = "org_github_flow";
  const std::string key = host_->create_key(org);
  const auto [connection_id, callback_url] = start_flow(org, key, "github");
  ASSERT_THAT(callback_url, HasSubstr(host_->base_url() + "/v1/oauth/callback?"));
  EXPECT_FALSE(query_param(callback_url, "code").empty());

  const auto back = http_request("GET", callback_url);
  ASSERT_EQ(back.status, 302) << back.body;
  const std::string location = back.header("location");
  EXPECT_THAT(location, HasSubstr(std::string(client_redirect) + "?"));
  EXPECT_EQ(query_param(location, "connection_id"), connection_id);
  EXPECT_EQ(query_param(location, "status"), "success");
  EXPECT_THAT(location, Not(HasSubstr("code="))); // the code never reaches the client

  // The double saw the host's PKCE verifier and the exact redirect_uri.
  const auto stats = provider_->stats();
  EXPECT_EQ(stats["token_calls"]["authorization_code"], 1) << stats.dump();

  const std::string workspace = host_->create_workspace(org, key);
  const auto created = api_post(host_->api(org) + "/sources/oauth/callback", key,
                                {{"connection_id", connection_id},
                                 {"workspace_id", workspace},
                                 {"source_definition_id", "ef69ef6e-aa7f-4af1-a01d-ef775033524e"},
                                 {"source_name", "Octocat's repositories"}});
  ASSERT_EQ(created.status, 200) << created.body;
  const auto source = created.json();
  EXPECT_THAT(source.value("source_id", ""), ::testing::StartsWith("src_"));
  EXPECT_EQ(source["name"], "Octocat's repositories");
  EXPECT_EQ(source["source_type"], "github");
  EXPECT_EQ(source["workspace_id"], workspace);
  EXPECT_EQ(source["connection_id"], connection_id);
  EXPECT_EQ(source["status"], "active");
  EXPECT_EQ(source["configuration"]["account_name"], "octocat");
  EXPECT_THAT(created.body, Not(HasSubstr("gho_"))); // no token in the answer

  // At rest the token is sealed: the database holds no GitHub token text.
  EXPECT_THAT(host_->dump(), Not(HasSubstr("gho_")));

  const auto fetched = api_get(host_->api(org) + "/sources/" + source["source_id"].get<std::string>(), key);
  ASSERT_EQ(fetched.status, 200);
  EXPECT_EQ(fetched.json()["source_id"], source["source_id"]);

  // A connection makes one source only.
  const auto again = api_post(host_->api(org) + "/sources/oauth/callback", key,
                              {{"connection_id", connection_id},
                               {"workspace_id", workspace},
                               {"source_definition_id", "ef69ef6e-aa7f-4af1-a01d-ef775033524e"},
                               {"source_name", "again"}});
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(again.json()["error"]["code"], "CONNECTION_ALREADY_USED");
}

TEST_F(OAuthFlow, GoogleSheetsFlowChecksTheIssuerAndKeepsGrantedScopes) {
  const std::string org = "org_google_flow";
  const std::string key = host_->create_key(org);
  const auto [connection_id, callback_url] = start_flow(org, key, "google-sheets");
  EXPECT_EQ(query_param(callback_url, "iss"), "https://accounts.google.com");

  const auto back = http_request("GET", callback_url);
  ASSERT_EQ(back.status, 302) << back.body;
  EXPECT_EQ(query_param(back.header("location"), "status"), "success");

  const std::string workspace = host_->create_workspace(org, key);
  const auto created = api_post(host_->api(org) + "/sources/oauth/callback", key,
                                {{"connection_id", connection_id},
                                 {"workspace_id", workspace},
                                 {"source_definition_id", "71607ba1-c0ac-4799-8049-7f4b90dd50f7"},
                                 {"source_name", "Budget sheets"}});
  ASSERT_EQ(created.status, 200) << created.body;
  const auto scopes = created.json()["configuration"]["scopes"];
  EXPECT_THAT(scopes.dump(), HasSubstr("spreadsheets.readonly"));
  EXPECT_THAT(host_->dump(), Not(HasSubstr("ya29.")));
}

TEST_F(OAuthFlow, AReplayedCallbackIsRefusedAndChangesNothing) {
  const std::string org = "org_replay";
  const std::string key = host_->create_key(org);
  const auto [connection_id, callback_url] = start_flow(org, key, "github");
  ASSERT_EQ(http_request("GET", callback_url).status, 302);
  const std::string before = host_->dump();

  const auto replay = http_request("GET", callback_url);
  EXPECT_EQ(replay.status, 400);
  EXPECT_TRUE(replay.header("location").empty()) << "a refused callback redirects nowhere";
  EXPECT_THAT(replay.body, HasSubstr("unknown or was already used"));
  EXPECT_EQ(host_->dump(), before);
  EXPECT_EQ(provider_->stats()["token_calls"]["authorization_code"], 1);
}

TEST_F(OAuthFlow, AnUnknownOrMissingStateShowsAPageAndRedirectsNowhere) {
  const auto unknown = http_request("GET", host_->base_url() + "/v1/oauth/callback?code=abc&state=forged");
  EXPECT_EQ(unknown.status, 400);
  EXPECT_TRUE(unknown.header("location").empty());
  EXPECT_THAT(unknown.header("content-type"), HasSubstr("text/html"));
  const auto missing = http_request("GET", host_->base_url() + "/v1/oauth/callback?code=abc");
  EXPECT_EQ(missing.status, 400);
  EXPECT_THAT(missing.body, HasSubstr("missing its state"));
}

// A state names its connection; knowing the connection id (the client does) is not enough:
// the secret part must match, the refusal changes nothing, and the real callback still works.
TEST_F(OAuthFlow, AStateWithTheRightConnectionButAWrongSecretIsRefused) {
  const std::string org = "org_state_secret";
  const std::string key = host_->create_key(org);
  const auto [connection_id, callback_url] = start_flow(org, key, "github");
  const std::string state = query_param(callback_url, "state");
  ASSERT_EQ(state.rfind(connection_id + ".", 0), 0U) << state;
  std::string guessed = state;
  guessed.back() = guessed.back() == 'A' ? 'B' : 'A';
  std::string forged = callback_url;
  forged.replace(forged.find(state), state.size(), guessed);
  const std::string before = host_->dump();

  const auto refused = http_request("GET", forged);
  EXPECT_EQ(refused.status, 400);
  EXPECT_THAT(refused.body, HasSubstr("unknown or was already used"));
  EXPECT_EQ(host_->dump(), before);
  const auto real = http_request("GET", callback_url);
  ASSERT_EQ(real.status, 302) << real.body;
  EXPECT_EQ(query_param(real.header("location"), "status"), "success");
}

TEST_F(OAuthFlow, AWrongIssuerFailsTheFlow) {
  const std::string org = "org_mixup";
  const std::string key = host_->create_key(org);
  const auto [connection_id, callback_url] = start_flow(org, key, "google-sheets");
  std::string forged = callback_url;
  const auto at = forged.find("iss=");
  ASSERT_NE(at, std::string::npos);
  forged = forged.substr(0, at) + "iss=https%3A%2F%2Fevil.example" +
           forged.substr(forged.find('&', at) == std::string::npos ? forged.size() : forged.find('&', at));

  const auto back = http_request("GET", forged);
  ASSERT_EQ(back.status, 302);
  EXPECT_EQ(query_param(back.header("location"), "status"), "error");
  EXPECT_EQ(query_param(back.header("location"), "error"), "invalid_issuer");
  EXPECT_EQ(provider_->stats()["token_calls"]["authorization_code"], 0) << "no code exchange after a mix-up";
}

TEST_F(OAuthFlow, TheUserPressingCancelReachesTheClientAsAnError) {
  const std::string org = "org_cancel";
  const std::string key = host_->create_key(org);
  const auto started =
      api_post(host_->api(org) + "/sources/authorize", key, {{"slug", "github"}, {"redirect_url", client_redirect}});
  ASSERT_EQ(started.status, 200);
  const std::string state = query_param(started.json()["authorization_url"], "state");
  const auto back =
      http_request("GET", host_->base_url() + "/v1/oauth/callback?error=access_denied&error_description=" +
                              "The+user+has+denied+your+application+access.&state=" + state);
  ASSERT_EQ(back.status, 302);
  const std::string location = back.header("location");
  EXPECT_EQ(query_param(location, "status"), "error");
  EXPECT_EQ(query_param(location, "error"), "access_denied");

  const std::string workspace = host_->create_workspace(org, key);
  const auto completed = api_post(host_->api(org) + "/sources/oauth/callback", key,
                                  {{"connection_id", started.json()["connection_id"]},
                                   {"workspace_id", workspace},
                                   {"source_definition_id", "ef69ef6e-aa7f-4af1-a01d-ef775033524e"},
                                   {"source_name", "x"}});
  EXPECT_EQ(completed.status, 409);
  EXPECT_EQ(completed.json()["error"]["code"], "CONNECTION_FAILED");
  EXPECT_EQ(completed.json()["error"]["details"]["provider_error"], "access_denied");
}

TEST_F(OAuthFlow, ProviderFailuresEndTheFlowWithAPreciseError) {
  const std::string org = "org_provider_failures";
  const std::string key = host_->create_key(org);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"http500", "internal_failure"}, // the provider's own code, passed on
      {"html403", "unexpected_response"},        {"github200error", "bad_verification_code"},
      {"truncated-json", "unexpected_response"}, {"timeout", "provider_timeout"},
  };
  for (const auto& [behaviour, expected_error] : cases) {
    provider_->control("POST", "/__control/behaviour", {{"token", behaviour}, {"times", 1}});
    const auto [connection_id, callback_url] = start_flow(org, key, "github");
    const auto back = http_request("GET", callback_url);
    ASSERT_EQ(back.status, 302) << behaviour << ": " << back.body;
    EXPECT_EQ(query_param(back.header("location"), "status"), "error") << behaviour;
    EXPECT_EQ(query_param(back.header("location"), "error"), expected_error) << behaviour;
  }
}

TEST_F(OAuthFlow, CompletingBeforeConsentIsRefused) {
  const std::string org = "org_early";
  const std::string key = host_->create_key(org);
  const auto started =
      api_post(host_->api(org) + "/sources/authorize", key, {{"slug", "github"}, {"redirect_url", client_redirect}});
  const std::string workspace = host_->create_workspace(org, key);
  const auto completed = api_post(host_->api(org) + "/sources/oauth/callback", key,
                                  {{"connection_id", started.json()["connection_id"]},
                                   {"workspace_id", workspace},
                                   {"source_definition_id", "ef69ef6e-aa7f-4af1-a01d-ef775033524e"},
                                   {"source_name", "x"}});
  EXPECT_EQ(completed.status, 409);
  EXPECT_EQ(completed.json()["error"]["code"], "CONNECTION_NOT_AUTHORIZED");
}

TEST_F(OAuthFlow, AnotherOrganizationSeesNothing) {
  const std::string key_a = host_->create_key("org_a");
  const std::string key_b = host_->create_key("org_b");
  const auto [connection_id, callback_url] = start_flow("org_a", key_a, "github");
  ASSERT_EQ(http_request("GET", callback_url).status, 302);

  // B's key on A's path: refused outright.
  const auto foreign_path = api_get(host_->api("org_a") + "/connections/" + connection_id, key_b);
  EXPECT_EQ(foreign_path.status, 403);
  EXPECT_EQ(foreign_path.json()["error"]["code"], "ORGANIZATION_ACCESS_DENIED");

  // B's key on B's path with A's connection id: it does not exist for B.
  const std::string workspace_b = host_->create_workspace("org_b", key_b);
  const std::string before = host_->dump();
  const auto stolen = api_post(host_->api("org_b") + "/sources/oauth/callback", key_b,
                               {{"connection_id", connection_id},
                                {"workspace_id", workspace_b},
                                {"source_definition_id", "ef69ef6e-aa7f-4af1-a01d-ef775033524e"},
                                {"source_name", "stolen"}});
  EXPECT_EQ(stolen.status, 404);
  EXPECT_EQ(stolen.json()["error"]["code"], "CONNECTION_NOT_FOUND");
  EXPECT_EQ(host_->dump(), before);
}

TEST_F(OAuthFlow, ErrorsCarryTheEnvelopeAndTheRequestId) {
  const auto missing_key =
      http_request("POST", host_->api("org_x") + "/sources/authorize", {{"Content-Type", "application/json"}}, "{}");
  EXPECT_EQ(missing_key.status, 401);
  const auto envelope = missing_key.json();
  EXPECT_EQ(envelope["success"], false);
  EXPECT_EQ(envelope["error"]["code"], "AUTHENTICATION_REQUIRED");
  EXPECT_EQ(envelope["error"]["status"], 401);
  EXPECT_EQ(envelope["error"]["type"], "authentication_error");
  EXPECT_EQ(envelope["error"]["trace_id"], missing_key.header("x-request-id"));
  for (const char* member : {"message", "system_message", "details", "timestamp"}) {
    EXPECT_TRUE(envelope["error"].contains(member)) << member;
  }
  EXPECT_TRUE(host_->process().wait_for_stderr(missing_key.header("x-request-id"), std::chrono::seconds(2)))
      << "the trace id is in the log line";

  const auto wrong_key = http_request("GET", host_->api("org_x") + "/workspaces",
                                      {{"Authorization", "Bearer chk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}});
  EXPECT_EQ(wrong_key.status, 401);
  EXPECT_EQ(wrong_key.json()["error"]["code"], "INVALID_API_KEY");

  // A key of the right length with a byte outside base64url is refused.
  const auto misshapen_key =
      http_request("GET", host_->api("org_x") + "/workspaces",
                   {{"Authorization", "Bearer chk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA*"}});
  EXPECT_EQ(misshapen_key.status, 401);
  EXPECT_EQ(misshapen_key.json()["error"]["code"], "INVALID_API_KEY");
}

TEST_F(OAuthFlow, BadBodiesGetPreciseCodes) {
  const std::string org = "org_bodies";
  const std::string key = host_->create_key(org);
  const std::string url = host_->api(org) + "/sources/authorize";
  const std::map<std::string, std::string> headers = {{"Authorization", "Bearer " + key},
                                                      {"Content-Type", "application/json"}};
  const auto malformed = http_request("POST", url, headers, "{\"slug\": ");
  EXPECT_EQ(malformed.status, 400);
  EXPECT_EQ(malformed.json()["error"]["code"], "INVALID_REQUEST_BODY");

  const auto missing = http_request("POST", url, headers, "{}");
  EXPECT_EQ(missing.status, 422);
  EXPECT_EQ(missing.json()["error"]["code"], "VALIDATION_ERROR");
  EXPECT_EQ(missing.json()["error"]["details"]["errors"].size(), 2U);

  const auto ill_typed = http_request("POST", url, headers, R"({"slug": 7, "redirect_url": ["x"]})");
  EXPECT_EQ(ill_typed.status, 422);
  EXPECT_THAT(ill_typed.body, HasSubstr("must be a string"));

  const auto unknown = api_post(url, key, {{"slug", "no-such-provider"}, {"redirect_url", client_redirect}});
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.json()["error"]["code"], "CONNECTOR_NOT_FOUND");

  // The media type is compared without regard to case and its parameters, and as a whole:
  // a type that is longer or shorter than JSON's is refused.
  const std::string body = std::string(R"({"slug": "github", "redirect_url": ")") + client_redirect + "\"}";
  for (const std::string type :
       {"text/plain", "application/js", "application/jsonl", "application/json-seq", "text/json"}) {
    const auto refused = http_request("POST", url, {{"Authorization", "Bearer " + key}, {"Content-Type", type}}, body);
    EXPECT_EQ(refused.status, 415) << type;
    EXPECT_EQ(refused.json()["error"]["code"], "UNSUPPORTED_MEDIA_TYPE") << type;
  }
  const auto any_case = http_request(
      "POST", url, {{"Authorization", "Bearer " + key}, {"Content-Type", "Application/JSON; charset=utf-8"}}, body);
  EXPECT_EQ(any_case.status, 200) << any_case.body;
  const auto spaced = http_request(
      "POST", url, {{"Authorization", "Bearer " + key}, {"Content-Type", "application/json ;charset=utf-8"}}, body);
  EXPECT_EQ(spaced.status, 200) << spaced.body;

  const auto too_large = http_request("POST", url, headers, std::string(70 * 1024, ' '));
  EXPECT_EQ(too_large.status, 413);
  EXPECT_EQ(too_large.json()["error"]["code"], "PAYLOAD_TOO_LARGE");

  const auto big_headers = http_request("GET", host_->api(org) + "/workspaces",
                                        {{"Authorization", "Bearer " + key}, {"X-Filler", std::string(20000, 'a')}});
  EXPECT_EQ(big_headers.status, 431);
}

TEST_F(OAuthFlow, OnlyAllowedRedirectsAreAccepted) {
  const std::string org = "org_redirects";
  const std::string key = host_->create_key(org);
  const std::string url = host_->api(org) + "/sources/authorize";
  const std::string before = host_->dump();
  for (const std::string tricky : {
           "https://app.example.com.evil.example/callback",
           "https://app.example.com@evil.example/callback",
           "https://evil.example\\@app.example.com/callback",
           "https://app.example.com%2F@evil.example/callback",
           "https://evil.example/callback#https://app.example.com/callback",
           "http://app.example.com/callback",
           "//evil.example/callback",
           "javascript:alert(1)",
           "https://app.example.com/callback/../../evil",
           "https://app.example.com/other",
           "https://app.example.com:8443/callback",
       }) {
    const auto refused = api_post(url, key, {{"slug", "github"}, {"redirect_url", tricky}});
    EXPECT_EQ(refused.status, 422) << tricky << " -> " << refused.body;
    const std::string code = refused.json()["error"].value("code", "");
    EXPECT_TRUE(code == "REDIRECT_URL_NOT_ALLOWED" || code == "VALIDATION_ERROR") << tricky << " -> " << code;
  }
  EXPECT_EQ(host_->dump(), before) << "refusals store nothing";

  // The same URL written differently is the same URL.
  const auto equivalent =
      api_post(url, key, {{"slug", "github"}, {"redirect_url", "https://APP.example.com:443/callback?tab=1"}});
  EXPECT_EQ(equivalent.status, 200) << equivalent.body;

  // An organization's own allow-list, managed through the API.
  const std::string own = "https://tools.example.org/oauth/done";
  EXPECT_EQ(api_post(url, key, {{"slug", "github"}, {"redirect_url", own}}).status, 422);
  // The allow-list is a security setting: a key without "admin" cannot change it.
  EXPECT_EQ(api_post(host_->api(org) + "/redirect-urls", key, {{"url", own}}).status, 403);
  EXPECT_EQ(api_post(url, key, {{"slug", "github"}, {"redirect_url", own}}).status, 422);
  const std::string admin_key = host_->create_key(org, "sources admin");
  EXPECT_EQ(api_post(host_->api(org) + "/redirect-urls", admin_key, {{"url", own}}).status, 201);
  EXPECT_EQ(api_post(url, key, {{"slug", "github"}, {"redirect_url", own}}).status, 200);
  // ... and only for that organization.
  const std::string other_key = host_->create_key("org_redirects_other");
  EXPECT_EQ(api_post(host_->api("org_redirects_other") + "/sources/authorize", other_key,
                     {{"slug", "github"}, {"redirect_url", own}})
                .status,
            422);
}

TEST_F(OAuthFlow, NativeFlowValidatesOptionsAgainstThePluginSchema) {
  const std::string org = "org_native";
  const std::string key = host_->create_key(org);
  const std::string workspace = host_->create_workspace(org, key);
  const std::string url = host_->api(org) + "/sources/oauth";
  const nlohmann::json base = {{"source_definition_id", "ef69ef6e-aa7f-4af1-a01d-ef775033524e"},
                               {"workspace_id", workspace},
                               {"redirect_url", client_redirect}};

  nlohmann::json bad = base;
  bad["o_auth_input_configuration"] = {{"scopes", "repo"}, {"colour", "blue"}};
  const auto refused = api_post(url, key, bad);
  EXPECT_EQ(refused.status, 422) << refused.body;
  EXPECT_THAT(refused.body, HasSubstr("o_auth_input_configuration/scopes"));
  EXPECT_THAT(refused.body, HasSubstr("o_auth_input_configuration/colour"));

  nlohmann::json good = base;
  good["o_auth_input_configuration"] = {{"scopes", {"gist"}}, {"login", "octocat"}};
  const auto started = api_post(url, key, good);
  ASSERT_EQ(started.status, 200) << started.body;
  const std::string consent = started.json()["consent_url"];
  EXPECT_THAT(consent, HasSubstr("gist"));
  EXPECT_EQ(query_param(consent, "login"), "octocat");
  EXPECT_FALSE(query_param(consent, "code_challenge").empty());
  EXPECT_EQ(query_param(consent, "code_challenge_method"), "S256");

  nlohmann::json unknown_workspace = base;
  unknown_workspace["workspace_id"] = "ws_does_not_exist";
  EXPECT_EQ(api_post(url, key, unknown_workspace).json()["error"]["code"], "WORKSPACE_NOT_FOUND");
}

} // namespace

TEST(OAuthFlowExpiry, AnExpiredStateIsRefusedAndChangesNothing) {
  TempDir work("connector-expiry");
  ProviderDouble provider(work.path());
  HostProcess host(work.path(), &provider, {{{"CONNECTOR_STATE_TTL_SECONDS", "1"}}, {}});
  const std::string org = "org_expiry";
  const std::string key = host.create_key(org);
  const auto started =
      api_post(host.api(org) + "/sources/authorize", key, {{"slug", "github"}, {"redirect_url", client_redirect}});
  ASSERT_EQ(started.status, 200) << started.body;
  const auto consent =
      http_request("GET", started.json()["authorization_url"], {}, {}, (tls_dir() / "ca.pem").string());
  ASSERT_EQ(consent.status, 302);
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  const std::string before = host.dump();

  const auto late = http_request("GET", consent.header("location"));
  EXPECT_EQ(late.status, 400);
  EXPECT_TRUE(late.header("location").empty());
  EXPECT_THAT(late.body, HasSubstr("has expired"));
  EXPECT_EQ(host.dump(), before);
  EXPECT_EQ(provider.stats()["token_calls"]["authorization_code"], 0);

  const auto status =
      api_get(host.api(org) + "/connections/" + started.json()["connection_id"].get<std::string>(), key);
  EXPECT_EQ(status.json()["status"], "expired");
}

// Another process writing the same file (here the sqlite3 shell) adds flows while the host
// runs: the store, not the id, chooses where a row goes, so the host's next flow neither
// meets theirs nor hides them, and the client sees only its 200.
TEST(OAuthFlowKeys, FlowsAnotherProcessWroteLiveBesideTheHostsOwn) {
  TempDir work("connector-keys");
  ProviderDouble provider(work.path());
  // The 3,000 flows the shell writes are pending flows of the test's organization.
  HostProcess host(work.path(), &provider, {{{"CONNECTOR_MAX_PENDING_FLOWS", "0"}}, {}});
  const std::string org = "org_keys";
  const std::string key = host.create_key(org);
  const std::string url = host.api(org) + "/sources/authorize";
  const nlohmann::json body = {{"slug", "github"}, {"redirect_url", client_redirect}};
  const auto first = api_post(url, key, body);
  ASSERT_EQ(first.status, 200) << first.body;
  const std::string first_id = first.json()["connection_id"];

  const std::string columns = "organization_id, slug, source_definition_id, workspace_id, redirect_url, redirect_uri, "
                              "sealed_code_verifier, flow_options_json, status, error_code, error_description, "
                              "sealed_credentials, granted_scopes, token_expires_at, account_id, account_name, "
                              "source_id, created_at, expires_at, updated_at, version, target_source_id, "
                              "oauth_app_scope, plugin_build, state_names_connection";
  const auto written =
      run_command({"/usr/bin/sqlite3", "-cmd", ".timeout 5000", database_file(host.data_dir()).string(),
                   "WITH RECURSIVE t(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM t WHERE n < 3000) "
                   "INSERT INTO connections (id, state_hash, " +
                       columns +
                       ") SELECT printf('conn_%s', lower(hex(randomblob(16)))), "
                       "lower(hex(randomblob(32))), " +
                       columns + " FROM t, (SELECT * FROM connections WHERE id = '" + first_id + "')"},
                  {});
  ASSERT_EQ(written.exit_code, 0) << written.output;
  ASSERT_EQ(sqlite_query(host.data_dir(), "SELECT count(*) FROM connections"), "3001");
  const std::string theirs = sqlite_query(host.data_dir(), "SELECT id FROM connections ORDER BY row_key DESC LIMIT 1");

  const auto second = api_post(url, key, body);
  ASSERT_EQ(second.status, 200) << second.body;
  const std::string second_id = second.json()["connection_id"];
  EXPECT_EQ(sqlite_query(host.data_dir(), "SELECT id FROM connections ORDER BY row_key DESC LIMIT 1"), second_id)
      << "the host's flow goes after theirs";
  EXPECT_EQ(sqlite_query(host.data_dir(), "SELECT count(*) FROM connections"), "3002");
  const auto their_status = api_get(host.api(org) + "/connections/" + theirs, key);
  EXPECT_EQ(their_status.status, 200) << their_status.body;
  const auto status = api_get(host.api(org) + "/connections/" + second_id, key);
  EXPECT_EQ(status.status, 200) << status.body;
  EXPECT_EQ(status.json()["status"], "pending");
}
