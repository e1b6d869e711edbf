// Moving a SQLite deployment to PostgreSQL (connector-host database copy), as an operator
// does it: a host on SQLite makes keys, workspaces, sources, allow-lists and an OAuth app;
// the copy moves every table with its sealed secrets as they are; a host on PostgreSQL with
// the same key file then serves all of it. A non-empty target is refused unless the operator
// says so, and then what is already there is kept.
#include "integration/flow_driver.hpp"
#include "support/postgres_server.hpp"

#include <gmock/gmock.h>

using namespace connector::testing;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

CommandResult copy_store(const std::filesystem::path& data_dir, const std::string& url, bool into_non_empty = false) {
  std::vector<std::string> argv = {host_binary().string(), "database", "copy", "--from-data-dir",
                                   data_dir.string(),      "--to",     url};
  if (into_non_empty) argv.push_back("--into-non-empty");
  return run_command(argv, {});
}

} // namespace

TEST(PostgresDatabaseCopy, ASqliteDeploymentMovesToPostgresAndServesFromThere) {
  TempDir work("connector-copy");
  ProviderDouble provider(work.path());
  PostgresServer server;
  const std::string org = "org_copy";
  const auto data_dir = work.path() / "sqlite-data";
  std::string key;
  std::string workspace;
  std::vector<std::string> sources;
  std::string before;
  {
    HostOptions on_sqlite;
    on_sqlite.data_dir = data_dir;
    HostProcess host(work.path() / "sqlite", &provider, on_sqlite);
    key = host.create_key(org, admin_permissions);
    workspace = host.create_workspace(org, key);
    for (int i = 0; i < 3; ++i)
      sources.push_back(run_flow(host, org, key, workspace, github_definition).source_id());
    ASSERT_EQ(api_post(host.api(org) + "/redirect-urls", key, {{"url", "https://tools.example.org/done"}}).status, 201);
    const auto app =
        api_call("PUT", host.api(org) + "/workspaces/" + workspace + "/oauth-credentials", key,
                 {{"actor_type", "workspace"},
                  {"name", "github"},
                  {"configuration", {{"client_id", "copied-client"}, {"client_secret", "copied-secret"}}}});
    ASSERT_EQ(app.status, 200) << app.body;
    before = api_get(host.api(org) + "/sources?workspace_id=" + workspace, key).body;
  } // the SQLite host stops before the copy

  const auto copied = copy_store(data_dir, server.url());
  ASSERT_EQ(copied.exit_code, 0) << copied.output << copied.errors;
  EXPECT_THAT(copied.output, HasSubstr("sources\t3\t3"));
  EXPECT_THAT(copied.output, HasSubstr("workspaces\t1\t1"));
  EXPECT_THAT(copied.output, HasSubstr("oauth_apps\t1\t1"));
  EXPECT_THAT(copied.output, HasSubstr("Copied "));
  EXPECT_THAT(copied.errors, HasSubstr("copy: ")) << "a summary line";
  EXPECT_THAT(copied.output + copied.errors, Not(HasSubstr(server.host_password())));

  // A host on PostgreSQL with the SQLite deployment's key file serves the same data.
  HostOptions on_postgres;
  on_postgres.database_url = server.url();
  on_postgres.environment = {{"CONNECTOR_ENCRYPTION_KEYS_FILE", (data_dir / "encryption.keys").string()}};
  HostProcess host(work.path() / "postgres", &provider, on_postgres);
  EXPECT_EQ(api_get(host.api(org) + "/sources?workspace_id=" + workspace, key).body, before);
  for (const auto& id : sources) {
    const auto handed = request_access_token(host, org, key, id);
    ASSERT_EQ(handed.status, 200) << handed.body;
    EXPECT_TRUE(github_token_works(provider, handed.json()["access_token"]));
  }
  const auto started = api_post(host.api(org) + "/sources/oauth", key,
                                {{"source_definition_id", github_definition},
                                 {"workspace_id", workspace},
                                 {"redirect_url", "https://tools.example.org/done"}});
  ASSERT_EQ(started.status, 200) << "the allow-list came along: " << started.body;
  EXPECT_EQ(query_param(started.json().value("consent_url", ""), "client_id"), "copied-client");

  // The target holds records now: a second copy is refused and changes nothing...
  const std::string dump = host.dump();
  const auto refused = copy_store(data_dir, server.url());
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.errors, HasSubstr("already holds"));
  EXPECT_THAT(refused.errors, HasSubstr("--into-non-empty"));
  EXPECT_EQ(host.dump(), dump);
  // ... unless told: then every record already there is kept, and nothing is doubled.
  const auto again = copy_store(data_dir, server.url(), true);
  EXPECT_EQ(again.exit_code, 0) << again.output << again.errors;
  EXPECT_THAT(again.errors, HasSubstr("already in the target"));
  EXPECT_EQ(api_get(host.api(org) + "/sources?workspace_id=" + workspace, key).body, before);
}

TEST(PostgresDatabaseCopy, AMissingSqliteStoreIsAClearError) {
  TempDir work("connector-copy-missing");
  const auto refused = copy_store(work.path() / "nothing-here", "postgresql://u:secret-pw@127.0.0.1:1/db");
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.errors, HasSubstr("no SQLite store at"));
  EXPECT_THAT(refused.errors, Not(HasSubstr("secret-pw")));
}
