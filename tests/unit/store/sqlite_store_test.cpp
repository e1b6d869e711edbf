#include "oauth/ids.hpp"
#include "store/migrations.hpp"
#include "store/sqlite_store.hpp"
#include "support/flow_ids.hpp"
#include "support/temp_dir.hpp"
#include "unit/store/store_records.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>

using namespace connector::core;

namespace {

using namespace connector::testing::store_records;
using TemporaryFolder = connector::testing::TempDir;
using connector::testing::id_made_at;

// Raw SQL against the file, for what the Store interface cannot do (inspect, tamper).
class RawDatabase {
public:
  explicit RawDatabase(const std::filesystem::path& path) {
    if (sqlite3_open(path.c_str(), &db_) != SQLITE_OK) throw std::runtime_error("cannot open test database");
    sqlite3_busy_timeout(db_, 5000);
  }
  ~RawDatabase() { sqlite3_close(db_); }
  RawDatabase(const RawDatabase&) = delete;
  RawDatabase& operator=(const RawDatabase&) = delete;

  void execute(const std::string& sql) {
    char* error = nullptr;
    if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error) != SQLITE_OK) {
      const std::string message = error ? error : "?";
      sqlite3_free(error);
      throw std::runtime_error(message);
    }
  }
  std::string text(const std::string& sql) {
    sqlite3_stmt* statement = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
      throw std::runtime_error(sqlite3_errmsg(db_));
    }
    std::string value;
    if (sqlite3_step(statement) == SQLITE_ROW && sqlite3_column_text(statement, 0) != nullptr) {
      value = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
    }
    sqlite3_finalize(statement);
    return value;
  }
  int64_t integer(const std::string& sql) { return std::stoll(text(sql)); }
  sqlite3* handle() { return db_; }

  // Lays the file out as a release at schema `version` wrote it (WAL, its migrations only).
  void migrate_to(int version) {
    execute("PRAGMA journal_mode = WAL");
    apply_schema_migrations(db_, sqlite_schema_migrations().first(static_cast<std::size_t>(version)));
  }

private:
  sqlite3* db_ = nullptr;
};

class SqliteStoreTest : public ::testing::Test {
protected:
  TemporaryFolder folder;
  std::filesystem::path path = folder.path() / "nested" / "store.db"; // the store creates "nested"
};

} // namespace

// --- Opening and configuration

TEST_F(SqliteStoreTest, CreatesTheFileAndItsFolderInWalMode) {
  SqliteStore store(path);
  EXPECT_TRUE(std::filesystem::exists(path));
  RawDatabase raw(path);
  EXPECT_EQ(raw.text("PRAGMA journal_mode"), "wal");
}

TEST_F(SqliteStoreTest, CreatesTheIndexesLookupsAndListingsRelyOn) {
  SqliteStore store(path);
  RawDatabase raw(path);
  auto index_columns = [&](const std::string& index) {
    return raw.text("SELECT group_concat(name, ',') FROM (SELECT name FROM pragma_index_info('" + index +
                    "') ORDER BY seqno)");
  };
  auto is_unique = [&](const std::string& table, const std::string& index) {
    return raw.text("SELECT \"unique\" FROM pragma_index_list('" + table + "') WHERE name = '" + index + "'") == "1";
  };
  EXPECT_EQ(index_columns("api_keys_by_key_hash"), "key_hash");
  EXPECT_TRUE(is_unique("api_keys", "api_keys_by_key_hash"));
  EXPECT_EQ(index_columns("connections_by_legacy_state_hash"), "state_hash");
  EXPECT_TRUE(is_unique("connections", "connections_by_legacy_state_hash"));
  EXPECT_EQ(index_columns("connections_by_unkeyed_id"), "id");
  EXPECT_TRUE(is_unique("connections", "connections_by_unkeyed_id"));
  // An authorize adds to the table alone: every index over connections is partial, one
  // holding the flows whose row key is not their id's, one only flows from before states
  // named their connection, the other only authorized flows, for the purge.
  EXPECT_EQ(raw.text("SELECT count(*) FROM pragma_index_list('connections')"), "3");
  EXPECT_EQ(raw.text("SELECT count(*) FROM pragma_index_list('connections') WHERE partial = 0"), "0");
  EXPECT_EQ(index_columns("connections_authorized"), "expires_at");
  EXPECT_EQ(index_columns("sources_by_workspace"), "organization_id,workspace_id,id");
  EXPECT_EQ(index_columns("workspaces_by_organization"), "organization_id,id");
}

