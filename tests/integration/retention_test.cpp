// Flows do not keep secrets or rows past their use, and an organization cannot flood the host
// with flows (issue 17, findings 6 and 7), against the real binary, the real plugins and the
// TLS provider double, with the SQLite file itself inspected: a failed flow loses its sealed
// verifier at once; flows that ran out of time lose theirs and their tokens in the background
// purge, and their rows go after the retention; authorize is rate limited per organization
// and capped in pending flows across processes sharing the database (429 with Retry-After);
// a callback carrying a code but no `iss` is refused for a provider that declares an issuer;
// transport error text stays in the log.
#include "integration/flow_driver.hpp"
#include "integration/host_fixture.hpp"

#include <gmock/gmock.h>

#include <cctype>
#include <chrono>
#include <functional>
#include <thread>

using namespace connector::testing;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

// Polls `done` every 100 ms until it holds or `timeout` passes.
bool eventually(const std::function<bool()>& done, std::chrono::seconds timeout = std::chrono::seconds(20)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return done();
}

// The connection's status and the lengths of its sealed verifier and tokens: "pending|44|0".
std::string sealed_state(const HostProcess& host, const std::string& connection_id) {
  return sqlite_query(host.data_dir(), "SELECT status || '|' || length(sealed_code_verifier) || '|' || "
                                       "length(sealed_credentials) FROM connections WHERE id = '" +
                                           connection_id + "'");
}

HttpResult authorize(const HostProcess& host, const std::string& org, const std::string& key,
                     const std::string& slug = "github") {
  return api_post(host.api(org) + "/sources/authorize", key, {{"slug", slug}, {"redirect_url", client_redirect}});
}

// The host's provider-facing callback as the provider would call it, with `query` after the
// flow's own state.
HttpResult callback(const HostProcess& host, const std::string& authorization_url, const std::string& query) {
  const std::string state = query_param(authorization_url, "state");
  std::string encoded;
  for (const char c : state) {
    if (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-' || c == '~') {
      encoded += c;
    } else {
      static constexpr char digits[] = "0123456789ABCDEF";
      encoded += '%';
      encoded += digits[static_cast<unsigned char>(c) >> 4];
      encoded += digits[static_cast<unsigned char>(c) & 15];
    }
  }
  return http_request("GET", host.base_url() + "/v1/oauth/callback?state=" + encoded + "&" + query);
}

// A 429 in the envelope whose Retry-After header and details agree.
::testing::AssertionResult is_limited(const HttpResult& result, const std::string& code) {
  if (auto envelope = is_error(result, 429, code); !envelope) return envelope;
  const std::string header = result.header("retry-after");
  const auto details = result.json()["error"]["details"];
  if (header.empty() || header.find_first_not_of("0123456789") != std::string::npos || std::stoll(header) < 1) {
    return ::testing::AssertionFailure() << "Retry-After is not a positive number of seconds: '" << header << "'";
  }
  if (!details.contains("retry_after_seconds") || details["retry_after_seconds"] != std::stoll(header)) {
    return ::testing::AssertionFailure() << "details.retry_after_seconds differs from Retry-After: " << result.body;
  }
  return ::testing::AssertionSuccess();
}

class Retention : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    work_ = std::make_unique<TempDir>("connector-retention");
    provider_ = std::make_unique<ProviderDouble>(work_->path());
  }
  static void TearDownTestSuite() {
    provider_.reset();
    work_.reset();
  }
  void SetUp() override { provider_->control("POST", "/__control/reset"); }

  // A host of its own, in a folder of its own under the suite's.
  std::unique_ptr<HostProcess> start_host(const std::string& name, std::map<std::string, std::string> environment,
                                          const std::filesystem::path& data_dir = {}) {
    const std::filesystem::path folder = work_->path() / name;
    std::filesystem::create_directories(folder);
    HostOptions options;
    options.environment = std::move(environment);
    options.data_dir = data_dir.empty() ? folder / "data" : data_dir;
    return std::make_unique<HostProcess>(folder, provider_.get(), options);
  }

  static std::unique_ptr<TempDir> work_;
  static std::unique_ptr<ProviderDouble> provider_;
};

