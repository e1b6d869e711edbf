// Keeping a source's token alive (docs/sources-and-tokens.md, "Access tokens for the
// organization's services"): exactly one provider refresh however many callers, in one process
// and across two processes on one database; single-use rotated refresh tokens never lost; a
// refused grant ends in needs_reauth; transient failures are retried, recorded and cooled down.
//
// The host decides expiry from the expires_at it stored, so a source is made "due" by running
// its flow while the double issues short-lived tokens (inside the 300 s refresh margin), then
// putting the double back to long-lived tokens so that one refresh makes the source fresh.
#include "integration/flow_driver.hpp"

#include <gmock/gmock.h>

#include <mutex>
#include <set>
#include <thread>

using namespace connector::testing;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

namespace {

enum class Flavour { google, github_expiring };

const char* definition_of(Flavour flavour) {
  return flavour == Flavour::google ? google_sheets_definition : github_definition;
}

// Keeps the background refresher from refreshing behind the tests' backs.
HostOptions quiet_host_options(const std::filesystem::path& data_dir = {}) {
  HostOptions options;
  options.environment = {{"CONNECTOR_TOKEN_REFRESH_SCAN_SECONDS", "3600"}};
  options.data_dir = data_dir;
  return options;
}

// Runs a flow while the double issues tokens living `expires_in` seconds, then makes the
// double issue long-lived tokens again and resets its counters.
FlowResult make_source_due(const ProviderDouble& provider, const HostProcess& host, const std::string& org,
                           const std::string& key, const std::string& workspace, Flavour flavour, int expires_in = 60) {
  if (flavour == Flavour::google) {
    provider.control("POST", "/__control/mode", {{"google_expires_in", expires_in}});
  } else {
    provider.control("POST", "/__control/mode", {{"github_expiring", true}, {"github_expires_in", expires_in}});
  }
  auto flow = run_flow(host, org, key, workspace, definition_of(flavour));
  provider.control("POST", "/__control/mode", {{"google_expires_in", 3599}, {"github_expires_in", 28800}});
  provider.control("POST", "/__control/reset", {{"stats_only", true}});
  return flow;
}

bool token_works(const ProviderDouble& provider, Flavour flavour, const std::string& token) {
  return flavour == Flavour::google ? google_token_works(provider, token) : github_token_works(provider, token);
}

class TokenRefresh : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    work_ = std::make_unique<TempDir>("connector-refresh");
    provider_ = std::make_unique<ProviderDouble>(work_->path());
    host_ = std::make_unique<HostProcess>(work_->path(), provider_.get(), quiet_host_options());
  }
  static void TearDownTestSuite() {
    host_.reset();
    provider_.reset();
    work_.reset();
  }
  void SetUp() override { provider_->control("POST", "/__control/reset"); }

  // 200 callers at once for one due source: one refresh, one token for all.
  static void expect_one_refresh_for_many_callers(const std::string& org, Flavour flavour) {
    const std::string key = host_->create_key(org, credentials_read_permissions);
    const std::string workspace = host_->create_workspace(org, key);
    const auto flow = make_source_due(*provider_, *host_, org, key, workspace, flavour);
    const std::string expires_before = get_source(*host_, org, key, flow.source_id())["auth"]["expires_at"];

    constexpr int callers = 200;
    std::vector<HttpResult> answers(callers);
    run_concurrently(callers, [&](int i) {
      try {
        answers[static_cast<std::size_t>(i)] = request_access_token(*host_, org, key, flow.source_id());
      } catch (const std::exception& e) {
        answers[static_cast<std::size_t>(i)].body = e.what();
      }
    });

    std::set<std::string> tokens;
    int refreshed = 0;
    for (const auto& answer : answers) {
      EXPECT_EQ(answer.status, 200) << answer.body;
      if (answer.status != 200) continue;
      tokens.insert(answer.json().value("access_token", ""));
      if (answer.json().value("refreshed", false)) ++refreshed;
    }
    const auto stats = provider_->stats();
    EXPECT_EQ(stats["refresh_calls"], 1) << "exactly one refresh for " << callers << " callers: " << stats.dump();
    EXPECT_EQ(stats["token_responses"].value("ok", 0), 1) << stats.dump();
    ASSERT_EQ(tokens.size(), 1U) << "every caller gets the same new token";
    EXPECT_GE(refreshed, 1) << "the callers that waited on the refresh say so";
    EXPECT_TRUE(token_works(*provider_, flavour, *tokens.begin())) << "the token handed out is the new, live one";

    const auto source = get_source(*host_, org, key, flow.source_id());
    EXPECT_EQ(source["status"], "active");
    EXPECT_GT(source["auth"]["expires_at"].get<std::string>(), expires_before) << source.dump();
    EXPECT_FALSE(source["auth"]["last_refreshed_at"].is_null()) << source.dump();

    // Fresh now: another call does not refresh.
    const auto again = request_access_token(*host_, org, key, flow.source_id());
    EXPECT_EQ(again.json()["access_token"], *tokens.begin());
    EXPECT_EQ(again.json()["refreshed"], false);
    EXPECT_EQ(provider_->stats()["refresh_calls"], 1);
  }

  static std::unique_ptr<TempDir> work_;
  static std::unique_ptr<ProviderDouble> provider_;
  static std::unique_ptr<HostProcess> host_;
};

