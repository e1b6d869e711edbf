// The host against a real OAuth 2.0 authorization server: oidc-provider 8 (tests/peers/oidc-server.js)
// wearing Google's or GitHub's paths, its login and consent pages played by
// tests/peers/drive-oidc-login.js. The provider double bends to the host's tests; this server does
// not: it insists on RFC 6749's required parameters (response_type, grant_type), on the exact
// registered redirect_uri, on PKCE S256, on single-use codes, and puts its own `iss` (RFC 9207) on
// every authorization response. Each native plugin is pointed at it with the same settings an
// operator would use for a self-hosted authorization server (or a GitHub Enterprise Server).
#include "integration/flow_driver.hpp"
#include "integration/oidc_server.hpp"
#include "support/watchdog.hpp"

#include <connector/encoding.hpp>

#include <gmock/gmock.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <stdexcept>
#include <utility>
#include <vector>

using namespace connector::testing;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

namespace {

constexpr const char* kSheetsDefinitionId = "71607ba1-c0ac-4799-8049-7f4b90dd50f7";
constexpr const char* kGithubDefinitionId = "ef69ef6e-aa7f-4af1-a01d-ef775033524e";
constexpr const char* kGitlabDefinitionId = "5e6175e5-68e1-4c17-bff9-56103bbb0d80";
// Not the fixture's defaults, so a match proves these very values reached both sides.
constexpr const char* kClientId = "oidc-e2e-client";
constexpr const char* kClientSecret = "oidc-e2e-secret";
// A whole flow takes about a second; this is far beyond it, and well within CTest's 120 s.
constexpr std::chrono::seconds kTestDeadline{60};

std::string ca_file() { return (tls_dir() / "ca.pem").string(); }

using Settings = std::map<std::string, std::string>;

// A native plugin, and how an operator points it at the server.
struct PluginUnderTest {
  const char* flavour; // oidc-server.js --flavour: the provider's paths
  const char* slug;
  const char* consent_path;
  Settings (*settings)(const std::string& issuer); // every endpoint at the server
  std::array<const char*, 5> server_options{};     // how the server behaves like the provider
  bool dropped_in = false; // the host starts on an empty plugins folder; the test drops the plugin in
};

constexpr PluginUnderTest google{"google", "google-sheets", "/o/oauth2/v2/auth", [](const std::string& issuer) {
                                   return google_sheets_settings_at(issuer, kClientId, kClientSecret);
                                 }};

// As a GitHub Enterprise Server at the server's address: its web and REST API URLs.
constexpr PluginUnderTest github{"github", "github", "/login/oauth/authorize", [](const std::string& issuer) {
                                   return Settings{
                                       {"CONNECTOR_GITHUB_CLIENT_ID", kClientId},
                                       {"CONNECTOR_GITHUB_CLIENT_SECRET", kClientSecret},
                                       {"CONNECTOR_GITHUB_BASE_URL", issuer},
                                       {"CONNECTOR_GITHUB_API_URL", issuer},
                                   };
                                 }};

// The catalogue's GitLab definition (plugins/catalogue/gitlab.json), as a self-managed GitLab
// at the server's address. GitLab's refresh tokens are single-use, and so are the server's here.
constexpr PluginUnderTest gitlab{"gitlab",
                                 "gitlab",
                                 "/oauth/authorize",
                                 [](const std::string& issuer) {
                                   return Settings{
                                       {"CONNECTOR_GITLAB_CLIENT_ID", kClientId},
                                       {"CONNECTOR_GITLAB_CLIENT_SECRET", kClientSecret},
                                       {"CONNECTOR_GITLAB_BASE_URL", issuer},
                                   };
                                 },
                                 {"--rotate-refresh-tokens"}};

// The same definition as a file dropped into a running host's plugins folder: no compiler.
constexpr PluginUnderTest dropped_gitlab{
    "gitlab",           "gitlab", "/oauth/authorize", gitlab.settings, gitlab.server_options,
    /*dropped_in=*/true};

// A provider whose grants say where they live, like Salesforce (instance_url in the token
// answer) and QuickBooks (realmId on the redirect): a definition dropped in as "ledger".
constexpr PluginUnderTest ledger{
    "gitlab",
    "ledger",
    "/oauth/authorize",
    [](const std::string& issuer) {
      return Settings{
          {"CONNECTOR_LEDGER_CLIENT_ID", kClientId},
          {"CONNECTOR_LEDGER_CLIENT_SECRET", kClientSecret},
          {"CONNECTOR_LEDGER_BASE_URL", issuer},
      };
    },
    {"--token-extra", "instance_url=https://acme.ledger.example", "--callback-parameter", "realmId=4620816365"},
    /*dropped_in=*/true};

// The user signs in and consents on the server's own pages (tests/peers/drive-oidc-login.js);
// the answer is where the server finally sends the browser, not followed.
std::string sign_in_at(const std::string& authorization_url, const std::filesystem::path& work) {
  static int run = 0;
  ChildProcess driver(
      {"/usr/bin/node", (source_dir() / "tests/peers/drive-oidc-login.js").string(), authorization_url, ca_file()}, {},
      work, "drive-oidc-login-" + std::to_string(++run));
  const int exit_code = driver.stop(0, std::chrono::seconds(30)); // signal 0: only wait, killed at the deadline
  std::string location = driver.stdout_text();
  while (!location.empty() && (location.back() == '\n' || location.back() == '\r'))
    location.pop_back();
  EXPECT_EQ(exit_code, 0) << "drive-oidc-login.js: " << driver.stderr_text();
  return location;
}

// One server and one host for a suite of one plugin's tests.
class OidcFlow : public ::testing::Test {
protected:
  static void start(const PluginUnderTest& plugin) {
    plugin_ = &plugin;
    work_ = std::make_unique<TempDir>("connector-oidc");
    std::string failure;
    for (int attempt = 1; attempt <= 3 && !host_; ++attempt) {
      const unsigned short port = free_loopback_port();
      server_.reset();
      std::vector<std::string> server_options;
      for (const char* option : plugin.server_options) {
        if (option != nullptr) server_options.emplace_back(option);
      }
      server_ = std::make_unique<OidcServer>(work_->path(), plugin.flavour, kClientId, kClientSecret,
                                             "http://127.0.0.1:" + std::to_string(port) + "/v1/oauth/callback",
                                             server_options);
      HostOptions options;
      options.listen = "127.0.0.1:" + std::to_string(port);
      options.data_dir = work_->path() / ("data-" + std::to_string(attempt));
      if (plugin.dropped_in) {
        options.plugins_dir = plugins_dir();
        std::filesystem::create_directories(options.plugins_dir);
      }
      for (auto& [name, value] : plugin.settings(server_->issuer()))
        options.environment[name] = std::move(value);
      options.environment["CONNECTOR_CA_FILE"] = ca_file();
      options.environment["CONNECTOR_ALLOWED_REDIRECTS"] = client_redirect;
      try {
        host_ = std::make_unique<HostProcess>(work_->path(), nullptr, options);
      } catch (const std::exception& error) {
        failure = error.what();
        // Only a lost race for the port is worth another attempt; anything else is a real failure.
        if (failure.find("in use") == std::string::npos) break;
      }
    }
    if (!host_) throw std::runtime_error(failure); // already says what the host printed
  }
  static void stop() {
    host_.reset();
    server_.reset();
    work_.reset();
  }

