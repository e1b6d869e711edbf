// Several host replicas on one PostgreSQL, as an operator runs them behind a load balancer:
// three connector-host processes share one database and one data folder (the sealing keys),
// and every public URL is the balancer's, so the provider's redirect may reach any of them.
// The test plays the balancer: it picks which replica each request goes to. What one replica
// guarantees, all of them together guarantee too: a flow crosses replicas, a callback is used
// once, a connection makes one source, a due token is refreshed once, a change made through
// any replica or the CLI is seen by all, and a replica killed under load loses no
// acknowledged write while the others keep serving.
#include "integration/flow_driver.hpp"
#include "support/postgres_server.hpp"

#include <gmock/gmock.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

using namespace connector::testing;
using ::testing::HasSubstr;

namespace {

// What the provider and the browser are told the host is: the balancer in front of all replicas.
constexpr const char* balancer_url = "http://balancer.invalid";

class PostgresReplicas : public ::testing::Test {
protected:
  static constexpr int replica_count = 3;

  void SetUp() override {
    provider_ = std::make_unique<ProviderDouble>(work_.path());
    for (int i = 0; i < replica_count; ++i)
      replicas_.push_back(start_replica(i, {}));
  }

  // Replica `index`, on the shared database and data folder, with `environment` added.
  std::unique_ptr<HostProcess> start_replica(int index, const std::map<std::string, std::string>& environment) {
    HostOptions options;
    options.database_url = database_;
    options.data_dir = work_.path() / "shared-data";
    options.environment = {{"CONNECTOR_PUBLIC_URL", balancer_url}, {"CONNECTOR_TOKEN_REFRESH_SCAN_SECONDS", "3600"}};
    for (const auto& [name, value] : environment)
      options.environment[name] = value;
    return std::make_unique<HostProcess>(work_.path() / ("replica-" + std::to_string(index)), provider_.get(), options);
  }

  HostProcess& replica(int index) { return *replicas_.at(static_cast<std::size_t>(index)); }

  // The balancer's URL in `url` replaced by replica `index`'s address.
  std::string through(int index, const std::string& url) {
    EXPECT_THAT(url, ::testing::StartsWith(balancer_url));
    return replica(index).base_url() + url.substr(std::string(balancer_url).size());
  }

  // authorize on replica `index` and the user's consent: {connection_id, the provider's redirect
  // back to the balancer}.
  std::pair<std::string, std::string> authorize_and_consent(int index, const std::string& org, const std::string& key) {
    const auto started = api_post(replica(index).api(org) + "/sources/authorize", key,
                                  {{"slug", "github"}, {"redirect_url", client_redirect}});
    EXPECT_EQ(started.status, 200) << started.body;
    const auto consent =
        http_request("GET", started.json().value("authorization_url", ""), {}, {}, (tls_dir() / "ca.pem").string());
    EXPECT_EQ(consent.status, 302) << consent.body;
    return {started.json().value("connection_id", ""), consent.header("location")};
  }

  // A whole native flow started on replica `index`, called back on the next one and completed
  // on the one after: the new source's id.
  std::string make_source(int index, const std::string& org, const std::string& key, const std::string& workspace) {
    const auto started = api_post(
        replica(index).api(org) + "/sources/oauth", key,
        {{"source_definition_id", github_definition}, {"workspace_id", workspace}, {"redirect_url", client_redirect}});
    EXPECT_EQ(started.status, 200) << started.body;
    const auto consent =
        http_request("GET", started.json().value("consent_url", ""), {}, {}, (tls_dir() / "ca.pem").string());
    const auto back = http_request("GET", through((index + 1) % replica_count, consent.header("location")));
    EXPECT_EQ(query_param(back.header("location"), "status"), "success") << back.body;
    const auto made = api_post(replica((index + 2) % replica_count).api(org) + "/sources/oauth/callback", key,
                               completion(started.json().value("connection_id", ""), workspace));
    EXPECT_EQ(made.status, 200) << made.body;
    return made.json().value("source_id", "");
  }

  // A GitHub source whose single-use refresh token must be used now: its access token expires
  // inside the refresh margin. The double's counters start at zero after it.
  std::string make_due_source(const std::string& org, const std::string& key, const std::string& workspace) {
    provider_->control("POST", "/__control/mode", {{"github_expiring", true}, {"github_expires_in", 60}});
    const std::string source_id = make_source(0, org, key, workspace);
    provider_->control("POST", "/__control/mode", {{"github_expires_in", 28800}});
    provider_->control("POST", "/__control/reset", {{"stats_only", true}});
    return source_id;
  }

