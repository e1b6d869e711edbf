// The PostgreSQL schema's migrations (core/store/postgres_migrations.*) against a real
// PostgreSQL 15: replicas starting together migrate once, a newer database is refused, a
// failed step is rolled back alone, and the versions keep step with SQLite's.
#include "integration/host_fixture.hpp"
#include "support/child_process.hpp"
#include "support/postgres_server.hpp"

#include "store/postgres_migrations.hpp"
#include "store/postgres_support.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

using namespace connector::core;
using connector::testing::host_binary;
using connector::testing::PostgresServer;
using connector::testing::run_command;

namespace {

class PostgresMigrationsTest : public ::testing::Test {
protected:
  PostgresServer server;

  int64_t count(pg::Connection& db, const std::string& sql) { return db.run(sql, pg::Params()).integer(0, 0); }
};

} // namespace

TEST(PostgresMigrations, KeepTheSameVersionsAsSqlite) {
  EXPECT_EQ(latest_schema_version(postgres_schema_migrations()), latest_schema_version(sqlite_schema_migrations()))
      << "a SQLite migration needs its PostgreSQL counterpart with the same version";
}

TEST_F(PostgresMigrationsTest, ReplicasStartingTogetherMigrateAnEmptyDatabaseOnce) {
  constexpr int replicas = 3;
  std::vector<pg::Connection> connections;
  connections.reserve(replicas);
  for (int i = 0; i < replicas; ++i)
    connections.push_back(pg::Connection::open(server.url()));
  std::atomic<int> ready{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  threads.reserve(replicas);
  for (auto& db : connections) {
    threads.emplace_back([&] {
      ready.fetch_add(1);
      while (ready.load() < replicas) {
      }
      try {
        apply_postgres_schema_migrations(db, postgres_schema_migrations());
      } catch (const std::exception& error) {
        ADD_FAILURE() << error.what();
        failures.fetch_add(1);
      }
    });
  }
  for (auto& thread : threads)
    thread.join();
  EXPECT_EQ(failures.load(), 0);
  pg::Connection db = pg::Connection::open(server.url());
  EXPECT_EQ(read_postgres_schema_version(db), latest_schema_version(postgres_schema_migrations()));
  EXPECT_EQ(count(db, "SELECT count(*) FROM schema_migrations"),
            static_cast<int64_t>(postgres_schema_migrations().size()));
  // Again, later: nothing to do, nothing recorded twice.
  apply_postgres_schema_migrations(db, postgres_schema_migrations());
  EXPECT_EQ(count(db, "SELECT count(*) FROM schema_migrations"),
            static_cast<int64_t>(postgres_schema_migrations().size()));
}

TEST_F(PostgresMigrationsTest, TheSchemaHoldsEveryTableAndMovesTheCacheGenerationOnKeyChanges) {
  pg::Connection db = pg::Connection::open(server.url());
  EXPECT_EQ(read_postgres_schema_version(db), 0);
  apply_postgres_schema_migrations(db, postgres_schema_migrations());
  for (const char* table : {"api_keys", "allowed_redirects", "workspaces", "sources", "oauth_apps", "connections",
                            "cache_generation", "schema_migrations"}) {
    EXPECT_EQ(count(db, std::string("SELECT count(*) FROM information_schema.tables WHERE table_name = '") + table +
                            "' AND table_schema = 'public'"),
              1)
        << table;
  }
  const int64_t before = count(db, "SELECT generation FROM cache_generation");
  db.run("INSERT INTO api_keys (id, organization_id, name, key_hash, permissions, created_at) "
         "VALUES ($1, $2, $3, $4, $5, $6)",
         pg::Params().text("key_1").text("org_1").text("ci").text("hash").text("[]").integer(1));
  EXPECT_EQ(count(db, "SELECT generation FROM cache_generation"), before + 1);
  db.run("UPDATE api_keys SET revoked_at = $1", pg::Params().integer(2));
  EXPECT_EQ(count(db, "SELECT generation FROM cache_generation"), before + 2);
}

TEST_F(PostgresMigrationsTest, ADatabaseANewerBuildWroteIsLeftAlone) {
  pg::Connection db = pg::Connection::open(server.url());
  apply_postgres_schema_migrations(db, postgres_schema_migrations());
  db.run("INSERT INTO schema_migrations VALUES (999, 0)", pg::Params());
  try {
    apply_postgres_schema_migrations(db, postgres_schema_migrations());
    ADD_FAILURE() << "a database at version 999 was accepted";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("newer than this build"), std::string::npos) << error.what();
  }
  // The lock went with the refusal: another replica can take it at once.
  pg::Connection other = pg::Connection::open(server.url());
  EXPECT_TRUE(other.run("SELECT pg_try_advisory_lock(7165066952496604008)", pg::Params()).boolean(0, 0));
}