std::unique_ptr<TempDir> TokenRefresh::work_;
std::unique_ptr<ProviderDouble> TokenRefresh::provider_;
std::unique_ptr<HostProcess> TokenRefresh::host_;

TEST_F(TokenRefresh, TwoHundredConcurrentCallersShareOneGoogleRefresh) {
  expect_one_refresh_for_many_callers("org_refresh_many_google", Flavour::google);
}

TEST_F(TokenRefresh, TwoHundredConcurrentCallersShareOneGithubRefresh) {
  expect_one_refresh_for_many_callers("org_refresh_many_github", Flavour::github_expiring);
}

TEST_F(TokenRefresh, RotatedRefreshTokensSurviveRepeatedConcurrentForcedRefreshes) {
  const std::string org = "org_refresh_rotation";
  const std::string key = host_->create_key(org, credentials_read_permissions);
  const std::string workspace = host_->create_workspace(org, key);
  // GitHub App user tokens: single-use refresh tokens; a reused one is bad_refresh_token.
  provider_->control("POST", "/__control/mode", {{"github_expiring", true}});
  const auto flow = run_flow(*host_, org, key, workspace, github_definition);
  provider_->control("POST", "/__control/reset", {{"stats_only", true}});

  constexpr int rounds = 15;
  constexpr int threads = 6;
  std::mutex mutex;
  std::vector<std::string> failures;
  for (int round = 0; round < rounds; ++round) {
    run_concurrently(threads, [&](int i) {
      // Forced refreshes and plain reads mixed, as several services would.
      const bool force = i % 3 != 2;
      const auto answer = request_access_token(*host_, org, key, flow.source_id(), force);
      if (answer.status != 200) {
        std::lock_guard lock(mutex);
        failures.push_back("round " + std::to_string(round) + ": " + std::to_string(answer.status) + " " + answer.body);
      }
    });
  }
  EXPECT_TRUE(failures.empty()) << failures.size() << " failed calls, first: " << failures.front();

  const auto stats = provider_->stats();
  EXPECT_EQ(stat_count(stats, "bad_refresh_token"), 0) << "a rotated refresh token was lost: " << stats.dump();
  EXPECT_GE(stats["refresh_calls"].get<int>(), rounds) << "at least one refresh per round: " << stats.dump();
  EXPECT_EQ(stat_count(stats, "ok"), stats["refresh_calls"].get<int>()) << stats.dump();

  const auto source = get_source(*host_, org, key, flow.source_id());
  EXPECT_EQ(source["status"], "active") << source.dump();
  EXPECT_EQ(source["auth"]["consecutive_refresh_failures"], 0) << source.dump();

  // The stored pair is the newest: its access token works and its refresh token refreshes.
  const auto current = request_access_token(*host_, org, key, flow.source_id());
  ASSERT_EQ(current.status, 200) << current.body;
  EXPECT_TRUE(github_token_works(*provider_, current.json()["access_token"]));
  const auto once_more = request_access_token(*host_, org, key, flow.source_id(), true);
  ASSERT_EQ(once_more.status, 200) << once_more.body;
  EXPECT_EQ(once_more.json()["refreshed"], true);
  EXPECT_NE(once_more.json()["access_token"], current.json()["access_token"]);
  EXPECT_TRUE(github_token_works(*provider_, once_more.json()["access_token"]));
  EXPECT_FALSE(github_token_works(*provider_, current.json()["access_token"])) << "the rotated-out token died";
}

