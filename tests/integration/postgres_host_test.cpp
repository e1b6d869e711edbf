// The host on PostgreSQL, as an operator runs it (connector-host serve --database URL against a
// real PostgreSQL 15): a database that cannot be reached at start is a clear error and a
// non-zero exit; a database that goes away while the host serves fails requests with 503
// STORE_UNAVAILABLE in the envelope and makes /readyz say not ready, and once it is back the
// host serves again by itself with every acknowledged write in place. (The rest of the
// integration suite runs on PostgreSQL too: CONNECTOR_TEST_BACKEND=postgres; several replicas on
// one database are replicas_test.cpp.)
#include "integration/flow_driver.hpp"
#include "support/postgres_server.hpp"

#include <gmock/gmock.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <set>
#include <thread>

using namespace connector::testing;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(PostgresHost, AnUnreachableDatabaseAtStartIsAClearErrorAndANonZeroExit) {
  TempDir work("connector-pg-host");
  // Port 1 on loopback: nothing listens there.
  const std::string url = "postgresql://connector_host:the-secret-password@127.0.0.1:1/connector";
  const CommandResult run = run_command({host_binary().string(), "serve", "--listen", "127.0.0.1:0", "--data-dir",
                                         (work.path() / "data").string(), "--database", url},
                                        {});
  EXPECT_NE(run.exit_code, 0);
  EXPECT_THAT(run.errors, HasSubstr("cannot connect to postgresql://connector_host:***@127.0.0.1:1/connector"));
  EXPECT_THAT(run.errors + run.output, Not(HasSubstr("the-secret-password")));
}

TEST(PostgresHost, ADatabaseRestartFailsRequestsWith503AndTheHostRecoversByItself) {
  TempDir work("connector-pg-host");
  PostgresServer server;
  HostOptions options;
  options.database_url = server.url();
  HostProcess host(work.path(), nullptr, options);
  const std::string key = host.create_key("org_pg");
  const std::string workspace = host.create_workspace("org_pg", key); // acknowledged before the restart
  ASSERT_EQ(http_request("GET", host.base_url() + "/readyz").status, 200);

  server.stop();
  const HttpResult refused = api_post(host.api("org_pg") + "/workspaces", key, {{"name", "during the restart"}});
  EXPECT_EQ(refused.status, 503) << refused.body;
  EXPECT_EQ(refused.json()["success"], false);
  EXPECT_EQ(refused.json()["error"]["code"], "STORE_UNAVAILABLE") << refused.body;
  EXPECT_THAT(refused.body, Not(HasSubstr(server.host_password())));
  const HttpResult readiness = http_request("GET", host.base_url() + "/readyz");
  EXPECT_EQ(readiness.status, 503);
  EXPECT_EQ(readiness.json()["checks"]["store"], "failed");
  EXPECT_EQ(http_request("GET", host.base_url() + "/healthz").status, 200) << "alive, only not ready";

  server.start();
  EXPECT_TRUE(eventually([&] { return http_request("GET", host.base_url() + "/readyz").status == 200; },
                         std::chrono::seconds(10)));
  const HttpResult listed = api_get(host.api("org_pg") + "/workspaces", key);
  ASSERT_EQ(listed.status, 200) << listed.body;
  EXPECT_THAT(listed.body, HasSubstr(workspace));
  EXPECT_THAT(listed.body, Not(HasSubstr("during the restart")));
  const HttpResult made = api_post(host.api("org_pg") + "/workspaces", key, {{"name", "after the restart"}});
  EXPECT_EQ(made.status, 201) << made.body;
  EXPECT_THAT(host.process().stderr_text(), Not(HasSubstr(server.host_password())));
}