// --- API keys

// --- Redirect allow-list

// --- Workspaces and pagination

// --- Connections

int64_t key_of(RawDatabase& raw, const std::string& id) {
  return raw.integer("SELECT row_key FROM connections WHERE id = '" + id + "'");
}

// A flow's row key is the store's business: it takes one from the id where it can, so that a
// lookup by id is a lookup by key and an authorize adds to no index, and new flows still go at
// the end of the table in the order they were made (the purge walks it in that order).
TEST_F(SqliteStoreTest, AConnectionIsFoundByItsIdAloneAndNewRowsGoAtTheEnd) {
  SqliteStore store(path);
  std::vector<FlowRecord> made;
  for (int i = 0; i < 3; ++i) {
    FlowRecord connection = make_connection("org_a", make_id("conn"));
    connection.state_hash = "state-" + std::to_string(i);
    store.insert_flow(connection);
    made.push_back(connection);
  }
  {
    RawDatabase raw(path);
    int64_t previous = 0;
    for (const FlowRecord& connection : made) {
      const int64_t key = key_of(raw, connection.id);
      EXPECT_GT(key, previous) << "rows lie in the order they were made";
      previous = key;
    }
    EXPECT_EQ(raw.integer("SELECT count(*) FROM connections WHERE key_from_id = 1"), 3);
    EXPECT_EQ(raw.integer("SELECT count(*) FROM connections INDEXED BY connections_by_unkeyed_id "
                          "WHERE key_from_id = 0 AND id > ''"),
              0)
        << "no index entry for a flow keyed by its id";
  }
  const FlowRecord& connection = made[1];
  expect_same_connection(*store.find_flow("org_a", connection.id), connection);
  expect_same_connection(*store.find_flow_by_id(connection.id), connection);
  EXPECT_FALSE(store.find_flow("org_b", connection.id));
  EXPECT_FALSE(store.find_flow_by_id(connection.id.substr(0, connection.id.size() - 1) + "x"))
      << "the key alone does not find a flow: the id must match too";

  // An id is unique however the store keys its rows.
  FlowRecord twin = make_connection("org_b", connection.id);
  twin.state_hash = "another-state-hash";
  EXPECT_THROW(store.insert_flow(twin), StoreConflict);
  EXPECT_EQ(store.count_flows(), 3);

  FlowRecord changed = *store.find_flow("org_a", connection.id);
  const FlowRecord stale = changed;
  changed.status = FlowStatus::consumed;
  ASSERT_TRUE(store.update_flow(changed));
  EXPECT_EQ(store.find_flow_by_id(connection.id)->status, FlowStatus::consumed);
  EXPECT_EQ(store.find_flow_by_id(connection.id)->version, 2);
  EXPECT_FALSE(store.update_flow(stale)) << "a stale version loses";
  EXPECT_EQ(store.find_flow_by_id(made[0].id)->status, made[0].status) << "only its own row changed";
}

// Where an id's key cannot be used (another process made an id with the same time part, the
// id was made a millisecond before the newest stored flow, or the id is not make_id's), SQLite
// picks the next key after the largest: the flow is found, updated and kept unique all the
// same, and it still lies after every flow stored before it.
TEST_F(SqliteStoreTest, AFlowWhoseIdGivesNoUsableKeyGoesAfterTheNewestAndIsFoundAllTheSame) {
  const int64_t millisecond = 1'800'000'000'000;
  const std::string first = id_made_at(millisecond, "beef0123456789abcdef");
  const std::string same_key = id_made_at(millisecond, "beeffedcba9876543210");
  const std::string earlier = id_made_at(millisecond - 1, "00000000000000000000");
  const std::string not_made_by_make_id = "conn_ZZ";
  SqliteStore store(path);
  for (const std::string& id : {first, same_key, earlier, not_made_by_make_id}) {
    FlowRecord connection = make_connection("org_a", id);
    connection.state_hash = "state-of-" + id;
    store.insert_flow(connection);
  }
  {
    RawDatabase raw(path);
    EXPECT_EQ(key_of(raw, first), (int64_t{1} << 60) + (millisecond << 16) + 0xbeef);
    EXPECT_EQ(key_of(raw, same_key), key_of(raw, first) + 1);
    EXPECT_EQ(key_of(raw, earlier), key_of(raw, first) + 2);
    EXPECT_EQ(key_of(raw, not_made_by_make_id), key_of(raw, first) + 3);
    EXPECT_EQ(raw.integer("SELECT count(*) FROM connections WHERE key_from_id = 0"), 3);
  }
  for (const std::string& id : {first, same_key, earlier, not_made_by_make_id}) {
    ASSERT_TRUE(store.find_flow("org_a", id)) << id;
    FlowRecord changed = *store.find_flow_by_id(id);
    changed.status = FlowStatus::failed;
    EXPECT_TRUE(store.update_flow(changed)) << id;
    EXPECT_EQ(store.find_flow_by_id(id)->status, FlowStatus::failed) << id;
    FlowRecord twin = make_connection("org_b", id);
    twin.state_hash = "twin-of-" + id;
    EXPECT_THROW(store.insert_flow(twin), StoreConflict) << id;
  }
  EXPECT_EQ(store.count_flows(), 4);

  // The store learns the newest key from the file when it opens.
  const std::string before_newest = id_made_at(millisecond - 5, "11111111111111111111");
  SqliteStore reopened(path);
  reopened.insert_flow(make_connection("org_a", before_newest));
  RawDatabase raw(path);
  EXPECT_EQ(key_of(raw, before_newest), key_of(raw, first) + 4);
}