  nlohmann::json completion(const std::string& connection_id, const std::string& workspace) const {
    return {{"connection_id", connection_id},
            {"workspace_id", workspace},
            {"source_definition_id", github_definition},
            {"source_name", "Repositories"}};
  }

  TempDir work_{"connector-replicas"};
  PostgresServer server_;
  std::string database_ = server_.url();
  std::unique_ptr<ProviderDouble> provider_;
  std::vector<std::unique_ptr<HostProcess>> replicas_;
};

TEST_F(PostgresReplicas, AFlowStartedOnOneReplicaIsCalledBackOnAnotherAndCompletedOnAThird) {
  const std::string org = "org_replicas_flow";
  const std::string key = replica(0).create_key(org, credentials_read_permissions);
  const std::string workspace = replica(0).create_workspace(org, key);
  const auto [connection_id, redirect_back] = authorize_and_consent(0, org, key);

  const auto back = http_request("GET", through(1, redirect_back));
  ASSERT_EQ(back.status, 302) << back.body;
  EXPECT_EQ(query_param(back.header("location"), "status"), "success") << back.header("location");
  const auto made =
      api_post(replica(2).api(org) + "/sources/oauth/callback", key, completion(connection_id, workspace));
  ASSERT_EQ(made.status, 200) << made.body;
  const std::string source_id = made.json().value("source_id", "");
  const auto token = request_access_token(replica(0), org, key, source_id);
  ASSERT_EQ(token.status, 200) << token.body;
  EXPECT_TRUE(github_token_works(*provider_, token.json()["access_token"])) << "the code was exchanged once, on B";

  // The same redirect again, on every replica: refused, and the provider never sees the code again.
  const std::string before = replica(0).dump();
  for (int i = 0; i < replica_count; ++i) {
    const auto replay = http_request("GET", through(i, redirect_back));
    EXPECT_EQ(replay.status, 400) << "replica " << i << ": " << replay.body;
    EXPECT_TRUE(replay.header("location").empty()) << "a refused callback redirects nowhere";
    EXPECT_THAT(replay.body, HasSubstr("unknown or was already used"));
  }
  EXPECT_EQ(provider_->stats()["token_calls"]["authorization_code"], 1) << provider_->stats().dump();
  EXPECT_EQ(replica(0).dump(), before) << "the replays changed nothing";
}

TEST_F(PostgresReplicas, ReplicasRacingToCompleteOneConnectionMakeOneSource) {
  const std::string org = "org_replicas_race";
  const std::string key = replica(0).create_key(org);
  const std::string workspace = replica(0).create_workspace(org, key);
  for (int round = 0; round < 5; ++round) {
    // Named apart: clang 14 cannot capture a structured binding in a lambda.
    const auto started = authorize_and_consent(round % replica_count, org, key);
    const std::string& connection_id = started.first;
    ASSERT_EQ(http_request("GET", through((round + 1) % replica_count, started.second)).status, 302);

    constexpr int callers = 12;
    std::vector<HttpResult> answers(callers);
    run_concurrently(callers, [&](int i) {
      answers[static_cast<std::size_t>(i)] = api_post(replica(i % replica_count).api(org) + "/sources/oauth/callback",
                                                      key, completion(connection_id, workspace));
    });
    std::set<std::string> made;
    for (const auto& answer : answers) {
      if (answer.status == 200) {
        made.insert(answer.json().value("source_id", ""));
      } else {
        EXPECT_TRUE(is_error(answer, 409, "CONNECTION_ALREADY_USED")) << answer.body;
      }
    }
    EXPECT_EQ(made.size(), 1U) << "round " << round;
  }
  const auto listed = api_get(replica(1).api(org) + "/sources?workspace_id=" + workspace, key);
  ASSERT_EQ(listed.status, 200) << listed.body;
  EXPECT_EQ(listed.json()["sources"].size(), 5U) << "one source per connection: " << listed.body;
}

TEST_F(PostgresReplicas, CallersSpreadOverTheReplicasShareOneRefresh) {
  const std::string org = "org_replicas_refresh";
  const std::string key = replica(0).create_key(org, credentials_read_permissions);
  const std::string workspace = replica(0).create_workspace(org, key);
  // Single-use refresh tokens (GitHub's expiring tokens): a second refresh could only fail.
  const std::string source_id = make_due_source(org, key, workspace);
  // A slow token endpoint keeps the window open while every replica looks at the due source.
  provider_->control("POST", "/__control/behaviour", {{"token", "normal"}, {"delay_ms", 500}});

  constexpr int callers = 30;
  std::vector<HttpResult> answers(callers);
  run_concurrently(callers, [&](int i) {
    answers[static_cast<std::size_t>(i)] = request_access_token(replica(i % replica_count), org, key, source_id);
  });
  std::set<std::string> tokens;
  for (const auto& answer : answers) {
    EXPECT_EQ(answer.status, 200) << answer.body;
    if (answer.status == 200) tokens.insert(answer.json().value("access_token", ""));
  }
  const auto stats = provider_->stats();
  EXPECT_EQ(stats["refresh_calls"], 1) << "one refresh across three replicas: " << stats.dump();
  EXPECT_EQ(stat_count(stats, "bad_refresh_token"), 0) << stats.dump();
  ASSERT_EQ(tokens.size(), 1U) << "every replica answers the same new token";
  EXPECT_TRUE(github_token_works(*provider_, *tokens.begin()));
}

TEST_F(PostgresReplicas, TheBackgroundRefreshRunsOnEveryReplicaButRefreshesASourceOnce) {
  // Replicas whose background refresher looks every second.
  replicas_.clear();
  for (int i = 0; i < replica_count; ++i)
    replicas_.push_back(start_replica(i, {{"CONNECTOR_TOKEN_REFRESH_SCAN_SECONDS", "1"}}));
  const std::string org = "org_replicas_background";
  const std::string key = replica(0).create_key(org, credentials_read_permissions);
  const std::string workspace = replica(0).create_workspace(org, key);
  // Expiring in 400 s: inside the 600 s background lead, so all three replicas find it due.
  provider_->control("POST", "/__control/mode", {{"github_expiring", true}, {"github_expires_in", 400}});
  std::vector<std::string> sources;
  for (int i = 0; i < 3; ++i)
    sources.push_back(make_source(i, org, key, workspace));
  provider_->control("POST", "/__control/mode", {{"github_expires_in", 28800}});

  const auto refreshed_all =
      eventually([&] { return provider_->stats()["refresh_calls"] == 3; }, std::chrono::seconds(30));
  EXPECT_TRUE(refreshed_all) << provider_->stats().dump();
  std::this_thread::sleep_for(std::chrono::seconds(3)); // three more scans on every replica
  const auto stats = provider_->stats();
  EXPECT_EQ(stats["refresh_calls"], 3) << "each source once, whichever replica took it: " << stats.dump();
  EXPECT_EQ(stat_count(stats, "bad_refresh_token"), 0) << stats.dump();
  for (const auto& source_id : sources) {
    const auto handed = request_access_token(replica(1), org, key, source_id);
    ASSERT_EQ(handed.status, 200) << handed.body;
    EXPECT_EQ(handed.json()["refreshed"], false);
    EXPECT_TRUE(github_token_works(*provider_, handed.json()["access_token"]));
  }
}

TEST_F(PostgresReplicas, AReplicaKilledMidRefreshLeavesTheSourceToAnotherOnceItsLeaseEnds) {
  // Short leases, and provider calls that give up well inside one (as the host requires).
  const std::map<std::string, std::string> short_lease = {{"CONNECTOR_TOKEN_REFRESH_LEASE_SECONDS", "4"},
                                                          {"CONNECTOR_PROVIDER_TOTAL_TIMEOUT_MS", "800"}};
  replicas_.clear();
  for (int i = 0; i < replica_count; ++i)
    replicas_.push_back(start_replica(i, short_lease));
  const std::string org = "org_replicas_lease";
  const std::string key = replica(0).create_key(org, credentials_read_permissions);
  const std::string workspace = replica(0).create_workspace(org, key);
  const std::string source_id = make_due_source(org, key, workspace);

  // Replica 0 takes the lease and its refresh hangs at the provider, which has not answered
  // (so the refresh token is still good); then it dies.
  provider_->control("POST", "/__control/behaviour", {{"token", "timeout"}, {"times", 1}});
  std::thread doomed([&] {
    try {
      request_access_token(replica(0), org, key, source_id);
    } catch (const std::exception&) { // the connection dies with the replica
    }
  });
  ASSERT_TRUE(eventually([&] { return provider_->stats()["hanging_requests"] == 1; }, std::chrono::seconds(10)));
  replica(0).process().stop(SIGKILL);
  doomed.join();

  // Replica 1 waits for the lease to end, then refreshes from the refresh token the dead
  // replica never got to use.
  const auto started = std::chrono::steady_clock::now();
  const auto taken_over = request_access_token(replica(1), org, key, source_id);
  const auto waited = std::chrono::steady_clock::now() - started;
  ASSERT_EQ(taken_over.status, 200) << taken_over.body;
  EXPECT_EQ(taken_over.json()["refreshed"], true);
  EXPECT_GE(waited, std::chrono::seconds(1)) << "the dead replica's lease was respected";
  EXPECT_TRUE(github_token_works(*provider_, taken_over.json()["access_token"]));
  EXPECT_EQ(stat_count(provider_->stats(), "bad_refresh_token"), 0) << provider_->stats().dump();
  EXPECT_EQ(get_source(replica(1), org, key, source_id)["status"], "active");
}

TEST_F(PostgresReplicas, ChangesMadeThroughAnyReplicaOrTheCliReachEveryReplicaWithinASecond) {
  const std::string org = "org_replicas_changes";
  const std::string admin = replica(0).create_key(org, admin_permissions);
  const std::string workspace = replica(0).create_workspace(org, admin);
  const auto every_replica = [&](const std::function<bool(HostProcess&)>& holds) {
    return [&, holds] {
      for (int i = 0; i < replica_count; ++i)
        if (!holds(replica(i))) return false;
      return true;
    };
  };
  constexpr std::chrono::milliseconds second{1000};

  // A key made with the CLI works everywhere; revoked with the CLI, it stops working everywhere.
  const std::string key = replica(0).create_key(org);
  for (int i = 0; i < replica_count; ++i)
    EXPECT_EQ(api_call("GET", replica(i).api(org) + "/sources", key).status, 200);
  const auto listed = run_command(replica(0).command({host_binary().string(), "keys", "list", "--org", org}), {});
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  const std::string newest = listed.output.substr(listed.output.rfind('\n', listed.output.size() - 2) + 1);
  const auto revoked = run_command(
      replica(0).command({host_binary().string(), "keys", "revoke", "--id", newest.substr(0, newest.find('\t'))}), {});
  ASSERT_EQ(revoked.exit_code, 0) << revoked.output;
  EXPECT_TRUE(eventually(
      every_replica([&](HostProcess& r) { return api_call("GET", r.api(org) + "/sources", key).status == 401; }),
      second));

  // A redirect allowed through replica 1 is accepted by every replica; removed through replica
  // 2, it is refused by every replica.
  const std::string own = "https://tools.example.org/oauth/done";
  const auto authorize_with_own = [&](HostProcess& r) {
    return api_post(r.api(org) + "/sources/authorize", admin, {{"slug", "github"}, {"redirect_url", own}}).status;
  };
  ASSERT_EQ(api_post(replica(1).api(org) + "/redirect-urls", admin, {{"url", own}}).status, 201);
  EXPECT_TRUE(eventually(every_replica([&](HostProcess& r) { return authorize_with_own(r) == 200; }), second));
  const auto removed = api_call("DELETE", replica(2).api(org) + "/redirect-urls", admin, {{"url", own}});
  ASSERT_EQ(removed.status, 204) << removed.body;
  EXPECT_TRUE(eventually(every_replica([&](HostProcess& r) { return authorize_with_own(r) == 422; }), second));

  // An OAuth app set for the workspace through replica 2 opens the next consent on every replica.
  const auto consent_client = [&](HostProcess& r) {
    const auto started = api_post(
        r.api(org) + "/sources/oauth", admin,
        {{"source_definition_id", github_definition}, {"workspace_id", workspace}, {"redirect_url", client_redirect}});
    return query_param(started.json().value("consent_url", ""), "client_id");
  };
  for (int i = 0; i < replica_count; ++i)
    EXPECT_EQ(consent_client(replica(i)), "test-client-id"); // cached by every replica now
  const auto put = api_call("PUT", replica(2).api(org) + "/workspaces/" + workspace + "/oauth-credentials", admin,
                            {{"actor_type", "workspace"},
                             {"name", "github"},
                             {"configuration", {{"client_id", "ws-client"}, {"client_secret", "ws-secret"}}}});
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_TRUE(eventually(every_replica([&](HostProcess& r) { return consent_client(r) == "ws-client"; }), second));
}

TEST_F(PostgresReplicas, AReplicaKilledUnderLoadLosesNoAcknowledgedWriteAndTheOthersKeepServing) {
  const std::string org = "org_replicas_kill";
  const std::string key = replica(0).create_key(org);

  std::mutex mutex;
  std::set<std::string> acknowledged;
  std::atomic<int> survivor_failures{0};
  std::atomic<bool> killed{false};
  std::atomic<int> after_kill{0};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  std::thread killer([&] {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    replica(0).process().stop(SIGKILL);
    killed = true;
  });
  run_concurrently(6, [&](int i) {
    int n = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      const int target = (i + n++) % replica_count;
      HttpResult made;
      try {
        made = api_post(replica(target).api(org) + "/workspaces", key, {{"name", "load " + std::to_string(n)}});
      } catch (const std::exception&) {
        made.status = 0; // the killed replica's connection
      }
      if (made.status == 201) {
        const std::lock_guard lock(mutex);
        acknowledged.insert(made.json().value("workspace_id", ""));
      } else if (target != 0) {
        ++survivor_failures;
      }
      if (killed && target != 0 && made.status == 201) ++after_kill;
    }
  });
  killer.join();