std::unique_ptr<TempDir> Retention::work_;
std::unique_ptr<ProviderDouble> Retention::provider_;

TEST_F(Retention, AFailedFlowLosesItsSealedVerifierAtOnce) {
  // No background purge: what is erased here is erased by the callback itself.
  const auto host = start_host("failed", {{"CONNECTOR_FLOW_PURGE_SECONDS", "0"}});
  const std::string org = "org_failed_flow";
  const std::string key = host->create_key(org);
  const auto started = authorize(*host, org, key);
  ASSERT_EQ(started.status, 200) << started.body;
  const std::string id = started.json()["connection_id"];
  ASSERT_THAT(sealed_state(*host, id), ::testing::MatchesRegex("pending\\|[1-9][0-9]*\\|0"));

  const auto denied = callback(*host, started.json()["authorization_url"], "error=access_denied");
  ASSERT_EQ(denied.status, 302) << denied.body;
  EXPECT_EQ(query_param(denied.header("location"), "error"), "access_denied");
  EXPECT_EQ(sealed_state(*host, id), "failed|0|0");
}

TEST_F(Retention, FlowsThatRanOutOfTimeLoseTheirSecretsAndOldRowsAreDeleted) {
  const auto host = start_host("purge", {{"CONNECTOR_STATE_TTL_SECONDS", "2"},
                                         {"CONNECTOR_AUTHORIZED_TTL_SECONDS", "2"},
                                         {"CONNECTOR_FLOW_PURGE_SECONDS", "1"},
                                         {"CONNECTOR_FLOW_RETENTION_SECONDS", "5"}});
  const std::string org = "org_purge";
  const std::string key = host->create_key(org);
  const std::string workspace = host->create_workspace(org, key);

  // One flow never called back, one called back and never completed, one honest to the end.
  const auto pending = authorize(*host, org, key);
  ASSERT_EQ(pending.status, 200) << pending.body;
  const std::string pending_id = pending.json()["connection_id"];
  const auto authorized = authorize(*host, org, key);
  ASSERT_EQ(authorized.status, 200) << authorized.body;
  const std::string authorized_id = authorized.json()["connection_id"];
  ASSERT_EQ(query_param(consent_and_callback(authorized.json()["authorization_url"]), "status"), "success");
  const FlowResult completed = run_flow(*host, org, key, workspace, github_definition);
  ASSERT_THAT(completed.source_id(), ::testing::StartsWith("src_"));
  EXPECT_EQ(sealed_state(*host, completed.connection_id), "consumed|0|0") << "a completed flow keeps nothing";

  ASSERT_THAT(sealed_state(*host, pending_id), ::testing::MatchesRegex("pending\\|[1-9][0-9]*\\|0"));
  ASSERT_THAT(sealed_state(*host, authorized_id), ::testing::MatchesRegex("authorized\\|0\\|[1-9][0-9]*"));
  const std::string verifier = hex_to_bytes(sqlite_query(
      host->data_dir(), "SELECT hex(sealed_code_verifier) FROM connections WHERE id = '" + pending_id + "'"));
  const std::string tokens = hex_to_bytes(sqlite_query(
      host->data_dir(), "SELECT hex(sealed_credentials) FROM connections WHERE id = '" + authorized_id + "'"));
  ASSERT_GT(verifier.size(), 16U);
  ASSERT_GT(tokens.size(), 16U);

  EXPECT_TRUE(eventually([&] {
    return sealed_state(*host, pending_id) == "expired|0|0" && sealed_state(*host, authorized_id) == "expired|0|0";
  })) << sealed_state(*host, pending_id)
      << " " << sealed_state(*host, authorized_id);
  const auto status = api_get(host->api(org) + "/connections/" + pending_id, key);
  ASSERT_EQ(status.status, 200) << status.body;
  EXPECT_EQ(status.json()["status"], "expired");

  // After the retention the rows are gone, and with them every copy of the sealed bytes in
  // the database file and its log; the source the honest flow made stays.
  EXPECT_TRUE(eventually([&] {
    return sqlite_query(host->data_dir(), "SELECT count(*) FROM connections WHERE organization_id = '" + org + "'") ==
           "0";
  })) << sqlite_query(host->data_dir(), "SELECT id, status, created_at FROM connections");
  const std::filesystem::path database = database_file(host->data_dir());
  EXPECT_TRUE(eventually([&] {
    const std::string bytes = file_bytes(database) + file_bytes(database.string() + "-wal");
    return bytes.find(verifier) == std::string::npos && bytes.find(tokens) == std::string::npos;
  })) << "the erased ciphertext is still in the file";
  EXPECT_EQ(api_get(host->api(org) + "/connections/" + pending_id, key).status, 404);
  EXPECT_EQ(get_source(*host, org, key, completed.source_id())["status"], "active");
  EXPECT_TRUE(host->process().wait_for_stderr("\"flows purged\"", std::chrono::seconds(1)));
}