TEST_F(TokenRefresh, ARefreshAnswerWithoutARefreshTokenKeepsTheOldOne) {
  const std::string org = "org_refresh_keep";
  const std::string key = host_->create_key(org, credentials_read_permissions);
  const std::string workspace = host_->create_workspace(org, key);
  const auto flow = run_flow(*host_, org, key, workspace, google_sheets_definition);
  provider_->control("POST", "/__control/reset", {{"stats_only", true}});

  // Google's refresh answers carry no refresh_token; each refresh needs the stored one.
  for (int i = 0; i < 3; ++i) {
    const auto refreshed = request_access_token(*host_, org, key, flow.source_id(), true);
    ASSERT_EQ(refreshed.status, 200) << i << ": " << refreshed.body;
    EXPECT_EQ(refreshed.json()["refreshed"], true) << i;
    EXPECT_TRUE(google_token_works(*provider_, refreshed.json()["access_token"])) << i;
  }
  const auto stats = provider_->stats();
  EXPECT_EQ(stats["refresh_calls"], 3) << stats.dump();
  EXPECT_EQ(stat_count(stats, "invalid_grant"), 0) << stats.dump();
  EXPECT_EQ(get_source(*host_, org, key, flow.source_id())["status"], "active");
}

TEST_F(TokenRefresh, InvalidGrantMarksTheSourceNeedsReauthAndStopsRefreshing) {
  const std::string org = "org_refresh_invalid_grant";
  const std::string key = host_->create_key(org, credentials_read_permissions);
  const std::string workspace = host_->create_workspace(org, key);
  const auto flow = make_source_due(*provider_, *host_, org, key, workspace, Flavour::google);
  provider_->control("POST", "/__control/revoke-all"); // the user removed the app's access at Google

  const auto refused = request_access_token(*host_, org, key, flow.source_id());
  EXPECT_TRUE(is_error(refused, 409, "SOURCE_NEEDS_REAUTH"));
  EXPECT_THAT(refused.body, Not(HasSubstr("1//"))) << "no refresh token in the answer";
  EXPECT_EQ(provider_->stats()["refresh_calls"], 1);
  EXPECT_EQ(stat_count(provider_->stats(), "invalid_grant"), 1);

  const auto source = get_source(*host_, org, key, flow.source_id());
  EXPECT_EQ(source["status"], "needs_reauth") << source.dump();
  EXPECT_THAT(source.value("status_detail", ""), HasSubstr("Token has been expired or revoked."));

  // No further refresh is tried, forced or not.
  EXPECT_TRUE(is_error(request_access_token(*host_, org, key, flow.source_id()), 409, "SOURCE_NEEDS_REAUTH"));
  EXPECT_TRUE(is_error(request_access_token(*host_, org, key, flow.source_id(), true), 409, "SOURCE_NEEDS_REAUTH"));
  EXPECT_EQ(provider_->stats()["refresh_calls"], 1) << provider_->stats().dump();
  EXPECT_EQ(get_source(*host_, org, key, flow.source_id())["status"], "needs_reauth");
}

TEST_F(TokenRefresh, BadRefreshTokenMarksAGithubSourceNeedsReauth) {
  const std::string org = "org_refresh_bad_refresh_token";
  const std::string key = host_->create_key(org, credentials_read_permissions);
  const std::string workspace = host_->create_workspace(org, key);
  const auto flow = make_source_due(*provider_, *host_, org, key, workspace, Flavour::github_expiring);
  provider_->control("POST", "/__control/revoke-all");

  // GitHub answers bad_refresh_token with HTTP 200.
  EXPECT_TRUE(is_error(request_access_token(*host_, org, key, flow.source_id()), 409, "SOURCE_NEEDS_REAUTH"));
  const auto source = get_source(*host_, org, key, flow.source_id());
  EXPECT_EQ(source["status"], "needs_reauth") << source.dump();
  EXPECT_THAT(source.value("status_detail", ""), HasSubstr("The refresh token passed is incorrect or expired."));
  EXPECT_TRUE(is_error(request_access_token(*host_, org, key, flow.source_id(), true), 409, "SOURCE_NEEDS_REAUTH"));
  EXPECT_EQ(provider_->stats()["refresh_calls"], 1) << provider_->stats().dump();
}

