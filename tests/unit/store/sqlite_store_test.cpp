#include "oauth/ids.hpp"
#include "store/migrations.hpp"
#include "store/sqlite_store.hpp"
#include "support/flow_ids.hpp"
#include "support/temp_dir.hpp"

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

ApiKeyRecord make_api_key(const std::string& id, const std::string& organization_id, const std::string& key_hash) {
  ApiKeyRecord key;
  key.id = id;
  key.organization_id = organization_id;
  key.name = "name of " + id;
  key.key_hash = key_hash;
  key.permissions = "sources credentials:read";
  key.created_at = 1700000000;
  return key;
}

WorkspaceRecord make_workspace(const std::string& organization_id, const std::string& id) {
  return WorkspaceRecord{id, organization_id, "workspace " + id, 1700000001, 1700000002};
}

// Every field set to something distinct from its default, so a lost column shows.
FlowRecord make_connection(const std::string& organization_id, const std::string& id) {
  FlowRecord connection;
  connection.id = id;
  connection.organization_id = organization_id;
  connection.slug = "github";
  connection.source_definition_id = "def_github";
  connection.workspace_id = "ws_1";
  connection.state_hash = "state-hash-of-" + id;
  connection.client_redirect_url = "https://app.example/done";
  connection.callback_uri = "https://host.example/oauth/callback";
  connection.sealed_code_verifier = {0x01, 0x00, 0xff, 0x00, 0x7f}; // zero bytes inside: binary, not text
  connection.flow_options_json = R"({"scopes":["repo"]})";
  connection.status = FlowStatus::authorized;
  connection.error_code = "e_code";
  connection.error_description = "e description";
  connection.sealed_credentials = {0x01, 0x02, 0x00, 0x03};
  connection.granted_scopes = "repo read:user";
  connection.token_expires_at = 1700003600;
  connection.account_id = "acct_1";
  connection.account_name = "Octo Cat";
  connection.source_id = "src_1";
  connection.target_source_id = "src_0";
  connection.oauth_app_scope = "org";
  connection.plugin_build = "0123abcd";
  connection.created_at = 1700000000;
  connection.expires_at = 1700000600;
  connection.updated_at = 1700000010;
  connection.version = 1;
  return connection;
}

SourceRecord make_source(const std::string& organization_id, const std::string& workspace_id, const std::string& id) {
  SourceRecord source;
  source.id = id;
  source.organization_id = organization_id;
  source.workspace_id = workspace_id;
  source.source_definition_id = "def_sheets";
  source.slug = "google-sheets";
  source.name = "sheet " + id;
  source.configuration_json = R"({"spreadsheet":"abc"})";
  source.connection_id = "conn_" + id;
  source.status = "active";
  source.status_detail = "fine";
  source.sealed_credentials = {0x01, 0x00, 0x09};
  source.granted_scopes = "spreadsheets.readonly";
  source.token_expires_at = 1700007200;
  source.auth_type = "oauth2.0";
  source.oauth_app_scope = "ws:ws_1";
  source.refresh_lease_owner = "host_x";
  source.refresh_lease_until = 1700000100;
  source.refresh_failures = 2;
  source.next_refresh_at = 1700000200;
  source.last_refreshed_at = 1700000050;
  source.last_refresh_error_json = R"({"code":"timeout"})";
  source.created_at = 1700000000;
  source.updated_at = 1700000005;
  source.version = 1;
  return source;
}