TEST_F(PostgresMigrationsTest, AFailedStepIsRolledBackAloneAndTheEarlierStaysApplied) {
  static constexpr SchemaMigration steps[] = {
      {1, "a table", "CREATE TABLE first_step (id text PRIMARY KEY)"},
      {2, "a table, then a mistake", "CREATE TABLE second_step (id text); SELECT no_such_function()"},
  };
  pg::Connection db = pg::Connection::open(server.url());
  try {
    apply_postgres_schema_migrations(db, steps);
    ADD_FAILURE() << "a failing step was not reported";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("schema migration 2 (a table, then a mistake) failed"), std::string::npos)
        << error.what();
  }
  EXPECT_EQ(read_postgres_schema_version(db), 1);
  EXPECT_EQ(count(db, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'first_step'"), 1);
  EXPECT_EQ(count(db, "SELECT count(*) FROM information_schema.tables WHERE table_name = 'second_step'"), 0);
}

TEST_F(PostgresMigrationsTest, TheDatabaseCommandChecksAndMigratesAPostgresDatabaseWithoutShowingItsPassword) {
  const auto database = [&](const std::string& action) {
    return run_command({host_binary().string(), "database", action, "--database", server.url()}, {});
  };
  const std::string latest = std::to_string(latest_schema_version(postgres_schema_migrations()));
  const auto fresh = database("check");
  EXPECT_EQ(fresh.exit_code, 3) << fresh.output << fresh.errors;
  EXPECT_NE(fresh.output.find("not created yet"), std::string::npos) << fresh.output;
  EXPECT_NE(fresh.output.find("postgresql://connector_host:***@127.0.0.1"), std::string::npos) << fresh.output;
  const auto migrated = database("migrate");
  EXPECT_EQ(migrated.exit_code, 0) << migrated.output << migrated.errors;
  EXPECT_NE(migrated.output.find("schema version 0 -> " + latest), std::string::npos) << migrated.output;
  const std::string steps = std::to_string(postgres_schema_migrations().size());
  EXPECT_NE(migrated.errors.find("migrate: 0 of " + steps + " (0 %): version "), std::string::npos) << migrated.errors;
  EXPECT_NE(migrated.errors.find("migrate: " + steps + " step"), std::string::npos) << migrated.errors;
  const auto checked = database("check");
  EXPECT_EQ(checked.exit_code, 0) << checked.output << checked.errors;
  EXPECT_NE(checked.output.find("up to date"), std::string::npos) << checked.output;

  server.stop();
  const auto unreachable = database("check");
  EXPECT_EQ(unreachable.exit_code, 1) << unreachable.output << unreachable.errors;
  EXPECT_NE(unreachable.errors.find("cannot connect to postgresql://connector_host:***@"), std::string::npos)
      << unreachable.errors;
  for (const auto& said : {fresh.output, fresh.errors, migrated.output, checked.output, unreachable.errors})
    EXPECT_EQ(said.find(server.host_password()), std::string::npos) << said;
}