  void SetUp() override {
    watchdog_ = std::make_unique<Watchdog>(kTestDeadline, std::vector<int>{host_->process().pid(), server_->pid()});
    server_->reset_stats();
  }
  void TearDown() override {
    const bool fired = watchdog_->fired();
    watchdog_.reset();
    EXPECT_FALSE(fired) << "the test ran past " << kTestDeadline.count()
                        << " s; the host and oidc-server.js were killed";
    if (HasFailure()) std::cerr << "oidc-server.js log:\n" << server_->log() << "\n";
  }

  // POST sources/authorize: the host's consent URL and the connection it made.
  struct Started {
    std::string connection_id;
    std::string authorization_url;
  };
  static Started authorize(const std::string& org, const std::string& key) {
    const auto started = api_post(host_->api(org) + "/sources/authorize", key,
                                  {{"slug", plugin_->slug}, {"redirect_url", client_redirect}});
    EXPECT_EQ(started.status, 200) << started.body;
    const auto body = started.json();
    return {body.value("connection_id", ""), body.value("authorization_url", "")};
  }

  // What every plugin's consent URL carries to this server: RFC 6749's response_type, the
  // client, the host's callback and an S256 challenge (the server refuses any request without
  // one, so a code exchange that succeeds proves the verifier).
  static void expect_standard_consent_url(const std::string& authorization_url) {
    ASSERT_THAT(authorization_url, StartsWith(server_->issuer() + plugin_->consent_path + "?"));
    EXPECT_EQ(query_param(authorization_url, "response_type"), "code");
    EXPECT_EQ(query_param(authorization_url, "code_challenge_method"), "S256");
    EXPECT_EQ(query_param(authorization_url, "code_challenge").size(), 43u) << authorization_url;
    EXPECT_EQ(query_param(authorization_url, "redirect_uri"), host_->base_url() + "/v1/oauth/callback");
    EXPECT_EQ(query_param(authorization_url, "client_id"), kClientId);
  }

  // The user signs in and consents on the server's own pages; the answer is where the server
  // finally sends the browser: the host's callback with code, state and iss.
  static std::string sign_in(const std::string& authorization_url) {
    return sign_in_at(authorization_url, work_->path());
  }