void expect_same_connection(const FlowRecord& actual, const FlowRecord& expected) {
  EXPECT_EQ(actual.id, expected.id);
  EXPECT_EQ(actual.organization_id, expected.organization_id);
  EXPECT_EQ(actual.slug, expected.slug);
  EXPECT_EQ(actual.source_definition_id, expected.source_definition_id);
  EXPECT_EQ(actual.workspace_id, expected.workspace_id);
  EXPECT_EQ(actual.state_hash, expected.state_hash);
  EXPECT_EQ(actual.client_redirect_url, expected.client_redirect_url);
  EXPECT_EQ(actual.callback_uri, expected.callback_uri);
  EXPECT_EQ(actual.sealed_code_verifier, expected.sealed_code_verifier);
  EXPECT_EQ(actual.flow_options_json, expected.flow_options_json);
  EXPECT_EQ(actual.status, expected.status);
  EXPECT_EQ(actual.error_code, expected.error_code);
  EXPECT_EQ(actual.error_description, expected.error_description);
  EXPECT_EQ(actual.sealed_credentials, expected.sealed_credentials);
  EXPECT_EQ(actual.granted_scopes, expected.granted_scopes);
  EXPECT_EQ(actual.token_expires_at, expected.token_expires_at);
  EXPECT_EQ(actual.account_id, expected.account_id);
  EXPECT_EQ(actual.account_name, expected.account_name);
  EXPECT_EQ(actual.source_id, expected.source_id);
  EXPECT_EQ(actual.target_source_id, expected.target_source_id);
  EXPECT_EQ(actual.oauth_app_scope, expected.oauth_app_scope);
  EXPECT_EQ(actual.plugin_build, expected.plugin_build);
  EXPECT_EQ(actual.state_names_connection, expected.state_names_connection);
  EXPECT_EQ(actual.created_at, expected.created_at);
  EXPECT_EQ(actual.expires_at, expected.expires_at);
  EXPECT_EQ(actual.updated_at, expected.updated_at);
  EXPECT_EQ(actual.version, expected.version);
}

void expect_same_source(const SourceRecord& actual, const SourceRecord& expected) {
  EXPECT_EQ(actual.id, expected.id);
  EXPECT_EQ(actual.organization_id, expected.organization_id);
  EXPECT_EQ(actual.workspace_id, expected.workspace_id);
  EXPECT_EQ(actual.source_definition_id, expected.source_definition_id);
  EXPECT_EQ(actual.slug, expected.slug);
  EXPECT_EQ(actual.name, expected.name);
  EXPECT_EQ(actual.configuration_json, expected.configuration_json);
  EXPECT_EQ(actual.connection_id, expected.connection_id);
  EXPECT_EQ(actual.status, expected.status);
  EXPECT_EQ(actual.status_detail, expected.status_detail);
  EXPECT_EQ(actual.sealed_credentials, expected.sealed_credentials);
  EXPECT_EQ(actual.granted_scopes, expected.granted_scopes);
  EXPECT_EQ(actual.token_expires_at, expected.token_expires_at);
  EXPECT_EQ(actual.auth_type, expected.auth_type);
  EXPECT_EQ(actual.oauth_app_scope, expected.oauth_app_scope);
  EXPECT_EQ(actual.refresh_lease_owner, expected.refresh_lease_owner);
  EXPECT_EQ(actual.refresh_lease_until, expected.refresh_lease_until);
  EXPECT_EQ(actual.refresh_failures, expected.refresh_failures);
  EXPECT_EQ(actual.next_refresh_at, expected.next_refresh_at);
  EXPECT_EQ(actual.last_refreshed_at, expected.last_refreshed_at);
  EXPECT_EQ(actual.last_refresh_error_json, expected.last_refresh_error_json);
  EXPECT_EQ(actual.created_at, expected.created_at);
  EXPECT_EQ(actual.updated_at, expected.updated_at);
  EXPECT_EQ(actual.version, expected.version);
}

template <typename Record> std::vector<std::string> ids_of(const std::vector<Record>& records) {
  std::vector<std::string> ids;
  ids.reserve(records.size());
  for (const Record& record : records)
    ids.push_back(record.id);
  return ids;
}

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

TEST_F(SqliteStoreTest, ApiKeysRoundTripAndAreFoundByHashOnly) {
  SqliteStore store(path);
  ApiKeyRecord key = make_api_key("key_1", "org_a", "hash-1");
  key.last_used_at = 1700000500;
  store.insert_api_key(key);

  const std::optional<ApiKeyRecord> found = store.find_api_key_by_hash("hash-1");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->id, "key_1");
  EXPECT_EQ(found->organization_id, "org_a");
  EXPECT_EQ(found->name, key.name);
  EXPECT_EQ(found->key_hash, "hash-1");
  EXPECT_EQ(found->permissions, key.permissions);
  EXPECT_EQ(found->created_at, key.created_at);
  EXPECT_EQ(found->revoked_at, std::nullopt);
  EXPECT_EQ(found->last_used_at, 1700000500);
  EXPECT_FALSE(store.find_api_key_by_hash("hash-2"));
  EXPECT_FALSE(store.find_api_key_by_hash("key_1")); // the id is not a hash
}