TEST(PostgresHost, ARestartUnderLoadAnswers503InTheWindowAndLosesNoAcknowledgedWrite) {
  TempDir work("connector-pg-host");
  PostgresServer server;
  HostOptions options;
  options.database_url = server.url();
  HostProcess host(work.path(), nullptr, options);
  const std::string key = host.create_key("org_pg_load");

  std::mutex mutex;
  std::set<std::string> acknowledged;
  std::map<std::string, int> refusals; // "status code" -> count
  std::atomic<int> after_restart{0};
  std::atomic<bool> restarted{false};
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(4);
  std::thread restarter([&] {
    std::this_thread::sleep_for(std::chrono::seconds(1));
    server.stop();
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    server.start();
    restarted = true;
  });
  run_concurrently(4, [&](int i) {
    int n = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      const HttpResult made = api_post(host.api("org_pg_load") + "/workspaces", key,
                                       {{"name", "load " + std::to_string(i) + "-" + std::to_string(n++)}});
      const std::lock_guard lock(mutex);
      if (made.status == 201) {
        acknowledged.insert(made.json().value("workspace_id", ""));
        if (restarted) ++after_restart;
      } else {
        refusals[std::to_string(made.status) + " " + made.json()["error"].value("code", made.body)] += 1;
      }
    }
  });
  restarter.join();

  EXPECT_FALSE(refusals.empty()) << "requests met the restart";
  for (const auto& [what, count] : refusals)
    EXPECT_EQ(what, "503 STORE_UNAVAILABLE") << count << " answers";
  EXPECT_GT(after_restart, 0) << "the host served again by itself";
  ASSERT_GT(acknowledged.size(), 10U);
  for (const auto& id : acknowledged) {
    const HttpResult found = api_get(host.api("org_pg_load") + "/workspaces/" + id, key);
    EXPECT_EQ(found.status, 200) << "acknowledged " << id << " but lost: " << found.body;
  }
}

// GitHub's refresh tokens are single-use: once the provider has answered a refresh, the new
// refresh token exists only in the host's memory until it is stored. A database restart in
// that moment must not lose it.
TEST(PostgresHost, ARefreshAnsweredWhileTheDatabaseRestartsIsStoredOnceItIsBack) {
  TempDir work("connector-pg-host");
  PostgresServer server;
  ProviderDouble provider(work.path());
  HostOptions options;
  options.database_url = server.url();
  options.environment = {{"CONNECTOR_TOKEN_REFRESH_SCAN_SECONDS", "3600"}};
  HostProcess host(work.path(), &provider, options);
  const std::string org = "org_pg_refresh";
  const std::string key = host.create_key(org, credentials_read_permissions);
  const std::string workspace = host.create_workspace(org, key);
  provider.control("POST", "/__control/mode", {{"github_expiring", true}});
  const auto flow = run_flow(host, org, key, workspace, github_definition);
  provider.control("POST", "/__control/reset", {{"stats_only", true}});

  // The provider answers after 1.5 s; the database is away from 0.3 s to 2.5 s.
  provider.control("POST", "/__control/behaviour", {{"token", "normal"}, {"delay_ms", 1500}, {"times", 1}});
  HttpResult refreshed;
  std::thread caller([&] { refreshed = request_access_token(host, org, key, flow.source_id(), true); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  server.stop();
  std::this_thread::sleep_for(std::chrono::milliseconds(2200));
  server.start();
  caller.join();

  ASSERT_EQ(refreshed.status, 200) << refreshed.body;
  EXPECT_EQ(refreshed.json()["refreshed"], true);
  EXPECT_TRUE(github_token_works(provider, refreshed.json()["access_token"]));
  EXPECT_EQ(provider.stats()["refresh_calls"], 1);
  // The stored refresh token is the rotated one: the next refresh works.
  const HttpResult next = request_access_token(host, org, key, flow.source_id(), true);
  ASSERT_EQ(next.status, 200) << next.body;
  EXPECT_EQ(stat_count(provider.stats(), "bad_refresh_token"), 0) << provider.stats().dump();
  EXPECT_EQ(get_source(host, org, key, flow.source_id())["status"], "active");
  EXPECT_THAT(host.process().stderr_text(), HasSubstr("token write-back waits for the store"));
}