  EXPECT_EQ(survivor_failures, 0) << "the other replicas kept serving";
  EXPECT_GT(after_kill, 10) << "and served after the kill";
  ASSERT_GT(acknowledged.size(), 20U);
  for (const auto& id : acknowledged) {
    const auto found = api_get(replica(1).api(org) + "/workspaces/" + id, key);
    EXPECT_EQ(found.status, 200) << "acknowledged " << id << " but lost: " << found.body;
  }

  // A replica started again in its place serves the same data.
  replicas_.at(0) = start_replica(0, {});
  EXPECT_EQ(api_get(replica(0).api(org) + "/workspaces/" + *acknowledged.begin(), key).status, 200);
}

} // namespace

TEST_F(PostgresReplicas, AKeyRotatedThroughOneReplicaOpensOnTheOthersBeforeTheyReload) {
  const std::string org = "org_replicas_keys";
  const std::string key = replica(0).create_key(org, credentials_read_permissions);
  const std::string workspace = replica(0).create_workspace(org, key);
  const auto rotated = run_command(replica(0).command({host_binary().string(), "encryption", "rotate"}), {});
  ASSERT_EQ(rotated.exit_code, 0) << rotated.errors;
  ASSERT_EQ(::kill(replica(0).process().pid(), SIGHUP), 0);
  ASSERT_TRUE(replica(0).process().wait_for_stderr("\"sealing_key\":2", std::chrono::seconds(10)));

  // Replicas 1 and 2 never had a SIGHUP: replica 1 opens the flow's verifier that replica 0
  // sealed with key 2 at the callback, and both open the source afterwards.
  const std::string source_id = make_source(0, org, key, workspace);
  for (int i = 1; i < replica_count; ++i) {
    const auto handed = request_access_token(replica(i), org, key, source_id);
    ASSERT_EQ(handed.status, 200) << "replica " << i << ": " << handed.body;
    EXPECT_TRUE(github_token_works(*provider_, handed.json()["access_token"]));
  }
}