TEST_F(SqliteStoreTest, ListsApiKeysOfOneOrganizationOrAll) {
  SqliteStore store(path);
  store.insert_api_key(make_api_key("key_b", "org_a", "h1"));
  store.insert_api_key(make_api_key("key_a", "org_a", "h2"));
  store.insert_api_key(make_api_key("key_c", "org_b", "h3"));

  EXPECT_EQ(ids_of(store.list_api_keys("org_a")), (std::vector<std::string>{"key_a", "key_b"}));
  EXPECT_EQ(ids_of(store.list_api_keys("org_b")), (std::vector<std::string>{"key_c"}));
  EXPECT_TRUE(store.list_api_keys("org_nobody").empty());
  EXPECT_EQ(ids_of(store.list_api_keys("")), (std::vector<std::string>{"key_a", "key_b", "key_c"}));
}

TEST_F(SqliteStoreTest, RevokingKeepsTheFirstTimeAndReportsUnknownKeys) {
  SqliteStore store(path);
  store.insert_api_key(make_api_key("key_1", "org_a", "h1"));
  store.insert_api_key(make_api_key("key_2", "org_a", "h2"));

  EXPECT_TRUE(store.revoke_api_key("key_1", 1800000000));
  EXPECT_TRUE(store.revoke_api_key("key_1", 1900000000));
  EXPECT_FALSE(store.revoke_api_key("key_missing", 1800000000));

  EXPECT_EQ(store.find_api_key_by_hash("h1")->revoked_at, 1800000000);
  EXPECT_EQ(store.find_api_key_by_hash("h2")->revoked_at, std::nullopt);
}

TEST_F(SqliteStoreTest, DuplicateKeyHashOrIdIsAConflictThatNamesNoValue) {
  SqliteStore store(path);
  store.insert_api_key(make_api_key("key_1", "org_a", "secret-looking-hash"));
  try {
    store.insert_api_key(make_api_key("key_2", "org_b", "secret-looking-hash"));
    FAIL() << "a duplicate key hash was accepted";
  } catch (const StoreConflict& conflict) {
    EXPECT_NE(std::string(conflict.what()).find("api_keys.key_hash"), std::string::npos) << conflict.what();
    EXPECT_EQ(std::string(conflict.what()).find("secret-looking-hash"), std::string::npos) << conflict.what();
  }
  EXPECT_THROW(store.insert_api_key(make_api_key("key_1", "org_a", "other-hash")), StoreConflict);
  EXPECT_EQ(store.list_api_keys("").size(), 1U);
}

// --- Redirect allow-list

TEST_F(SqliteStoreTest, AllowedRedirectsAreIdempotentAndPerOrganization) {
  SqliteStore store(path);
  store.add_allowed_redirect({"org_a", "https://b.example/cb", 1700000000});
  store.add_allowed_redirect({"org_a", "https://a.example/cb", 1700000001});
  store.add_allowed_redirect({"org_a", "https://a.example/cb", 1700000099}); // again: no error, no change
  store.add_allowed_redirect({"org_b", "https://c.example/cb", 1700000002});

  const std::vector<AllowedRedirectRecord> org_a = store.list_allowed_redirects("org_a");
  ASSERT_EQ(org_a.size(), 2U);
  EXPECT_EQ(org_a[0].url, "https://a.example/cb");
  EXPECT_EQ(org_a[0].organization_id, "org_a");
  EXPECT_EQ(org_a[0].created_at, 1700000001);
  EXPECT_EQ(org_a[1].url, "https://b.example/cb");

  EXPECT_FALSE(store.remove_allowed_redirect("org_b", "https://a.example/cb")); // not org_b's to remove
  EXPECT_TRUE(store.remove_allowed_redirect("org_a", "https://a.example/cb"));
  EXPECT_FALSE(store.remove_allowed_redirect("org_a", "https://a.example/cb"));
  EXPECT_EQ(store.list_allowed_redirects("org_a").size(), 1U);
  EXPECT_EQ(store.list_allowed_redirects("org_b").size(), 1U);
}

// --- Workspaces and pagination

TEST_F(SqliteStoreTest, WorkspacesAreFoundOnlyWithinTheirOrganization) {
  SqliteStore store(path);
  store.insert_workspace(make_workspace("org_a", "ws_1"));

  const std::optional<WorkspaceRecord> found = store.find_workspace("org_a", "ws_1");
  ASSERT_TRUE(found);
  EXPECT_EQ(found->name, "workspace ws_1");
  EXPECT_EQ(found->created_at, 1700000001);
  EXPECT_EQ(found->updated_at, 1700000002);
  EXPECT_FALSE(store.find_workspace("org_b", "ws_1"));
  EXPECT_FALSE(store.find_workspace("org_a", "ws_2"));
  EXPECT_THROW(store.insert_workspace(make_workspace("org_b", "ws_1")), StoreConflict);
}