  // The provider's redirect comes back to the host, which exchanges the code and sends the
  // browser on to the client with success.
  static void expect_callback_succeeds(const std::string& callback_url, const std::string& connection_id) {
    const auto back = http_request("GET", callback_url);
    ASSERT_EQ(back.status, 302) << back.body;
    const std::string location = back.header("location");
    EXPECT_THAT(location, StartsWith(std::string(client_redirect) + "?"));
    EXPECT_EQ(query_param(location, "connection_id"), connection_id);
    EXPECT_EQ(query_param(location, "status"), "success") << location;
    EXPECT_THAT(location, Not(HasSubstr("code="))); // the code never reaches the client
  }

  // POST sources/oauth/callback: the source a finished flow makes in `workspace`.
  static HttpResult make_source(const std::string& org, const std::string& key, const std::string& workspace,
                                const std::string& connection_id, const char* definition_id, const char* name) {
    return api_post(host_->api(org) + "/sources/oauth/callback", key,
                    {{"connection_id", connection_id},
                     {"workspace_id", workspace},
                     {"source_definition_id", definition_id},
                     {"source_name", name}});
  }

  static std::string callback_prefix() { return host_->base_url() + "/v1/oauth/callback?"; }
  static std::filesystem::path plugins_dir() { return work_->path() / "plugins"; }

  // Writes `text` beside the plugins folder and renames it in: the watcher sees one whole file.
  static void drop_in(const std::string& name, const std::string& text) {
    const std::filesystem::path staged = work_->path() / (name + ".staged");
    std::ofstream(staged) << text;
    std::filesystem::permissions(staged, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write |
                                             std::filesystem::perms::group_read | std::filesystem::perms::others_read);
    std::filesystem::rename(staged, plugins_dir() / name);
  }