// A file of version 9 holds flows whose ids began with their row key (id_names_row = 1) and
// older ones found through a partial index: after migration 10 every one is found by its id,
// and new flows go after the largest key the file holds.
TEST_F(SqliteStoreTest, AVersionNineFileKeepsItsFlowsAndNewOnesGoAfterThem) {
  std::filesystem::create_directories(path.parent_path());
  const int64_t keyed_row = (int64_t{1} << 60) + (int64_t{1700000000000} << 16);
  const std::string keyed = "conn_" + [&] {
    char digits[17];
    std::snprintf(digits, sizeof digits, "%016llx", static_cast<unsigned long long>(keyed_row));
    return std::string(digits);
  }() + "0123456789abcdef";
  const std::string older = make_id("conn");
  {
    RawDatabase raw(path);
    raw.migrate_to(9); // as the release before opaque ids wrote it
    const std::string insert =
        "INSERT INTO connections (row_key, id, id_names_row, organization_id, slug, source_definition_id, "
        "workspace_id, state_hash, redirect_url, redirect_uri, sealed_code_verifier, flow_options_json, status, "
        "error_code, error_description, sealed_credentials, granted_scopes, token_expires_at, account_id, "
        "account_name, source_id, created_at, expires_at, updated_at, version, target_source_id, oauth_app_scope, "
        "plugin_build, state_names_connection) VALUES ";
    raw.execute(insert + "(7, '" + older + "', 0, 'org_a', 'github', 'def', '', 'hash-older', 'https://app/done', " +
                "'https://host/cb', x'', '{}', 'pending', '', '', x'', '', NULL, '', '', '', 1, 2, 1, 1, '', '', " +
                "'', 0)");
    raw.execute(insert + "(" + std::to_string(keyed_row) + ", '" + keyed +
                "', 1, 'org_a', 'github', 'def', '', 'hash-keyed', 'https://app/done', 'https://host/cb', x'00ff', " +
                "'{}', 'pending', '', '', x'', '', NULL, '', '', '', 1, 2, 1, 1, '', '', 'b1', 1)");
  }
  SqliteStore store(path);
  ASSERT_TRUE(store.find_flow("org_a", keyed));
  EXPECT_EQ(store.find_flow_by_id(keyed)->sealed_code_verifier, (std::vector<uint8_t>{0x00, 0xff}));
  ASSERT_TRUE(store.find_flow_by_id(older));
  EXPECT_EQ(store.find_flow_by_state_hash("hash-older")->id, older);

  const FlowRecord made_now = make_connection("org_a", make_id("conn"));
  store.insert_flow(made_now);
  expect_same_connection(*store.find_flow_by_id(made_now.id), made_now);
  RawDatabase raw(path);
  EXPECT_GT(key_of(raw, made_now.id), keyed_row);
  EXPECT_EQ(raw.integer("SELECT key_from_id FROM connections WHERE id = '" + made_now.id + "'"), 1);
  EXPECT_EQ(raw.integer("SELECT count(*) FROM pragma_table_info('connections') WHERE name = 'id_names_row'"), 0);
  EXPECT_EQ(raw.integer("SELECT max(version) FROM schema_migrations"), SqliteStore::latest_schema_version());
}