TEST_F(SqliteStoreTest, PagesFollowIdsAndEndWithoutAnEmptyExtraPage) {
  SqliteStore store(path);
  for (const char* id : {"ws_d", "ws_b", "ws_a", "ws_c"})
    store.insert_workspace(make_workspace("org_a", id));
  store.insert_workspace(make_workspace("org_b", "ws_bb")); // sorts among them, must never appear

  const Page<WorkspaceRecord> first = store.list_workspaces("org_a", 2, "");
  EXPECT_EQ(ids_of(first.items), (std::vector<std::string>{"ws_a", "ws_b"}));
  EXPECT_EQ(first.next_after, "ws_b");

  const Page<WorkspaceRecord> second = store.list_workspaces("org_a", 2, first.next_after);
  EXPECT_EQ(ids_of(second.items), (std::vector<std::string>{"ws_c", "ws_d"}));
  EXPECT_EQ(second.next_after, ""); // exactly full, and nothing after it

  const Page<WorkspaceRecord> odd = store.list_workspaces("org_a", 3, "ws_a"); // `after` is exclusive
  EXPECT_EQ(ids_of(odd.items), (std::vector<std::string>{"ws_b", "ws_c", "ws_d"}));
  EXPECT_EQ(odd.next_after, "");

  EXPECT_TRUE(store.list_workspaces("org_a", 2, "ws_d").items.empty());
  EXPECT_TRUE(store.list_workspaces("org_nobody", 2, "").items.empty());
}

TEST_F(SqliteStoreTest, PageLimitIsClampedBetweenOneAndTwoHundred) {
  SqliteStore store(path);
  for (int i = 0; i < 205; ++i) {
    char id[16];
    std::snprintf(id, sizeof id, "ws_%03d", i);
    store.insert_workspace(make_workspace("org_a", id));
  }
  for (const int limit : {0, -5}) {
    const Page<WorkspaceRecord> page = store.list_workspaces("org_a", limit, "");
    EXPECT_EQ(ids_of(page.items), (std::vector<std::string>{"ws_000"})) << "limit " << limit;
    EXPECT_EQ(page.next_after, "ws_000");
  }
  const Page<WorkspaceRecord> huge = store.list_workspaces("org_a", 100000, "");
  ASSERT_EQ(huge.items.size(), 200U);
  EXPECT_EQ(huge.next_after, "ws_199");
  const Page<WorkspaceRecord> rest = store.list_workspaces("org_a", 200, huge.next_after);
  EXPECT_EQ(rest.items.size(), 5U);
  EXPECT_EQ(rest.next_after, "");
}

// --- Connections

TEST_F(SqliteStoreTest, ConnectionsRoundTripEveryField) {
  SqliteStore store(path);
  const FlowRecord connection = make_connection("org_a", "conn_1");
  store.insert_flow(connection);

  const std::optional<FlowRecord> by_id = store.find_flow("org_a", "conn_1");
  ASSERT_TRUE(by_id);
  expect_same_connection(*by_id, connection);
  const std::optional<FlowRecord> by_state = store.find_flow_by_state_hash(connection.state_hash);
  ASSERT_TRUE(by_state);
  expect_same_connection(*by_state, connection);
}

// New flows are found by id (their state names them); only older flows by the state's hash,
// through an index that holds only them.
TEST_F(SqliteStoreTest, OnlyOlderFlowsAreFoundByStateHash) {
  SqliteStore store(path);
  FlowRecord named = make_connection("org_a", "conn_named");
  named.state_names_connection = true;
  store.insert_flow(named);
  FlowRecord older = make_connection("org_a", "conn_older");
  older.state_hash = "an-older-state-hash";
  store.insert_flow(older);

  ASSERT_TRUE(store.find_flow_by_id("conn_named"));
  expect_same_connection(*store.find_flow_by_id("conn_named"), named);
  EXPECT_FALSE(store.find_flow_by_state_hash(named.state_hash));
  ASSERT_TRUE(store.find_flow_by_state_hash("an-older-state-hash"));
  EXPECT_EQ(store.find_flow_by_state_hash("an-older-state-hash")->id, "conn_older");
  EXPECT_FALSE(store.find_flow_by_id("conn_absent"));
}

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