  static std::string catalogue_text(const char* slug) {
    std::ifstream file(source_dir() / "plugins/catalogue" / (std::string(slug) + ".json"));
    return {std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
  }

  static const PluginUnderTest* plugin_;
  static std::unique_ptr<TempDir> work_;
  static std::unique_ptr<OidcServer> server_;
  static std::unique_ptr<HostProcess> host_;
  std::unique_ptr<Watchdog> watchdog_;
};

const PluginUnderTest* OidcFlow::plugin_ = nullptr;
std::unique_ptr<TempDir> OidcFlow::work_;
std::unique_ptr<OidcServer> OidcFlow::server_;
std::unique_ptr<HostProcess> OidcFlow::host_;

// A suite's server and host, for one plugin.
template <const PluginUnderTest* Plugin> class OidcSuite : public OidcFlow {
protected:
  static void SetUpTestSuite() { start(*Plugin); }
  static void TearDownTestSuite() { stop(); }
};

using OidcGoogleFlow = OidcSuite<&google>;
using OidcGithubFlow = OidcSuite<&github>;
using OidcGitlabFlow = OidcSuite<&gitlab>;

using OidcDroppedDefinition = OidcSuite<&dropped_gitlab>;
using OidcGrantMetadata = OidcSuite<&ledger>;

TEST_F(OidcGoogleFlow, SignInAtARealServerMakesAnActiveSource) {
  const std::string org = "org_oidc_flow";
  const std::string key = host_->create_key(org);
  const auto [connection_id, authorization_url] = authorize(org, key);

  expect_standard_consent_url(authorization_url);

  const std::string callback_url = sign_in(authorization_url);
  ASSERT_THAT(callback_url, StartsWith(callback_prefix()));
  EXPECT_FALSE(query_param(callback_url, "code").empty());
  EXPECT_EQ(query_param(callback_url, "state"), query_param(authorization_url, "state"));
  EXPECT_EQ(query_param(callback_url, "iss"), server_->issuer());
  expect_callback_succeeds(callback_url, connection_id);

  // One code exchange, accepted: the server checked client secret, redirect_uri and verifier.
  const auto stats = server_->stats();
  EXPECT_EQ(stats["token_calls"]["total"], 1) << stats.dump();
  EXPECT_EQ(stats["token_calls"]["authorization_code"], 1) << stats.dump();
  EXPECT_EQ(stats["token_errors"], 0) << stats.dump();
  EXPECT_EQ(stats["client_auth"]["post"], 1) << "client_secret_post, as the client is registered: " << stats.dump();

  const std::string workspace = host_->create_workspace(org, key);
  const auto created =
      make_source(org, key, workspace, connection_id, kSheetsDefinitionId, "Sheets from a real server");
  ASSERT_EQ(created.status, 200) << created.body;
  const auto source = created.json();
  EXPECT_EQ(source["source_type"], "google-sheets");
  EXPECT_EQ(source["status"], "active");
  EXPECT_EQ(source["connection_id"], connection_id);
  EXPECT_EQ(source["workspace_id"], workspace);
  // The server grants what was asked (it has no "untick" step): the plugin's default scopes.
  EXPECT_THAT(source["configuration"]["scopes"].dump(), HasSubstr("spreadsheets.readonly"));
  EXPECT_THAT(source["configuration"]["scopes"].dump(), HasSubstr("drive.readonly"));
}

TEST_F(OidcGoogleFlow, AReplayedCallbackIsRefusedWithAPage) {
  const std::string org = "org_oidc_replay";
  const std::string key = host_->create_key(org);
  const auto [connection_id, authorization_url] = authorize(org, key);
  const std::string callback_url = sign_in(authorization_url);
  ASSERT_THAT(callback_url, StartsWith(callback_prefix()));
  const auto first = http_request("GET", callback_url);
  ASSERT_EQ(first.status, 302) << first.body;
  ASSERT_EQ(query_param(first.header("location"), "status"), "success") << first.header("location");

  // The state was claimed by the first visit: the replay never reaches the server, which would
  // refuse the used code anyway (and, per RFC 6749 4.1.2, revoke what it issued for it).
  const auto replay = http_request("GET", callback_url);
  EXPECT_EQ(replay.status, 400);
  EXPECT_TRUE(replay.header("location").empty()) << "a refused callback redirects nowhere";
  EXPECT_THAT(replay.header("content-type"), HasSubstr("text/html"));
  EXPECT_THAT(replay.body, HasSubstr("unknown or was already used"));
  const auto stats = server_->stats();
  EXPECT_EQ(stats["token_calls"]["total"], 1) << stats.dump();
}

TEST_F(OidcGoogleFlow, ACallbackNamingAnotherIssuerIsRefusedBeforeTheExchange) {
  const std::string org = "org_oidc_mixup";
  const std::string key = host_->create_key(org);
  const auto [connection_id, authorization_url] = authorize(org, key);
  const std::string callback_url = sign_in(authorization_url);
  ASSERT_THAT(callback_url, StartsWith(callback_prefix()));

  // A mix-up attack (RFC 9207): the code comes back labelled with another issuer, here the real
  // Google's, which is what the plugin would expect if the operator had not set an issuer.
  ASSERT_EQ(query_param(callback_url, "iss"), server_->issuer());
  std::string forged = callback_url;
  const auto at = forged.find("iss=");
  ASSERT_NE(at, std::string::npos) << callback_url;
  const auto end = forged.find('&', at);
  forged.replace(at, end == std::string::npos ? std::string::npos : end - at, "iss=https%3A%2F%2Faccounts.google.com");
  ASSERT_EQ(query_param(forged, "iss"), "https://accounts.google.com") << forged;
  ASSERT_EQ(query_param(forged, "code"), query_param(callback_url, "code")) << forged;

  const auto back = http_request("GET", forged);
  ASSERT_EQ(back.status, 302) << back.body;
  const std::string location = back.header("location");
  EXPECT_EQ(query_param(location, "connection_id"), connection_id);
  EXPECT_EQ(query_param(location, "status"), "error");
  EXPECT_EQ(query_param(location, "error"), "invalid_issuer");
  EXPECT_EQ(server_->stats()["token_calls"]["total"], 0) << "the code must not be redeemed after a mix-up";

  // The forged visit used up the flow: the genuine callback cannot redeem the code afterwards.
  const auto genuine = http_request("GET", callback_url);
  EXPECT_EQ(genuine.status, 400);
  EXPECT_EQ(server_->stats()["token_calls"]["total"], 0);
}

// GitHub's plugin speaks RFC 6749 to a server that insists on it: response_type on the consent
// URL and grant_type on the exchange, which github.com ignores but a GitHub-compatible server
// needs. Then the account from GET /user, a source, and a refresh with the refresh token.
TEST_F(OidcGithubFlow, SignInAtARealServerMakesAnActiveSourceThatRefreshes) {
  const std::string org = "org_oidc_github";
  const std::string key = host_->create_key(org, "sources credentials:read");
  const auto [connection_id, authorization_url] = authorize(org, key);
  expect_standard_consent_url(authorization_url);
  const std::string scope = query_param(authorization_url, "scope");
  EXPECT_THAT(scope, HasSubstr("read:org"));
  EXPECT_THAT(scope, Not(HasSubstr("workflow"))) << "a reading connector asks no write access to workflows";

  const std::string callback_url = sign_in(authorization_url);
  ASSERT_THAT(callback_url, StartsWith(callback_prefix()));
  expect_callback_succeeds(callback_url, connection_id);
  auto stats = server_->stats();
  EXPECT_EQ(stats["token_calls"]["authorization_code"], 1) << stats.dump();
  EXPECT_EQ(stats["token_errors"], 0) << stats.dump();
  EXPECT_EQ(stats["client_auth"]["post"], 1) << stats.dump();
  EXPECT_EQ(stats["user_calls"], 1) << "the account comes from GET /user: " << stats.dump();

  const std::string workspace = host_->create_workspace(org, key);
  const auto created =
      make_source(org, key, workspace, connection_id, kGithubDefinitionId, "GitHub from a real server");
  ASSERT_EQ(created.status, 200) << created.body;
  const auto source = created.json();
  EXPECT_EQ(source["source_type"], "github");
  EXPECT_EQ(source["status"], "active");
  EXPECT_THAT(source["configuration"]["scopes"].dump(), HasSubstr("read:org"));

  const std::string source_id = source.value("source_id", "");
  const auto first = request_access_token(*host_, org, key, source_id);
  ASSERT_EQ(first.status, 200) << first.body;
  const auto refreshed = request_access_token(*host_, org, key, source_id, /*force_refresh=*/true);
  ASSERT_EQ(refreshed.status, 200) << refreshed.body;
  EXPECT_NE(refreshed.json()["access_token"], first.json()["access_token"]);
  stats = server_->stats();
  EXPECT_EQ(stats["token_calls"]["refresh_token"], 1) << stats.dump();
  EXPECT_EQ(stats["token_errors"], 0) << stats.dump();
}

// A provider made of a definition alone, compiled into its plugin: the whole flow at a real
// server, the account from the check call, refreshes with a refresh token that is single-use
// (a definition that kept the old one would fail the second refresh), and the revocation
// when the source is deleted.
// A team moving from another platform brings its users' grants: a refresh token obtained at
// the server without the host (as the old platform did) is imported with POST sources, and the
// host refreshes it like its own (here with the server rotating refresh tokens).
TEST_F(OidcGitlabFlow, AGrantObtainedElsewhereIsImportedAndRefreshedLikeTheHostsOwn) {
  const std::string org = "org_oidc_import";
  const std::string key = host_->create_key(org, "sources credentials:read");
  const std::string workspace = host_->create_workspace(org, key);

  // The old platform's consent and code exchange, with RFC 7636 appendix B's PKCE pair.
  const std::string redirect_uri = host_->base_url() + "/v1/oauth/callback";
  const std::string consent =
      server_->issuer() + "/oauth/authorize?" +
      connector::sdk::form_encode({{"response_type", "code"},
                                   {"client_id", kClientId},
                                   {"redirect_uri", redirect_uri},
                                   {"scope", "read_api read_user"},
                                   {"state", "elsewhere"},
                                   {"code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"},
                                   {"code_challenge_method", "S256"}});
  const std::string code = query_param(sign_in(consent), "code");
  ASSERT_FALSE(code.empty());
  const auto exchanged =
      http_request("POST", server_->issuer() + "/oauth/token",
                   {{"Content-Type", "application/x-www-form-urlencoded"}, {"Accept", "application/json"}},
                   connector::sdk::form_encode({{"grant_type", "authorization_code"},
                                                {"code", code},
                                                {"redirect_uri", redirect_uri},
                                                {"client_id", kClientId},
                                                {"client_secret", kClientSecret},
                                                {"code_verifier", "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"}}),
                   ca_file());
  ASSERT_EQ(exchanged.status, 200) << exchanged.body;
  const nlohmann::json grant = exchanged.json();
  const std::string refresh_token = grant.value("refresh_token", "");
  ASSERT_FALSE(refresh_token.empty()) << exchanged.body;

  const auto sources_url = host_->api(org) + "/sources";
  const auto import = [&](nlohmann::json credentials, const char* definition = kGitlabDefinitionId) {
    return api_post(sources_url, key,
                    {{"name", "Imported GitLab"},
                     {"source_definition_id", definition},
                     {"workspace_id", workspace},
                     {"configuration", {{"project", "acme/site"}, {"credentials", std::move(credentials)}}}});
  };
  // Refused, storing nothing: no refresh token, a field it does not know, a connector that
  // cannot refresh (Slack's tokens do not expire and cannot be refreshed).
  EXPECT_EQ(import({{"auth_type", "oauth2.0"}, {"access_token", "x"}}).json()["error"]["code"], "VALIDATION_ERROR");
  EXPECT_THAT(import({{"auth_type", "oauth2.0"}, {"refresh_token", "r"}, {"id_token", "x"}}).body,
              HasSubstr("configuration.credentials.id_token"));
  EXPECT_THAT(import({{"auth_type", "oauth2.0"}, {"refresh_token", "r"}}, "c2281cee-86f9-4a86-bb48-d23286b4c7bd").body,
              HasSubstr("cannot refresh a grant"));
  EXPECT_EQ(api_get(sources_url + "?workspace_id=" + workspace, key).json()["sources"].size(), 0U);

  const auto created = import({{"auth_type", "oauth2.0"},
                               {"refresh_token", refresh_token},
                               {"access_token", grant.value("access_token", "")},
                               {"expires_in", grant.value("expires_in", 0)},
                               {"scopes", {"read_api", "read_user"}},
                               {"account_id", "42"},
                               {"metadata", {{"group", "acme"}}}});
  ASSERT_EQ(created.status, 201) << created.body;
  const nlohmann::json source = created.json();
  EXPECT_EQ(source["configuration"]["auth_type"], "oauth2.0");
  EXPECT_EQ(source["configuration"]["project"], "acme/site");
  EXPECT_EQ(source["configuration"]["metadata"]["group"], "acme");
  EXPECT_THAT(created.body, Not(HasSubstr(refresh_token)));
  const std::string source_id = source.value("source_id", "");

  const auto current = request_access_token(*host_, org, key, source_id);
  ASSERT_EQ(current.status, 200) << current.body;
  EXPECT_EQ(current.json()["access_token"], grant["access_token"]) << "a live imported token is used as it is";
  const auto refreshed = request_access_token(*host_, org, key, source_id, /*force_refresh=*/true);
  ASSERT_EQ(refreshed.status, 200) << refreshed.body;
  EXPECT_NE(refreshed.json()["access_token"], grant["access_token"]);
  const auto again = request_access_token(*host_, org, key, source_id, /*force_refresh=*/true);
  EXPECT_EQ(again.status, 200) << "the rotated refresh token was kept: " << again.body;
  const auto tested = api_post(host_->api(org) + "/sources/test", key, {{"source_id", source_id}});
  EXPECT_EQ(tested.json().value("status", ""), "succeeded") << tested.body;
  const auto stats = server_->stats();
  EXPECT_EQ(stats["token_calls"]["refresh_token"], 2) << stats.dump();
  EXPECT_EQ(stats["token_errors"], 0) << stats.dump();
}

TEST_F(OidcGitlabFlow, ACatalogueDefinitionRunsAWholeFlowAtARealServer) {
  const std::string org = "org_oidc_gitlab";
  const std::string key = host_->create_key(org, "sources credentials:read");
  const auto [connection_id, authorization_url] = authorize(org, key);
  expect_standard_consent_url(authorization_url);
  EXPECT_EQ(query_param(authorization_url, "scope"), "read_api read_user");

  const std::string callback_url = sign_in(authorization_url);
  ASSERT_THAT(callback_url, StartsWith(callback_prefix()));
  expect_callback_succeeds(callback_url, connection_id);
  auto stats = server_->stats();
  EXPECT_EQ(stats["token_calls"]["authorization_code"], 1) << stats.dump();
  EXPECT_EQ(stats["token_errors"], 0) << stats.dump();
  EXPECT_EQ(stats["user_calls"], 1) << "the check call names the account: " << stats.dump();

  const std::string workspace = host_->create_workspace(org, key);
  const auto created = make_source(org, key, workspace, connection_id, kGitlabDefinitionId, "GitLab from a definition");
  ASSERT_EQ(created.status, 200) << created.body;
  const auto source = created.json();
  EXPECT_EQ(source["source_type"], "gitlab");
  EXPECT_EQ(source["status"], "active");
  const std::string source_id = source.value("source_id", "");

  std::string previous = request_access_token(*host_, org, key, source_id).json().value("access_token", "");
  for (int round = 0; round < 2; ++round) { // the second refresh needs the first one's new refresh token
    const auto refreshed = request_access_token(*host_, org, key, source_id, /*force_refresh=*/true);
    ASSERT_EQ(refreshed.status, 200) << "round " << round << ": " << refreshed.body;
    EXPECT_NE(refreshed.json()["access_token"], previous);
    previous = refreshed.json().value("access_token", "");
  }
  stats = server_->stats();
  EXPECT_EQ(stats["token_calls"]["refresh_token"], 2) << stats.dump();
  EXPECT_EQ(stats["token_errors"], 0) << stats.dump();

  const auto deleted = api_call("DELETE", host_->api(org) + "/sources/" + source_id, key);
  EXPECT_EQ(deleted.status, 204) << deleted.body;
  EXPECT_EQ(
      http_request("GET", server_->issuer() + "/api/v4/user", {{"Authorization", "Bearer " + previous}}, {}, ca_file())
          .status,
      401)
      << "the revocation reached the server: its access token no longer works";
}

// A definition file copied into a running host's plugins folder is served within a second,
// without a compiler or a restart, and runs a whole flow at a real server; a broken one beside
// it is refused with the reason, and changes nothing else.
TEST_F(OidcDroppedDefinition, ADefinitionDroppedIntoARunningHostIsServedAndRunsAWholeFlow) {
  const std::string org = "org_oidc_dropped";
  const std::string key = host_->create_key(org, "sources credentials:read");
  const std::string admin_key = host_->create_key(org, "sources admin");
  ASSERT_EQ(
      api_post(host_->api(org) + "/sources/authorize", key, {{"slug", "gitlab"}, {"redirect_url", client_redirect}})
          .status,
      404)
      << "nothing serves gitlab before the drop";

  const std::string definition = catalogue_text("gitlab");
  ASSERT_FALSE(definition.empty());
  drop_in("gitlab.json", definition);
  const auto dropped = std::chrono::steady_clock::now();
  Started started;
  ASSERT_TRUE(eventually([&] {
    const auto answer =
        api_post(host_->api(org) + "/sources/authorize", key, {{"slug", "gitlab"}, {"redirect_url", client_redirect}});
    if (answer.status != 200) return false;
    started = {answer.json().value("connection_id", ""), answer.json().value("authorization_url", "")};
    return true;
  }));
  const auto elapsed =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - dropped).count();
  EXPECT_LT(elapsed, 1000) << "the definition was served " << elapsed << " ms after the drop";
  RecordProperty("served_after_ms", std::to_string(elapsed));
  expect_standard_consent_url(started.authorization_url);