// --- Sources

TEST_F(SqliteStoreTest, DeletingASourceLeavesNoTraceOfItsCiphertextInTheFiles) {
  SourceRecord source = make_source("org_a", "ws_1", "src_1");
  const std::string marker = "SEALED-CREDENTIALS-MARKER-4f1c9e";
  source.sealed_credentials.assign(marker.begin(), marker.end());
  const auto files_contain_marker = [&] {
    for (const auto& file : {path, std::filesystem::path(path.string() + "-wal")}) {
      std::ifstream in(file, std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      if (bytes.find(marker) != std::string::npos) return true;
    }
    return false;
  };
  SqliteStore store(path);
  store.begin_batch();
  store.insert_source(source);
  store.commit_batch();
  ASSERT_TRUE(files_contain_marker()) << "the test must see the ciphertext before deleting it";

  store.begin_batch();
  EXPECT_TRUE(store.delete_source("org_a", "src_1"));
  EXPECT_FALSE(store.delete_source("org_a", "src_1"));
  store.commit_batch();
  EXPECT_FALSE(store.find_source("org_a", "src_1"));
  EXPECT_FALSE(files_contain_marker());
}

TEST_F(SqliteStoreTest, AVersionOneFileGainsTheTokenLifecycleColumnsWithDefaults) {
  std::filesystem::create_directories(path.parent_path());
  {
    RawDatabase raw(path);
    raw.migrate_to(1); // as the first release wrote it
    raw.execute("INSERT INTO sources (id, organization_id, workspace_id, source_definition_id, slug, name, "
                "configuration_json, connection_id, status, status_detail, sealed_credentials, granted_scopes, "
                "token_expires_at, created_at, updated_at, version) VALUES ('src_old', 'org_a', 'ws_1', 'def', "
                "'github', 'old', '{}', 'conn_1', 'active', '', x'01', 'repo', 1700003600, 1, 1, 1)");
  }
  SqliteStore store(path);
  const auto source = store.find_source("org_a", "src_old");
  ASSERT_TRUE(source);
  EXPECT_EQ(source->auth_type, "oauth2.0");
  EXPECT_EQ(source->oauth_app_scope, "");
  EXPECT_EQ(source->refresh_failures, 0);
  EXPECT_FALSE(source->refresh_lease_until);
  EXPECT_EQ(source->token_expires_at, 1700003600);
}

// Connections from before ids named their rows keep their ids, rowids and lookups after the
// table is rebuilt (migration 7) and after ids stop naming rows (migration 10).
TEST_F(SqliteStoreTest, AVersionSixFileKeepsItsConnectionsUnderTheirOldIds) {
  std::filesystem::create_directories(path.parent_path());
  const std::string named = make_id("conn");
  const std::string older = make_id("conn");
  int64_t named_rowid = 0;
  {
    RawDatabase raw(path);
    raw.migrate_to(6); // as the last release wrote it
    const std::string insert =
        "INSERT INTO connections (id, organization_id, slug, source_definition_id, workspace_id, state_hash, "
        "redirect_url, redirect_uri, sealed_code_verifier, flow_options_json, status, error_code, "
        "error_description, sealed_credentials, granted_scopes, token_expires_at, account_id, account_name, "
        "source_id, created_at, expires_at, updated_at, version, target_source_id, oauth_app_scope, plugin_build, "
        "state_names_connection) VALUES ";
    raw.execute(insert + "('" + named + "', 'org_a', 'github', 'def', '', 'hash-named', 'https://app/done', " +
                "'https://host/cb', x'00ff', '{}', 'pending', '', '', x'', '', NULL, '', '', '', 1, 2, 1, 1, '', " +
                "'', 'b1', 1)");
    raw.execute(insert + "('" + older + "', 'org_a', 'github', 'def', '', 'hash-older', 'https://app/done', " +
                "'https://host/cb', x'', '{}', 'pending', '', '', x'', '', NULL, '', '', '', 1, 2, 1, 1, '', '', " +
                "'', 0)");
    named_rowid = raw.integer("SELECT rowid FROM connections WHERE id = '" + named + "'");
  }
  SqliteStore store(path);
  ASSERT_TRUE(store.find_flow("org_a", named));
  EXPECT_EQ(store.find_flow_by_id(named)->sealed_code_verifier, (std::vector<uint8_t>{0x00, 0xff}));
  EXPECT_EQ(store.find_flow_by_id(named)->plugin_build, "b1");
  EXPECT_TRUE(store.find_flow_by_id(named)->state_names_connection);
  ASSERT_TRUE(store.find_flow_by_state_hash("hash-older"));
  EXPECT_EQ(store.find_flow_by_state_hash("hash-older")->id, older);
  EXPECT_FALSE(store.find_flow_by_state_hash("hash-named"));

  FlowRecord claimed = *store.find_flow_by_id(named);
  claimed.status = FlowStatus::authorized;
  ASSERT_TRUE(store.update_flow(claimed));
  EXPECT_EQ(store.find_flow("org_a", named)->status, FlowStatus::authorized);

  const FlowRecord made_now = make_connection("org_a", make_id("conn"));
  store.insert_flow(made_now);
  expect_same_connection(*store.find_flow_by_id(made_now.id), made_now);
  EXPECT_EQ(store.count_flows(), 3);
  EXPECT_THROW(store.insert_flow(make_connection("org_b", older)), StoreConflict) << "old ids stay unique";

  RawDatabase raw(path);
  EXPECT_EQ(raw.integer("SELECT row_key FROM connections WHERE id = '" + named + "'"), named_rowid);
  EXPECT_EQ(raw.integer("SELECT max(version) FROM schema_migrations"), SqliteStore::latest_schema_version());
}

// --- Transactions

// --- Several connections on one file

// --- Persistence and migrations

TEST_F(SqliteStoreTest, AFreshFileGetsTheLatestSchemaVersionOnce) {
  EXPECT_EQ(SqliteStore::schema_version(path), 0);
  EXPECT_FALSE(std::filesystem::exists(path)) << "checking the version must not create the file";
  ASSERT_GE(SqliteStore::latest_schema_version(), 1);

  const auto before = std::chrono::system_clock::now();
  { SqliteStore store(path); }
  EXPECT_EQ(SqliteStore::schema_version(path), SqliteStore::latest_schema_version());

  RawDatabase raw(path);
  EXPECT_EQ(raw.integer("SELECT COUNT(*) FROM schema_migrations"), SqliteStore::latest_schema_version());
  const int64_t applied_at = raw.integer("SELECT MIN(applied_at) FROM schema_migrations");
  EXPECT_GE(applied_at, std::chrono::duration_cast<std::chrono::seconds>(before.time_since_epoch()).count() - 1);

  { SqliteStore reopened(path); }
  SqliteStore::migrate(path);
  EXPECT_EQ(raw.integer("SELECT COUNT(*) FROM schema_migrations"), SqliteStore::latest_schema_version());
}

TEST_F(SqliteStoreTest, MigrateCreatesAndMigratesAFile) {
  SqliteStore::migrate(path);
  EXPECT_EQ(SqliteStore::schema_version(path), SqliteStore::latest_schema_version());
}

TEST_F(SqliteStoreTest, MigrateTellsOfEachStepItApplies) {
  constexpr int released = 5;
  std::filesystem::create_directories(path.parent_path());
  { RawDatabase(path).migrate_to(released); }
  std::vector<std::pair<int, int>> seen; // (version, steps done before it)
  int steps_told = -1;
  SqliteStore::migrate(path, [&](const SchemaMigration& step, int steps_done, int steps) {
    seen.emplace_back(step.version, steps_done);
    steps_told = steps;
    EXPECT_EQ(SqliteStore::schema_version(path), step.version - 1) << "told before the step, not after";
  });
  const int latest = SqliteStore::latest_schema_version();
  ASSERT_EQ(steps_told, latest - released);
  ASSERT_EQ(seen.size(), static_cast<std::size_t>(latest - released));
  for (int i = 0; i < latest - released; ++i)
    EXPECT_EQ(seen[static_cast<std::size_t>(i)], std::make_pair(released + 1 + i, i));

  seen.clear();
  SqliteStore::migrate(
      path, [&](const SchemaMigration& step, int steps_done, int) { seen.emplace_back(step.version, steps_done); });
  EXPECT_TRUE(seen.empty()) << "an up-to-date file has no step to tell of";
}

TEST_F(SqliteStoreTest, AFileFromANewerBuildIsRefusedAndLeftAlone) {
  { SqliteStore store(path); }
  const int future = SqliteStore::latest_schema_version() + 1;
  {
    RawDatabase raw(path);
    raw.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (" + std::to_string(future) + ", 0)");
  }
  try {
    SqliteStore store(path);
    FAIL() << "a database from a newer build was opened";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("newer"), std::string::npos) << error.what();
  }
  EXPECT_THROW(SqliteStore::migrate(path), std::runtime_error);
  EXPECT_EQ(SqliteStore::schema_version(path), future);
}