TEST_F(SqliteStoreTest, ConnectionEmptyAndAbsentValuesRoundTrip) {
  SqliteStore store(path);
  FlowRecord connection = make_connection("org_a", "conn_1");
  connection.sealed_code_verifier.clear();
  connection.sealed_credentials.clear();
  connection.token_expires_at.reset();
  connection.source_id.clear();
  connection.status = FlowStatus::pending;
  store.insert_flow(connection);
  expect_same_connection(*store.find_flow("org_a", "conn_1"), connection);
}

TEST_F(SqliteStoreTest, EveryConnectionStatusRoundTrips) {
  SqliteStore store(path);
  int n = 0;
  for (const FlowStatus status :
       {FlowStatus::pending, FlowStatus::authorized, FlowStatus::failed, FlowStatus::consumed, FlowStatus::expired}) {
    FlowRecord connection = make_connection("org_a", "conn_" + std::to_string(n++));
    connection.status = status;
    store.insert_flow(connection);
    EXPECT_EQ(store.find_flow("org_a", connection.id)->status, status) << to_string(status);
    EXPECT_EQ(flow_status_from(to_string(status)), status);
  }
  EXPECT_EQ(flow_status_from("authorised"), std::nullopt);
}

TEST_F(SqliteStoreTest, ConnectionsAreInvisibleToOtherOrganizations) {
  SqliteStore store(path);
  store.insert_flow(make_connection("org_a", "conn_1"));
  EXPECT_FALSE(store.find_flow("org_b", "conn_1"));
  EXPECT_FALSE(store.find_flow("org_a", "conn_2"));
  EXPECT_FALSE(store.find_flow_by_state_hash("unknown"));

  FlowRecord hijack = *store.find_flow("org_a", "conn_1");
  hijack.organization_id = "org_b";
  hijack.status = FlowStatus::failed;
  EXPECT_FALSE(store.update_flow(hijack));
  EXPECT_EQ(store.find_flow("org_a", "conn_1")->status, FlowStatus::authorized);
}

TEST_F(SqliteStoreTest, DuplicateStateHashOrConnectionIdIsAConflict) {
  SqliteStore store(path);
  store.insert_flow(make_connection("org_a", "conn_1"));
  FlowRecord same_state = make_connection("org_b", "conn_2");
  same_state.state_hash = "state-hash-of-conn_1";
  EXPECT_THROW(store.insert_flow(same_state), StoreConflict);
  EXPECT_THROW(store.insert_flow(make_connection("org_b", "conn_1")), StoreConflict);
  EXPECT_EQ(store.count_flows(), 1);
}

TEST_F(SqliteStoreTest, ConnectionUpdateIsACompareAndSwapOnVersion) {
  SqliteStore store(path);
  store.insert_flow(make_connection("org_a", "conn_1"));

  FlowRecord first = *store.find_flow("org_a", "conn_1");
  FlowRecord stale = first;
  first.status = FlowStatus::consumed;
  first.sealed_credentials = {0x09, 0x08};
  first.token_expires_at.reset();
  first.source_id = "src_new";
  first.updated_at = 1700009999;
  ASSERT_TRUE(store.update_flow(first));

  FlowRecord stored = *store.find_flow("org_a", "conn_1");
  EXPECT_EQ(stored.version, 2);
  first.version = 2;
  expect_same_connection(stored, first);

  stale.status = FlowStatus::failed; // read before the update: must lose
  EXPECT_FALSE(store.update_flow(stale));
  EXPECT_EQ(store.find_flow("org_a", "conn_1")->status, FlowStatus::consumed);
  EXPECT_EQ(store.find_flow("org_a", "conn_1")->version, 2);

  stored.status = FlowStatus::expired; // read after it: wins
  EXPECT_TRUE(store.update_flow(stored));
  EXPECT_EQ(store.find_flow("org_a", "conn_1")->version, 3);

  EXPECT_FALSE(store.update_flow(make_connection("org_a", "conn_missing")));
}

TEST_F(SqliteStoreTest, UpdateKeepsIdentityAndCreationTime) {
  SqliteStore store(path);
  store.insert_flow(make_connection("org_a", "conn_1"));
  FlowRecord changed = *store.find_flow("org_a", "conn_1");
  changed.created_at = 1;
  ASSERT_TRUE(store.update_flow(changed));
  EXPECT_EQ(store.find_flow("org_a", "conn_1")->created_at, 1700000000);
}