  // A broken definition beside it: refused with the JSON path and the rule, the rest unchanged.
  nlohmann::json broken = nlohmann::json::parse(definition);
  broken["slug"] = "gitlab-broken";
  broken["source_definitions"][0]["id"] = "0a4ad6d5-6a8c-4f3b-9d1e-2f51b36f4e01";
  broken["token"]["url"] = "http://gitlab.example/oauth/token";
  drop_in("gitlab-broken.json", broken.dump());
  std::string refusal;
  ASSERT_TRUE(eventually([&] {
    const auto view =
        http_request("GET", host_->base_url() + "/v1/admin/plugins", {{"Authorization", "Bearer " + admin_key}}).json();
    for (const auto& entry : view.value("refusals", nlohmann::json::array())) {
      if (entry.value("file", "").find("gitlab-broken.json") != std::string::npos) refusal = entry.value("reason", "");
    }
    return !refusal.empty();
  }));
  EXPECT_THAT(refusal, HasSubstr("$.token.url: must start with https://")) << refusal;

  const std::string callback_url = sign_in(started.authorization_url);
  ASSERT_THAT(callback_url, StartsWith(callback_prefix()));
  expect_callback_succeeds(callback_url, started.connection_id);
  const std::string workspace = host_->create_workspace(org, key);
  const auto created =
      make_source(org, key, workspace, started.connection_id, kGitlabDefinitionId, "GitLab from a dropped file");
  ASSERT_EQ(created.status, 200) << created.body;
  const std::string source_id = created.json().value("source_id", "");
  const auto refreshed = request_access_token(*host_, org, key, source_id, /*force_refresh=*/true);
  EXPECT_EQ(refreshed.status, 200) << refreshed.body;
  const auto tested = api_post(host_->api(org) + "/sources/test", key, {{"source_id", source_id}});
  EXPECT_EQ(tested.status, 200) << tested.body;
  EXPECT_EQ(tested.json().value("status", ""), "succeeded")
      << "the check call works with the refreshed token: " << tested.body;
  const auto stats = server_->stats();
  EXPECT_EQ(stats["token_calls"]["authorization_code"], 1) << stats.dump();
  EXPECT_EQ(stats["token_calls"]["refresh_token"], 1) << stats.dump();
  EXPECT_EQ(stats["token_errors"], 0) << stats.dump();
}

} // namespace