TEST_F(TokenRefresh, PersistentTransientFailuresAnswerTokenRefreshUnavailableForAnExpiredToken) {
  for (const std::string behaviour : {"http500", "html502"}) {
    SCOPED_TRACE(behaviour);
    provider_->control("POST", "/__control/reset");
    const std::string org = "org_refresh_transient_" + behaviour;
    const std::string key = host_->create_key(org, credentials_read_permissions);
    const std::string workspace = host_->create_workspace(org, key);
    const auto flow = make_source_due(*provider_, *host_, org, key, workspace, Flavour::google, 2);
    std::this_thread::sleep_for(std::chrono::milliseconds(3100)); // the stored token has expired
    provider_->control("POST", "/__control/behaviour", {{"token", behaviour}});

    const auto unavailable = request_access_token(*host_, org, key, flow.source_id());
    EXPECT_TRUE(is_error(unavailable, 503, "TOKEN_REFRESH_UNAVAILABLE"));
    EXPECT_FALSE(unavailable.header("retry-after").empty()) << "Retry-After tells when to come back";
    const int calls = provider_->stats()["refresh_calls"];
    EXPECT_GE(calls, 2) << "transient failures are retried inside the call";

    const auto source = get_source(*host_, org, key, flow.source_id());
    EXPECT_EQ(source["status"], "active") << "a transient failure is not the grant's end: " << source.dump();
    EXPECT_GT(source["auth"]["consecutive_refresh_failures"].get<int>(), 0) << source.dump();
    const auto& error = source["auth"]["last_refresh_error"];
    ASSERT_TRUE(error.is_object()) << source.dump();
    EXPECT_FALSE(error.value("code", "").empty()) << source.dump();
    EXPECT_TRUE(error.contains("message")) << source.dump();
    EXPECT_TRUE(error["at"].is_string()) << source.dump();
    EXPECT_TRUE(source["auth"]["next_refresh_attempt_at"].is_string()) << "a cooldown is set: " << source.dump();

    // During the cooldown the provider is left alone.
    EXPECT_TRUE(is_error(request_access_token(*host_, org, key, flow.source_id()), 503, "TOKEN_REFRESH_UNAVAILABLE"));
    EXPECT_EQ(provider_->stats()["refresh_calls"], calls) << "no provider call during the cooldown";
    EXPECT_EQ(get_source(*host_, org, key, flow.source_id())["status"], "active");
  }
}

TEST_F(TokenRefresh, DuringTransientFailuresAStillValidTokenIsReturnedAsIs) {
  const std::string org = "org_refresh_still_valid";
  const std::string key = host_->create_key(org, credentials_read_permissions);
  const std::string workspace = host_->create_workspace(org, key);
  // Due (inside the 300 s margin) but valid for two more minutes.
  const auto flow = make_source_due(*provider_, *host_, org, key, workspace, Flavour::google, 120);
  provider_->control("POST", "/__control/behaviour", {{"token", "http500"}});

  const auto handed = request_access_token(*host_, org, key, flow.source_id());
  ASSERT_EQ(handed.status, 200) << handed.body;
  EXPECT_EQ(handed.json()["refreshed"], false);
  const std::string token = handed.json().value("access_token", "");
  EXPECT_THAT(token, StartsWith("ya29."));
  EXPECT_TRUE(google_token_works(*provider_, token)) << "the old token, still alive";
  const int calls = provider_->stats()["refresh_calls"];
  EXPECT_GE(calls, 1);

  const auto source = get_source(*host_, org, key, flow.source_id());
  EXPECT_EQ(source["status"], "active");
  EXPECT_GT(source["auth"]["consecutive_refresh_failures"].get<int>(), 0) << source.dump();
  EXPECT_TRUE(source["auth"]["last_refresh_error"].is_object()) << source.dump();

  const auto again = request_access_token(*host_, org, key, flow.source_id());
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.json()["access_token"], token);
  EXPECT_EQ(provider_->stats()["refresh_calls"], calls) << "no provider call during the cooldown";
}

TEST_F(TokenRefresh, ATimeoutIsTransientToo) {
  const std::string org = "org_refresh_timeout";
  const std::string key = host_->create_key(org, credentials_read_permissions);
  const std::string workspace = host_->create_workspace(org, key);
  const auto flow = make_source_due(*provider_, *host_, org, key, workspace, Flavour::google, 2);
  std::this_thread::sleep_for(std::chrono::milliseconds(3100));
  provider_->control("POST", "/__control/behaviour", {{"token", "timeout"}});

  EXPECT_TRUE(is_error(request_access_token(*host_, org, key, flow.source_id()), 503, "TOKEN_REFRESH_UNAVAILABLE"));
  const auto source = get_source(*host_, org, key, flow.source_id());
  EXPECT_EQ(source["status"], "active") << source.dump();
  EXPECT_GT(source["auth"]["consecutive_refresh_failures"].get<int>(), 0) << source.dump();
  provider_->control("POST", "/__control/behaviour", {{"token", "normal"}});
}

// --- Two processes on one database