TEST_F(SqliteStoreTest, CountsConnections) {
  SqliteStore store(path);
  EXPECT_EQ(store.count_flows(), 0);
  for (int i = 0; i < 3; ++i) {
    store.insert_flow(make_connection("org_" + std::to_string(i), "conn_" + std::to_string(i)));
  }
  EXPECT_EQ(store.count_flows(), 3);
}

// --- Sources

TEST_F(SqliteStoreTest, SourcesRoundTripAndStayInTheirOrganization) {
  SqliteStore store(path);
  const SourceRecord source = make_source("org_a", "ws_1", "src_1");
  store.insert_source(source);
  const std::optional<SourceRecord> found = store.find_source("org_a", "src_1");
  ASSERT_TRUE(found);
  expect_same_source(*found, source);
  EXPECT_FALSE(store.find_source("org_b", "src_1"));
  EXPECT_FALSE(store.find_source("org_a", "src_2"));
  EXPECT_THROW(store.insert_source(make_source("org_b", "ws_9", "src_1")), StoreConflict);
}

TEST_F(SqliteStoreTest, ListsSourcesOfAWorkspaceOrOfTheWholeOrganization) {
  SqliteStore store(path);
  store.insert_source(make_source("org_a", "ws_1", "src_c"));
  store.insert_source(make_source("org_a", "ws_2", "src_b"));
  store.insert_source(make_source("org_a", "ws_1", "src_a"));
  store.insert_source(make_source("org_b", "ws_1", "src_ab")); // same workspace id, other organization

  EXPECT_EQ(ids_of(store.list_sources("org_a", "ws_1", 10, "").items), (std::vector<std::string>{"src_a", "src_c"}));
  EXPECT_EQ(ids_of(store.list_sources("org_a", "ws_2", 10, "").items), (std::vector<std::string>{"src_b"}));
  EXPECT_EQ(ids_of(store.list_sources("org_a", "", 10, "").items),
            (std::vector<std::string>{"src_a", "src_b", "src_c"}));
  EXPECT_EQ(ids_of(store.list_sources("org_b", "", 10, "").items), (std::vector<std::string>{"src_ab"}));

  const Page<SourceRecord> first = store.list_sources("org_a", "", 2, "");
  EXPECT_EQ(ids_of(first.items), (std::vector<std::string>{"src_a", "src_b"}));
  EXPECT_EQ(first.next_after, "src_b");
  const Page<SourceRecord> second = store.list_sources("org_a", "", 2, first.next_after);
  EXPECT_EQ(ids_of(second.items), (std::vector<std::string>{"src_c"}));
  EXPECT_EQ(second.next_after, "");

  const Page<SourceRecord> in_workspace = store.list_sources("org_a", "ws_1", 1, "");
  EXPECT_EQ(ids_of(in_workspace.items), (std::vector<std::string>{"src_a"}));
  EXPECT_EQ(in_workspace.next_after, "src_a");
  EXPECT_EQ(ids_of(store.list_sources("org_a", "ws_1", 1, "src_a").items), (std::vector<std::string>{"src_c"}));
}

TEST_F(SqliteStoreTest, SourceUpdateIsACompareAndSwapOnVersion) {
  SqliteStore store(path);
  store.insert_source(make_source("org_a", "ws_1", "src_1"));
  SourceRecord fresh = *store.find_source("org_a", "src_1");
  SourceRecord stale = fresh;

  fresh.status = "needs_reauth";
  fresh.sealed_credentials = {0x07};
  fresh.token_expires_at.reset();
  ASSERT_TRUE(store.update_source(fresh));
  fresh.version = 2;
  expect_same_source(*store.find_source("org_a", "src_1"), fresh);

  stale.status = "active";
  EXPECT_FALSE(store.update_source(stale));
  EXPECT_EQ(store.find_source("org_a", "src_1")->status, "needs_reauth");

  SourceRecord other_organization = fresh;
  other_organization.organization_id = "org_b";
  EXPECT_FALSE(store.update_source(other_organization));
  EXPECT_EQ(store.find_source("org_a", "src_1")->version, 2);
}

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