TEST_F(Retention, AuthorizeIsRateLimitedPerOrganization) {
  const auto host = start_host("rate", {{"CONNECTOR_AUTHORIZE_RATE_PER_MINUTE", "3"}});
  const std::string org = "org_rate";
  const std::string key = host->create_key(org);
  const std::string workspace = host->create_workspace(org, key);
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(authorize(*host, org, key).status, 200) << i;

  const auto limited = authorize(*host, org, key);
  EXPECT_TRUE(is_limited(limited, "AUTHORIZE_RATE_LIMITED"));
  EXPECT_EQ(limited.json()["error"]["details"]["limit_per_minute"], 3);
  EXPECT_GE(std::stoll(limited.header("retry-after")), 19) << "one flow every 20 s";
  // The native flow and re-authorization count against the same limit.
  EXPECT_TRUE(is_limited(api_post(host->api(org) + "/sources/oauth", key,
                                  {{"source_definition_id", github_definition},
                                   {"workspace_id", workspace},
                                   {"redirect_url", client_redirect}}),
                         "AUTHORIZE_RATE_LIMITED"));
  EXPECT_TRUE(
      is_limited(api_post(host->api(org) + "/sources/src_none/reauthorize", key, {{"redirect_url", client_redirect}}),
                 "AUTHORIZE_RATE_LIMITED"));
  EXPECT_EQ(sqlite_query(host->data_dir(), "SELECT count(*) FROM connections"), "3") << "refusals store nothing";

  const std::string other = "org_rate_other";
  EXPECT_EQ(authorize(*host, other, host->create_key(other)).status, 200) << "another organization is not held back";
}

TEST_F(Retention, PendingFlowsAreCappedPerOrganizationByEachProcess) {
  const std::map<std::string, std::string> limits = {{"CONNECTOR_MAX_PENDING_FLOWS", "2"},
                                                     {"CONNECTOR_AUTHORIZE_RATE_PER_MINUTE", "0"}};
  const auto host = start_host("cap", limits);
  const std::string org = "org_cap";
  const std::string key = host->create_key(org);

  const auto one = authorize(*host, org, key);
  ASSERT_EQ(one.status, 200) << one.body;
  ASSERT_EQ(authorize(*host, org, key).status, 200);
  const auto capped = authorize(*host, org, key);
  EXPECT_TRUE(is_limited(capped, "TOO_MANY_PENDING_FLOWS"));
  EXPECT_EQ(capped.json()["error"]["details"]["max_pending_flows"], 2);
  EXPECT_LE(std::stoll(capped.header("retry-after")), 600) << "when the oldest pending flow expires";
  EXPECT_EQ(sqlite_query(host->data_dir(), "SELECT count(*) FROM connections"), "2") << "a refusal stores nothing";

  // A flow called back is no longer pending: room for one more.
  ASSERT_EQ(query_param(consent_and_callback(one.json()["authorization_url"]), "status"), "success");
  EXPECT_EQ(authorize(*host, org, key).status, 200);
  EXPECT_TRUE(is_limited(authorize(*host, org, key), "TOO_MANY_PENDING_FLOWS"));
  const std::string other = "org_cap_other";
  EXPECT_EQ(authorize(*host, other, host->create_key(other)).status, 200) << "another organization is not held back";

  // Each process counts the flows it started (docs/security.md): a second one on the same
  // database lets the organization start its own.
  const auto second = start_host("cap-second", limits, host->data_dir());
  EXPECT_EQ(authorize(*second, org, key).status, 200);
}