TEST_F(PostgresReplicas, ThePurgeRunsOnEveryReplicaAndPurgesEachFlowOnce) {
  // Flows that wait one second for their callback, purged every second, kept one second once
  // ended: every replica's purge works the same rows at once.
  replicas_.clear();
  for (int i = 0; i < replica_count; ++i) {
    replicas_.push_back(start_replica(i, {{"CONNECTOR_STATE_TTL_SECONDS", "1"},
                                          {"CONNECTOR_FLOW_PURGE_SECONDS", "1"},
                                          {"CONNECTOR_FLOW_RETENTION_SECONDS", "1"},
                                          {"CONNECTOR_AUTHORIZE_RATE_PER_MINUTE", "0"}}));
  }
  const std::string org = "org_replicas_purge";
  const std::string key = replica(0).create_key(org);
  constexpr int callers = 6;
  constexpr int flows_each = 50;
  run_concurrently(callers, [&](int i) {
    for (int n = 0; n < flows_each; ++n) {
      const auto started = api_post(replica(i % replica_count).api(org) + "/sources/authorize", key,
                                    {{"slug", "github"}, {"redirect_url", client_redirect}});
      EXPECT_EQ(started.status, 200) << started.body;
    }
  });

  // What the replicas' purges say they did, summed: each flow expired once and deleted once.
  const auto purged = [&](const char* what) {
    int64_t total = 0;
    for (int i = 0; i < replica_count; ++i) {
      std::istringstream log(replica(i).process().stderr_text());
      for (std::string line; std::getline(log, line);) {
        if (line.find("\"flows purged\"") == std::string::npos) continue;
        total += nlohmann::json::parse(line).value(what, int64_t{0});
      }
    }
    return total;
  };
  EXPECT_TRUE(eventually([&] { return purged("deleted") >= callers * flows_each; }, std::chrono::seconds(20)));
  EXPECT_EQ(purged("expired"), callers * flows_each) << "each flow expired by one replica";
  EXPECT_EQ(purged("deleted"), callers * flows_each) << "each row deleted by one replica";
  for (int i = 0; i < replica_count; ++i)
    EXPECT_THAT(replica(i).process().stderr_text(), ::testing::Not(HasSubstr("flow purge failed")));
}