// The runner itself, with a made-up history: only newer steps run, each in its own
// transaction, and a failing step leaves the database at the step before.
TEST_F(SqliteStoreTest, MigrationsApplyOnlyNewStepsAndAFailedStepRollsBackAlone) {
  std::filesystem::create_directories(path.parent_path());
  RawDatabase raw(path);
  const SchemaMigration two_steps[] = {{1, "one", "CREATE TABLE one (x INTEGER)"},
                                       {2, "two", "CREATE TABLE two (x INTEGER)"}};
  apply_schema_migrations(raw.handle(), two_steps);
  EXPECT_EQ(read_schema_version(raw.handle()), 2);

  const SchemaMigration broken_third[] = {
      {1, "one", "CREATE TABLE one (x INTEGER)"}, // would fail if it ran again
      {2, "two", "CREATE TABLE two (x INTEGER)"},
      {3, "three", "CREATE TABLE three (x INTEGER); INSERT INTO no_such_table VALUES (1)"}};
  try {
    apply_schema_migrations(raw.handle(), broken_third);
    FAIL() << "a failing migration was reported as applied";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("schema migration 3 (three) failed"), std::string::npos) << error.what();
  }
  EXPECT_EQ(read_schema_version(raw.handle()), 2);
  EXPECT_EQ(raw.text("SELECT name FROM sqlite_master WHERE name = 'three'"), "") << "step 3 was half applied";

  const SchemaMigration fixed_third[] = {{1, "one", ""}, {2, "two", ""}, {3, "three", "CREATE TABLE three (x)"}};
  apply_schema_migrations(raw.handle(), fixed_third);
  EXPECT_EQ(read_schema_version(raw.handle()), 3);
  EXPECT_EQ(raw.text("SELECT name FROM sqlite_master WHERE name = 'three'"), "three");

  const SchemaMigration unordered[] = {{2, "two", ""}, {1, "one", ""}};
  EXPECT_THROW(apply_schema_migrations(raw.handle(), unordered), std::logic_error);
}