TEST_F(Retention, ACodeWithoutIssIsRefusedForAProviderThatDeclaresAnIssuer) {
  const auto host = start_host("issuer", {});
  const std::string org = "org_issuer";
  const std::string key = host->create_key(org);

  // Google declares its issuer: the double, like Google, puts it on the callback.
  const auto google = authorize(*host, org, key, "google-sheets");
  ASSERT_EQ(google.status, 200) << google.body;
  const auto consent = http_request("GET", google.json()["authorization_url"], {}, {}, (tls_dir() / "ca.pem").string());
  ASSERT_EQ(consent.status, 302) << consent.body;
  const std::string code = query_param(consent.header("location"), "code");
  ASSERT_FALSE(code.empty());
  ASSERT_FALSE(query_param(consent.header("location"), "iss").empty());
  std::string escaped_code;
  for (const char c : code)
    escaped_code += c == '/' ? std::string("%2F") : std::string(1, c);
  const auto refused = callback(*host, google.json()["authorization_url"], "code=" + escaped_code);
  ASSERT_EQ(refused.status, 302) << refused.body;
  EXPECT_EQ(query_param(refused.header("location"), "status"), "error");
  EXPECT_EQ(query_param(refused.header("location"), "error"), "invalid_issuer");
  EXPECT_EQ(stat_count(provider_->stats()["token_calls"], "authorization_code"), 0) << "the code was not exchanged";
  EXPECT_EQ(sealed_state(*host, google.json()["connection_id"]), "failed|0|0");

  // Google's error redirect carries no iss: it still ends as the provider's error.
  const auto denied = authorize(*host, org, key, "google-sheets");
  ASSERT_EQ(denied.status, 200);
  const auto back = callback(*host, denied.json()["authorization_url"], "error=access_denied");
  EXPECT_EQ(query_param(back.header("location"), "error"), "access_denied");

  // The honest flows still pass: Google with its iss, GitHub (no issuer declared) without.
  for (const char* slug : {"google-sheets", "github"}) {
    const auto started = authorize(*host, org, key, slug);
    ASSERT_EQ(started.status, 200) << started.body;
    EXPECT_EQ(query_param(consent_and_callback(started.json()["authorization_url"]), "status"), "success") << slug;
  }
}

TEST_F(Retention, TransportErrorTextStaysInTheLog) {
  // GitHub at a port where nothing listens: the code exchange cannot connect.
  const std::string unreachable = "https://127.0.0.1:1";
  const auto host =
      start_host("transport", {{"CONNECTOR_GITHUB_BASE_URL", unreachable}, {"CONNECTOR_GITHUB_API_URL", unreachable}});
  const std::string org = "org_transport";
  const std::string key = host->create_key(org);
  const auto started = authorize(*host, org, key);
  ASSERT_EQ(started.status, 200) << started.body;

  const auto back = callback(*host, started.json()["authorization_url"], "code=a-code");
  ASSERT_EQ(back.status, 302) << back.body;
  const std::string location = back.header("location");
  EXPECT_EQ(query_param(location, "error"), "provider_unreachable");
  EXPECT_EQ(query_param(location, "error_description"), "The provider could not be reached to finish the sign-in.");
  EXPECT_THAT(location, Not(HasSubstr("127.0.0.1")));
  EXPECT_THAT(location, Not(HasSubstr("refused")));
  const auto logged = host->process().wait_for_stderr("\"flow failed\"", std::chrono::seconds(5));
  ASSERT_TRUE(logged);
  EXPECT_THAT(*logged, HasSubstr("\"detail\"")) << "the operator still reads what happened";
}

} // namespace