namespace {

// What a grant says about where it lives is kept from the token answer and the redirect, shown
// on the source, handed back to the plugin for later calls, and survives a refresh.
TEST_F(OidcGrantMetadata, IsKeptShownAndUsedByLaterCalls) {
  constexpr const char* definition_id = "3f0c2a8e-6a53-4d39-9b7e-0d5b7f1e2c44";
  nlohmann::json definition = nlohmann::json::parse(catalogue_text("gitlab"));
  definition["slug"] = "ledger";
  definition["display_name"] = "Ledger";
  definition["source_definitions"] = {{{"id", definition_id}, {"name", "Ledger"}}};
  definition["variables"]["instance_url"] = {
      {"from", "token_answer"}, {"at", "/instance_url"}, {"kind", "https_origin"}};
  definition["variables"]["realm_id"] = {{"from", "callback"}, {"parameter", "realmId"}, {"kind", "token"}};
  definition["check"]["url"] = "{base_url}/api/v4/user?company={realm_id}";
  drop_in("ledger.json", definition.dump());

  const std::string org = "org_oidc_metadata";
  const std::string key = host_->create_key(org, "sources credentials:read");
  Started started;
  ASSERT_TRUE(eventually([&] {
    const auto answer =
        api_post(host_->api(org) + "/sources/authorize", key, {{"slug", "ledger"}, {"redirect_url", client_redirect}});
    started = {answer.json().value("connection_id", ""), answer.json().value("authorization_url", "")};
    return answer.status == 200;
  }));
  const std::string callback_url = sign_in(started.authorization_url);
  ASSERT_EQ(query_param(callback_url, "realmId"), "4620816365") << "the server plays QuickBooks' redirect";
  expect_callback_succeeds(callback_url, started.connection_id);
  EXPECT_EQ(server_->stats()["user_queries"], nlohmann::json::array({"company=4620816365"}))
      << "the exchange's check call was made with the redirect's realmId";

  const std::string workspace = host_->create_workspace(org, key);
  const auto created = make_source(org, key, workspace, started.connection_id, definition_id, "Ledger books");
  ASSERT_EQ(created.status, 200) << created.body;
  const nlohmann::json expected = {{"instance_url", "https://acme.ledger.example"}, {"realm_id", "4620816365"}};
  EXPECT_EQ(created.json()["configuration"]["metadata"], expected) << created.body;

  const std::string source_id = created.json().value("source_id", "");
  const auto refreshed = request_access_token(*host_, org, key, source_id, /*force_refresh=*/true);
  ASSERT_EQ(refreshed.status, 200) << refreshed.body;
  const auto tested = api_post(host_->api(org) + "/sources/test", key, {{"source_id", source_id}});
  EXPECT_EQ(tested.json().value("status", ""), "succeeded") << tested.body;
  EXPECT_EQ(server_->stats()["user_queries"].back(), "company=4620816365")
      << "after a refresh, the kept realmId still reaches the check call";
  const auto shown = api_get(host_->api(org) + "/sources/" + source_id, key);
  EXPECT_EQ(shown.json()["configuration"]["metadata"], expected) << shown.body;
  EXPECT_THAT(shown.body, Not(HasSubstr("access_token")));
}

} // namespace