TEST_F(SqliteStoreTest, AnUnknownStatusInARowIsRefusedRatherThanGuessed) {
  SqliteStore store(path);
  store.insert_flow(make_connection("org_a", "conn_1"));
  RawDatabase(path).execute("UPDATE connections SET status = 'teleported'");
  EXPECT_THROW(store.find_flow("org_a", "conn_1"), std::runtime_error);
}

TEST_F(SqliteStoreTest, EveryChangeToKeysOrAppsMovesTheCacheGenerationAndNothingElseDoes) {
  SqliteStore store(path);
  const int64_t start = store.cache_generation();
  store.insert_api_key(make_api_key("key_1", "org_a", "hash-1"));
  EXPECT_EQ(store.cache_generation(), start + 1);
  EXPECT_TRUE(store.revoke_api_key("key_1", 1800000000));
  EXPECT_EQ(store.cache_generation(), start + 2);

  store.insert_workspace(make_workspace("org_a", "ws_1"));
  EXPECT_EQ(store.cache_generation(), start + 2) << "workspaces are not cached";
  store.put_oauth_app({"org_a", "ws:ws_1", "github", "client-ws", {0x01}, 1, 1});
  EXPECT_EQ(store.cache_generation(), start + 3);
  store.put_oauth_app({"org_a", "ws:ws_1", "github", "client-ws-2", {0x02}, 1, 2});
  EXPECT_GT(store.cache_generation(), start + 3); // a replace: delete and insert, or an update
  const int64_t replaced = store.cache_generation();
  EXPECT_TRUE(store.delete_workspace("org_a", "ws_1")); // takes the workspace's app with it
  EXPECT_EQ(store.cache_generation(), replaced + 1);

  // Another process (the CLI) writing to the file moves it too.
  RawDatabase raw(path);
  raw.execute("UPDATE api_keys SET name = 'renamed' WHERE id = 'key_1'");
  EXPECT_EQ(store.cache_generation(), replaced + 2);
}