TEST(TokenRefreshAcrossProcesses, TwoHostsOnOneDatabaseRefreshASourceOnce) {
  TempDir work("connector-refresh-two");
  ProviderDouble provider(work.path());
  const auto data_dir = work.path() / "shared-data";
  HostProcess first(work.path() / "first", &provider, quiet_host_options(data_dir));
  HostProcess second(work.path() / "second", &provider, quiet_host_options(data_dir));
  const std::string org = "org_refresh_two_hosts";
  const std::string key = first.create_key(org, credentials_read_permissions);
  const std::string workspace = first.create_workspace(org, key);
  // Single-use refresh tokens: a second refresh by the other process could only fail.
  const auto flow = make_source_due(provider, first, org, key, workspace, Flavour::github_expiring);
  // Slow token answers keep the window open while both processes look at the source.
  provider.control("POST", "/__control/behaviour", {{"token", "normal"}, {"delay_ms", 500}});

  constexpr int per_host = 10;
  std::vector<HttpResult> answers(2 * per_host);
  run_concurrently(2 * per_host, [&](int i) {
    const HostProcess& host = i % 2 == 0 ? first : second;
    try {
      answers[static_cast<std::size_t>(i)] = request_access_token(host, org, key, flow.source_id());
    } catch (const std::exception& e) {
      answers[static_cast<std::size_t>(i)].body = e.what();
    }
  });

  std::set<std::string> tokens;
  for (const auto& answer : answers) {
    EXPECT_EQ(answer.status, 200) << answer.body;
    if (answer.status == 200) tokens.insert(answer.json().value("access_token", ""));
  }
  const auto stats = provider.stats();
  EXPECT_EQ(stats["refresh_calls"], 1) << "one refresh across both processes: " << stats.dump();
  EXPECT_EQ(stat_count(stats, "bad_refresh_token"), 0) << stats.dump();
  ASSERT_EQ(tokens.size(), 1U) << "both processes answer the same new token";
  EXPECT_TRUE(github_token_works(provider, *tokens.begin()));
  EXPECT_EQ(get_source(first, org, key, flow.source_id())["status"], "active");
  EXPECT_EQ(get_source(second, org, key, flow.source_id())["status"], "active");

  // And later refreshes by either process go on from the newest refresh token.
  provider.control("POST", "/__control/behaviour", {{"token", "normal"}});
  const auto by_second = request_access_token(second, org, key, flow.source_id(), true);
  ASSERT_EQ(by_second.status, 200) << by_second.body;
  const auto by_first = request_access_token(first, org, key, flow.source_id(), true);
  ASSERT_EQ(by_first.status, 200) << by_first.body;
  EXPECT_TRUE(github_token_works(provider, by_first.json()["access_token"]));
  EXPECT_EQ(stat_count(provider.stats(), "bad_refresh_token"), 0);
}

// --- Proactive refresh

TEST(TokenRefreshInTheBackground, ASourceAboutToExpireIsRefreshedWithoutAnyCall) {
  TempDir work("connector-refresh-background");
  ProviderDouble provider(work.path());
  HostOptions options;
  options.environment = {{"CONNECTOR_TOKEN_REFRESH_SCAN_SECONDS", "1"}};
  HostProcess host(work.path(), &provider, options);
  const std::string org = "org_refresh_background";
  const std::string key = host.create_key(org, credentials_read_permissions);
  const std::string workspace = host.create_workspace(org, key);
  // Expiring in 400 s: outside the 300 s margin of a call, inside the 600 s background lead. The
  // flow itself makes no refresh call, so the double's counter starts at 0.
  provider.control("POST", "/__control/mode", {{"google_expires_in", 400}});
  const auto flow = run_flow(host, org, key, workspace, google_sheets_definition);
  provider.control("POST", "/__control/mode", {{"google_expires_in", 3599}});

  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (provider.stats()["refresh_calls"] == 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  EXPECT_EQ(provider.stats()["refresh_calls"], 1) << "the background task refreshed the source";
  std::this_thread::sleep_for(std::chrono::seconds(2));
  EXPECT_EQ(provider.stats()["refresh_calls"], 1) << "once: the new token is far from expiry";

  const auto source = get_source(host, org, key, flow.source_id());
  EXPECT_FALSE(source["auth"]["last_refreshed_at"].is_null()) << source.dump();
  const auto handed = request_access_token(host, org, key, flow.source_id());
  ASSERT_EQ(handed.status, 200) << handed.body;
  EXPECT_EQ(handed.json()["refreshed"], false);
  EXPECT_TRUE(google_token_works(provider, handed.json()["access_token"]));
  EXPECT_EQ(provider.stats()["refresh_calls"], 1);
}

} // namespace