TEST_F(SqliteStoreTest, WorkspacesAreRenamedCountedAndDeletedWithTheirOwnApps) {
  SqliteStore store(path);
  store.insert_workspace(make_workspace("org_a", "ws_1"));
  store.insert_source(make_source("org_a", "ws_1", "src_1"));
  store.insert_source(make_source("org_b", "ws_1", "src_2")); // same id elsewhere: not counted
  EXPECT_EQ(store.count_sources_in_workspace("org_a", "ws_1"), 1);

  WorkspaceRecord renamed = make_workspace("org_a", "ws_1");
  renamed.name = "renamed";
  renamed.updated_at = 1800000000;
  EXPECT_TRUE(store.update_workspace(renamed));
  EXPECT_EQ(store.find_workspace("org_a", "ws_1")->name, "renamed");
  renamed.organization_id = "org_b";
  EXPECT_FALSE(store.update_workspace(renamed));

  store.put_oauth_app({"org_a", "ws:ws_1", "github", "client-ws", {0x01}, 1, 1});
  store.put_oauth_app({"org_a", "org", "github", "client-org", {0x02}, 1, 1});
  EXPECT_FALSE(store.delete_workspace("org_b", "ws_1"));
  EXPECT_TRUE(store.delete_workspace("org_a", "ws_1"));
  EXPECT_FALSE(store.find_workspace("org_a", "ws_1"));
  EXPECT_FALSE(store.find_oauth_app("org_a", "ws:ws_1", "github"));
  EXPECT_TRUE(store.find_oauth_app("org_a", "org", "github")) << "the organization's app stays";
}

TEST_F(SqliteStoreTest, OAuthAppsAreReplacedInPlaceAndKeyedByOrganizationScopeAndSlug) {
  SqliteStore store(path);
  store.put_oauth_app({"org_a", "org", "github", "client-1", {0x01, 0x00}, 100, 100});
  store.put_oauth_app({"org_a", "org", "github", "client-2", {0x02}, 200, 200});
  store.put_oauth_app({"org_a", "org", "google-sheets", "client-3", {0x03}, 300, 300});
  const auto app = store.find_oauth_app("org_a", "org", "github");
  ASSERT_TRUE(app);
  EXPECT_EQ(app->client_id, "client-2");
  EXPECT_EQ(app->sealed_configuration, (std::vector<uint8_t>{0x02}));
  EXPECT_EQ(app->created_at, 100) << "replacing keeps the creation time";
  EXPECT_EQ(app->updated_at, 200);
  EXPECT_FALSE(store.find_oauth_app("org_b", "org", "github"));
  EXPECT_EQ(store.list_oauth_apps("org_a", "org").size(), 2U);
  EXPECT_TRUE(store.list_oauth_apps("org_a", "ws:ws_1").empty());
  EXPECT_TRUE(store.delete_oauth_app("org_a", "org", "github"));
  EXPECT_FALSE(store.delete_oauth_app("org_a", "org", "github"));
}

TEST_F(SqliteStoreTest, SourcesDueForRefreshAreActiveOAuthExpiringUnleasedAndNotCoolingDown) {
  SqliteStore store(path);
  const int64_t now = 1700000000;
  const auto add = [&](const std::string& id, int64_t expires_in, auto&& adjust) {
    SourceRecord source = make_source("org_" + id, "ws_1", id);
    source.token_expires_at = now + expires_in;
    source.refresh_lease_until.reset();
    source.next_refresh_at.reset();
    adjust(source);
    store.insert_source(source);
  };
  const auto unchanged = [](SourceRecord&) {};
  add("src_due_late", 500, unchanged);
  add("src_due_soon", 100, unchanged);
  add("src_not_due", 5000, unchanged);
  add("src_needs_reauth", 100, [](SourceRecord& s) { s.status = "needs_reauth"; });
  add("src_token_only", 100, [](SourceRecord& s) { s.auth_type = "access_token"; });
  add("src_no_expiry", 0, [](SourceRecord& s) { s.token_expires_at.reset(); });
  add("src_cooling", 100, [&](SourceRecord& s) { s.next_refresh_at = now + 60; });
  add("src_cooled", 100, [&](SourceRecord& s) { s.next_refresh_at = now - 1; });
  add("src_leased", 100, [&](SourceRecord& s) { s.refresh_lease_until = now + 30; });
  add("src_lease_lapsed", 100, [&](SourceRecord& s) { s.refresh_lease_until = now; });

  const auto due = store.list_sources_due_for_refresh(now + 600, now, 100);
  std::vector<std::string> ids = ids_of(due);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<std::string>{"src_cooled", "src_due_late", "src_due_soon", "src_lease_lapsed"}));
  EXPECT_EQ(due.back().id, "src_due_late") << "soonest first";
  EXPECT_EQ(store.list_sources_due_for_refresh(now + 600, now, 1).size(), 1U);
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