namespace {

// `connector-host providers try`, as a person adding a provider runs it: the consent URL, the
// redirect on its own loopback listener, every request and answer with the secrets masked,
// a refresh and the check call, all against the real server.
TEST(ProvidersTry, RunsALiveConsentAndShowsEachAnswersShapeWithSecretsMasked) {
  TempDir work("connector-try");
  const std::string listen = "127.0.0.1:" + std::to_string(free_loopback_port());
  OidcServer server(work.path(), "gitlab", kClientId, kClientSecret, "http://" + listen + "/callback",
                    {"--rotate-refresh-tokens", "--token-extra", "instance_url=https://acme.example"});
  ChildProcess tool(
      {host_binary().string(), "providers", "try", "gitlab", "--listen", listen, "--refresh", "--timeout", "60"},
      {{"CONNECTOR_GITLAB_CLIENT_ID", kClientId},
       {"CONNECTOR_GITLAB_CLIENT_SECRET", kClientSecret},
       {"CONNECTOR_GITLAB_BASE_URL", server.issuer()},
       {"CONNECTOR_CA_FILE", ca_file()}},
      work.path(), "providers-try");
  ASSERT_TRUE(tool.wait_for_stdout("Waiting for the redirect", std::chrono::seconds(20)))
      << tool.stdout_text() << tool.stderr_text();
  const std::string printed = tool.stdout_text();
  const std::string marker = "Open this URL and consent:\n";
  const std::size_t start = printed.find(marker) + marker.size();
  const std::string consent = printed.substr(start, printed.find('\n', start) - start);
  ASSERT_THAT(consent, StartsWith(server.issuer() + "/oauth/authorize?"));
  EXPECT_EQ(query_param(consent, "code_challenge_method"), "S256");

  const std::string redirect = sign_in_at(consent, work.path());
  ASSERT_THAT(redirect, StartsWith("http://" + listen + "/callback?"));
  EXPECT_EQ(http_request("GET", redirect).status, 200);
  EXPECT_EQ(tool.stop(0, std::chrono::seconds(60)), 0) << tool.stdout_text() << tool.stderr_text();

  const std::string shown = tool.stdout_text();
  EXPECT_THAT(shown, HasSubstr("→ POST " + server.issuer() + "/oauth/token"));
  EXPECT_THAT(shown, HasSubstr(R"("grant_type": "authorization_code")"));
  EXPECT_THAT(shown, HasSubstr(R"("access_token": "<string, )")) << "the answer's shape, its tokens masked";
  EXPECT_THAT(shown, HasSubstr(R"("token_type": "Bearer")"));
  EXPECT_THAT(shown, HasSubstr(R"("grant_type": "refresh_token")"));
  EXPECT_THAT(shown, HasSubstr("The check call names 42"));
  EXPECT_THAT(shown, HasSubstr("\nok\n"));
  EXPECT_THAT(shown, Not(HasSubstr(kClientSecret)));
  EXPECT_THAT(shown, Not(HasSubstr(query_param(redirect, "code"))));
  const auto stats = server.stats();
  EXPECT_EQ(stats["token_calls"]["authorization_code"], 1) << stats.dump();
  EXPECT_EQ(stats["token_calls"]["refresh_token"], 1) << stats.dump();
  EXPECT_EQ(stats["token_errors"], 0) << stats.dump();
}

} // namespace