TEST_F(SqliteStoreTest, ARolledBackJobLeavesTheRestOfItsBatch) {
  {
    SqliteStore store(path);
    store.begin_batch();
    store.begin_job(JobUndo::savepoint);
    store.insert_workspace(make_workspace("org_a", "ws_kept"));
    store.end_job(true);
    store.begin_job(JobUndo::savepoint);
    store.insert_workspace(make_workspace("org_a", "ws_dropped"));
    store.end_job(false);
    store.commit_batch();
  }
  SqliteStore reopened(path);
  EXPECT_TRUE(reopened.find_workspace("org_a", "ws_kept"));
  EXPECT_FALSE(reopened.find_workspace("org_a", "ws_dropped"));
}

TEST_F(SqliteStoreTest, ARolledBackBatchLeavesNothing) {
  SqliteStore store(path);
  store.begin_batch();
  store.begin_job(JobUndo::savepoint);
  store.insert_workspace(make_workspace("org_a", "ws_1"));
  store.end_job(true);
  store.rollback_batch();
  EXPECT_FALSE(store.find_workspace("org_a", "ws_1"));
  store.rollback_batch(); // twice, or without a batch: harmless
}

TEST_F(SqliteStoreTest, CommitWithoutABatchThrows) {
  SqliteStore store(path);
  EXPECT_THROW(store.commit_batch(), std::runtime_error);
}

TEST_F(SqliteStoreTest, OtherConnectionsSeeABatchOnlyOnceCommitted) {
  SqliteStore first(path);
  SqliteStore second(path);
  first.begin_batch();
  first.insert_workspace(make_workspace("org_a", "ws_1"));
  EXPECT_FALSE(second.find_workspace("org_a", "ws_1")); // readers see the last commit, not the open batch
  first.commit_batch();
  EXPECT_TRUE(second.find_workspace("org_a", "ws_1"));
}

// --- Several connections on one file

TEST_F(SqliteStoreTest, TwoStoresOnOneFileSeeEachOthersWrites) {
  SqliteStore first(path);
  SqliteStore second(path);
  first.insert_workspace(make_workspace("org_a", "ws_1"));
  second.insert_source(make_source("org_a", "ws_1", "src_1"));
  EXPECT_TRUE(second.find_workspace("org_a", "ws_1"));
  EXPECT_TRUE(first.find_source("org_a", "src_1"));
  EXPECT_THROW(second.insert_workspace(make_workspace("org_a", "ws_1")), StoreConflict);
}

TEST_F(SqliteStoreTest, CompareAndSwapAcrossTwoStoresHasExactlyOneWinner) {
  SqliteStore first(path);
  SqliteStore second(path);
  first.insert_flow(make_connection("org_a", "conn_1"));

  FlowRecord by_first = *first.find_flow("org_a", "conn_1");
  FlowRecord by_second = *second.find_flow("org_a", "conn_1");
  by_first.account_name = "first";
  by_second.account_name = "second";
  const bool first_won = first.update_flow(by_first);
  const bool second_won = second.update_flow(by_second);
  EXPECT_NE(first_won, second_won);
  EXPECT_EQ(second.find_flow("org_a", "conn_1")->account_name, first_won ? "first" : "second");
  EXPECT_EQ(first.find_flow("org_a", "conn_1")->version, 2);
}

// --- Persistence and migrations

TEST_F(SqliteStoreTest, DataSurvivesReopening) {
  {
    SqliteStore store(path);
    store.insert_api_key(make_api_key("key_1", "org_a", "h1"));
    store.insert_flow(make_connection("org_a", "conn_1"));
    store.insert_source(make_source("org_a", "ws_1", "src_1"));
  }
  SqliteStore reopened(path);
  EXPECT_TRUE(reopened.find_api_key_by_hash("h1"));
  expect_same_connection(*reopened.find_flow("org_a", "conn_1"), make_connection("org_a", "conn_1"));
  expect_same_source(*reopened.find_source("org_a", "src_1"), make_source("org_a", "ws_1", "src_1"));
}

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
