// The store's contract, which every backend keeps: each test runs against SQLite (a file in
// a temporary folder) and PostgreSQL (a database of its own on a real PostgreSQL 15 server,
// one server for the whole run), through the Store and TransactionalStore interfaces only.
// What only one backend does (SQLite's row keys and file hygiene, PostgreSQL's schema) is
// tested beside that backend.
#include "oauth/ids.hpp"
#include "store/postgres_store.hpp"
#include "store/postgres_support.hpp"
#include "store/sqlite_store.hpp"
#include "store/store_executor.hpp"
#include "support/postgres_server.hpp"
#include "support/temp_dir.hpp"
#include "unit/store/store_records.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace connector::core;
using namespace connector::testing::store_records;

namespace {

enum class Backend { sqlite, postgres };

// One server for every PostgreSQL test of the process, started on first use.
connector::testing::PostgresServer& shared_server() {
  static connector::testing::PostgresServer server;
  return server;
}

class StoreContract : public ::testing::TestWithParam<Backend> {
protected:
  void SetUp() override {
    if (GetParam() == Backend::postgres) {
      database_ = "contract_" + std::to_string(++databases_made_) + "_" + std::to_string(::getpid());
      url_ = shared_server().create_database(database_);
    }
  }
  void TearDown() override {
    stores_.clear();
    if (!database_.empty()) shared_server().drop_database(database_);
  }

  // Another connection to this test's database (the first one creates and migrates it); it
  // stays open until the test ends.
  TransactionalStore& open() {
    if (GetParam() == Backend::sqlite) {
      stores_.push_back(std::make_unique<SqliteStore>(folder_.path() / "store.db"));
    } else {
      stores_.push_back(std::make_unique<PostgresStore>(url_));
    }
    return *stores_.back();
  }

private:
  static inline int databases_made_ = 0;
  connector::testing::TempDir folder_;
  std::string database_;
  std::string url_;
  std::vector<std::unique_ptr<TransactionalStore>> stores_;
};

} // namespace

TEST_P(StoreContract, ApiKeysRoundTripAndAreFoundByHashOnly) {
  TransactionalStore& store = open();
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

TEST_P(StoreContract, ListsApiKeysOfOneOrganizationOrAll) {
  TransactionalStore& store = open();
  store.insert_api_key(make_api_key("key_b", "org_a", "h1"));
  store.insert_api_key(make_api_key("key_a", "org_a", "h2"));
  store.insert_api_key(make_api_key("key_c", "org_b", "h3"));

  EXPECT_EQ(ids_of(store.list_api_keys("org_a")), (std::vector<std::string>{"key_a", "key_b"}));
  EXPECT_EQ(ids_of(store.list_api_keys("org_b")), (std::vector<std::string>{"key_c"}));
  EXPECT_TRUE(store.list_api_keys("org_nobody").empty());
  EXPECT_EQ(ids_of(store.list_api_keys("")), (std::vector<std::string>{"key_a", "key_b", "key_c"}));
}

TEST_P(StoreContract, RevokingKeepsTheFirstTimeAndReportsUnknownKeys) {
  TransactionalStore& store = open();
  store.insert_api_key(make_api_key("key_1", "org_a", "h1"));
  store.insert_api_key(make_api_key("key_2", "org_a", "h2"));

  EXPECT_TRUE(store.revoke_api_key("key_1", 1800000000));
  EXPECT_TRUE(store.revoke_api_key("key_1", 1900000000));
  EXPECT_FALSE(store.revoke_api_key("key_missing", 1800000000));

  EXPECT_EQ(store.find_api_key_by_hash("h1")->revoked_at, 1800000000);
  EXPECT_EQ(store.find_api_key_by_hash("h2")->revoked_at, std::nullopt);
}

TEST_P(StoreContract, DuplicateKeyHashOrIdIsAConflictThatNamesNoValue) {
  TransactionalStore& store = open();
  store.insert_api_key(make_api_key("key_1", "org_a", "secret-looking-hash"));
  try {
    store.insert_api_key(make_api_key("key_2", "org_b", "secret-looking-hash"));
    FAIL() << "a duplicate key hash was accepted";
  } catch (const StoreConflict& conflict) {
    EXPECT_NE(std::string(conflict.what()).find("api_keys"), std::string::npos) << conflict.what();
    EXPECT_EQ(std::string(conflict.what()).find("secret-looking-hash"), std::string::npos) << conflict.what();
  }
  EXPECT_THROW(store.insert_api_key(make_api_key("key_1", "org_a", "other-hash")), StoreConflict);
  EXPECT_EQ(store.list_api_keys("").size(), 1U);
}

TEST_P(StoreContract, AllowedRedirectsAreIdempotentAndPerOrganization) {
  TransactionalStore& store = open();
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

TEST_P(StoreContract, WorkspacesAreFoundOnlyWithinTheirOrganization) {
  TransactionalStore& store = open();
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

TEST_P(StoreContract, PagesFollowIdsAndEndWithoutAnEmptyExtraPage) {
  TransactionalStore& store = open();
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

TEST_P(StoreContract, PageLimitIsClampedBetweenOneAndTwoHundred) {
  TransactionalStore& store = open();
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

TEST_P(StoreContract, ConnectionsRoundTripEveryField) {
  TransactionalStore& store = open();
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
TEST_P(StoreContract, OnlyOlderFlowsAreFoundByStateHash) {
  TransactionalStore& store = open();
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

TEST_P(StoreContract, ConnectionEmptyAndAbsentValuesRoundTrip) {
  TransactionalStore& store = open();
  FlowRecord connection = make_connection("org_a", "conn_1");
  connection.sealed_code_verifier.clear();
  connection.sealed_credentials.clear();
  connection.token_expires_at.reset();
  connection.source_id.clear();
  connection.status = FlowStatus::pending;
  store.insert_flow(connection);
  expect_same_connection(*store.find_flow("org_a", "conn_1"), connection);
}

TEST_P(StoreContract, EveryConnectionStatusRoundTrips) {
  TransactionalStore& store = open();
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

TEST_P(StoreContract, ConnectionsAreInvisibleToOtherOrganizations) {
  TransactionalStore& store = open();
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

TEST_P(StoreContract, DuplicateStateHashOrConnectionIdIsAConflict) {
  TransactionalStore& store = open();
  store.insert_flow(make_connection("org_a", "conn_1"));
  FlowRecord same_state = make_connection("org_b", "conn_2");
  same_state.state_hash = "state-hash-of-conn_1";
  EXPECT_THROW(store.insert_flow(same_state), StoreConflict);
  EXPECT_THROW(store.insert_flow(make_connection("org_b", "conn_1")), StoreConflict);
  EXPECT_EQ(store.count_flows(), 1);
}

TEST_P(StoreContract, ConnectionUpdateIsACompareAndSwapOnVersion) {
  TransactionalStore& store = open();
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

TEST_P(StoreContract, UpdateKeepsIdentityAndCreationTime) {
  TransactionalStore& store = open();
  store.insert_flow(make_connection("org_a", "conn_1"));
  FlowRecord changed = *store.find_flow("org_a", "conn_1");
  changed.created_at = 1;
  ASSERT_TRUE(store.update_flow(changed));
  EXPECT_EQ(store.find_flow("org_a", "conn_1")->created_at, 1700000000);
}

namespace {

// An envelope's shape (crypto/sealer.hpp) around `tail`: version 1, then `key` big-endian.
std::vector<uint8_t> sealed_with(uint32_t key, const std::string& tail) {
  std::vector<uint8_t> bytes;
  bytes.reserve(5 + tail.size());
  bytes.push_back(0x01);
  for (const int shift : {24, 16, 8, 0})
    bytes.push_back(static_cast<uint8_t>(key >> shift));
  for (const char c : tail)
    bytes.push_back(static_cast<uint8_t>(c));
  bytes.resize(std::max<std::size_t>(bytes.size(), 33), '.'); // an envelope's fixed parts at least
  return bytes;
}

// Every secret of `column`, walked in pages of `page_size`; the ids (an app's as org/scope/slug).
std::vector<std::string> walk_secrets(Store& store, SecretColumn column, int page_size) {
  std::vector<std::string> seen;
  std::optional<SealedSecret> after;
  for (;;) {
    const std::vector<SealedSecret> page = store.list_sealed_secrets(column, after, page_size);
    EXPECT_LE(page.size(), static_cast<std::size_t>(page_size));
    if (page.empty()) return seen;
    for (const auto& secret : page) {
      EXPECT_EQ(secret.column, column);
      seen.push_back(secret.scope.empty() ? secret.id : secret.id + "/" + secret.scope + "/" + secret.slug);
    }
    after = page.back();
  }
}

} // namespace

TEST_P(StoreContract, SealedSecretsAreWalkedCountedByKeyAndReplacedOnlyWhereUnchanged) {
  TransactionalStore& store = open();
  const int64_t lease_ends = 1700000100; // make_source's refresh lease
  for (const auto& [id, key] :
       std::vector<std::pair<std::string, uint32_t>>{{"src_1", 1}, {"src_2", 1}, {"src_3", 2}}) {
    SourceRecord source = make_source("org_a", "ws_1", id);
    source.sealed_credentials = sealed_with(key, "credentials of " + id);
    store.insert_source(source);
  }
  FlowRecord pending = flow_with_status("org_a", "conn_pending", FlowStatus::pending, purge_now);
  pending.sealed_code_verifier = sealed_with(1, "verifier");
  FlowRecord authorized = flow_with_status("org_a", "conn_authorized", FlowStatus::authorized, purge_now);
  authorized.sealed_credentials = sealed_with(2, "tokens");
  store.insert_flow(pending);
  store.insert_flow(authorized);
  store.insert_flow(flow_with_status("org_a", "conn_consumed", FlowStatus::consumed, purge_now)); // keeps none
  store.put_oauth_app({"org_a", "org", "github", "client-1", sealed_with(1, "app one"), 1, 1});
  store.put_oauth_app({"org_b", "ws:ws_9", "github", "client-2", sealed_with(1, "app two"), 1, 1});
  // Bytes that are no envelope (another version byte, or too short) are no key's secret.
  SourceRecord junk = make_source("org_a", "ws_1", "src_junk");
  junk.sealed_credentials = std::vector<uint8_t>(40, 0x02);
  store.insert_source(junk);
  SourceRecord stub = make_source("org_a", "ws_1", "src_stub");
  stub.sealed_credentials = {0x01, 0x00, 0x00, 0x00, 0x07};
  store.insert_source(stub);

  EXPECT_EQ(store.count_secrets_by_key(), (std::map<uint32_t, int64_t>{{1, 5}, {2, 2}}));
  EXPECT_EQ(walk_secrets(store, SecretColumn::source_credentials, 2),
            (std::vector<std::string>{"src_1", "src_2", "src_3", "src_junk", "src_stub"}));
  EXPECT_EQ(walk_secrets(store, SecretColumn::flow_code_verifier, 1), (std::vector<std::string>{"conn_pending"}));
  EXPECT_EQ(walk_secrets(store, SecretColumn::flow_credentials, 1), (std::vector<std::string>{"conn_authorized"}));
  EXPECT_EQ(walk_secrets(store, SecretColumn::oauth_app_configuration, 1),
            (std::vector<std::string>{"org_a/org/github", "org_b/ws:ws_9/github"}));

  const auto first_of = [&](SecretColumn column) { return store.list_sealed_secrets(column, std::nullopt, 1).at(0); };
  const SealedSecret source = first_of(SecretColumn::source_credentials);
  EXPECT_EQ(source.sealed, sealed_with(1, "credentials of src_1"));
  // A source whose refresh lease is held keeps its bytes: the holder compares them.
  EXPECT_FALSE(store.replace_sealed_secret(source, sealed_with(3, "resealed"), lease_ends - 1));
  EXPECT_TRUE(store.replace_sealed_secret(source, sealed_with(3, "resealed"), lease_ends));
  EXPECT_EQ(store.find_source("org_a", "src_1")->sealed_credentials, sealed_with(3, "resealed"));
  // The row changed since it was read: the newer bytes stay.
  EXPECT_FALSE(store.replace_sealed_secret(source, sealed_with(3, "stale"), lease_ends));
  EXPECT_EQ(store.find_source("org_a", "src_1")->sealed_credentials, sealed_with(3, "resealed"));

  EXPECT_TRUE(store.replace_sealed_secret(first_of(SecretColumn::flow_code_verifier), sealed_with(3, "v"), 0));
  EXPECT_EQ(store.find_flow("org_a", "conn_pending")->sealed_code_verifier, sealed_with(3, "v"));
  EXPECT_EQ(store.find_flow("org_a", "conn_pending")->version, pending.version) << "a flow's writers are not failed";
  EXPECT_TRUE(store.replace_sealed_secret(first_of(SecretColumn::oauth_app_configuration), sealed_with(3, "a"), 0));
  EXPECT_EQ(store.find_oauth_app("org_a", "org", "github")->sealed_configuration, sealed_with(3, "a"));
  EXPECT_EQ(store.find_oauth_app("org_b", "ws:ws_9", "github")->sealed_configuration, sealed_with(1, "app two"));

  EXPECT_EQ(store.count_secrets_by_key(), (std::map<uint32_t, int64_t>{{1, 2}, {2, 2}, {3, 3}}));
}

TEST_P(StoreContract, CountsConnections) {
  TransactionalStore& store = open();
  EXPECT_EQ(store.count_flows(), 0);
  for (int i = 0; i < 3; ++i) {
    store.insert_flow(make_connection("org_" + std::to_string(i), "conn_" + std::to_string(i)));
  }
  EXPECT_EQ(store.count_flows(), 3);
}

TEST_P(StoreContract, SourcesRoundTripAndStayInTheirOrganization) {
  TransactionalStore& store = open();
  const SourceRecord source = make_source("org_a", "ws_1", "src_1");
  store.insert_source(source);
  const std::optional<SourceRecord> found = store.find_source("org_a", "src_1");
  ASSERT_TRUE(found);
  expect_same_source(*found, source);
  EXPECT_FALSE(store.find_source("org_b", "src_1"));
  EXPECT_FALSE(store.find_source("org_a", "src_2"));
  EXPECT_THROW(store.insert_source(make_source("org_b", "ws_9", "src_1")), StoreConflict);
}

TEST_P(StoreContract, ListsSourcesOfAWorkspaceOrOfTheWholeOrganization) {
  TransactionalStore& store = open();
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

TEST_P(StoreContract, SourceUpdateIsACompareAndSwapOnVersion) {
  TransactionalStore& store = open();
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

TEST_P(StoreContract, WorkspacesAreRenamedCountedAndDeletedWithTheirOwnApps) {
  TransactionalStore& store = open();
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

TEST_P(StoreContract, OAuthAppsAreReplacedInPlaceAndKeyedByOrganizationScopeAndSlug) {
  TransactionalStore& store = open();
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

TEST_P(StoreContract, SourcesDueForRefreshAreActiveOAuthExpiringUnleasedAndNotCoolingDown) {
  TransactionalStore& store = open();
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

TEST_P(StoreContract, ARolledBackJobLeavesTheRestOfItsBatch) {
  {
    TransactionalStore& store = open();
    store.use_job_savepoints(true); // a backend may otherwise ask for the batch again (below)
    store.begin_batch();
    store.begin_job(JobUndo::savepoint);
    store.insert_workspace(make_workspace("org_a", "ws_kept"));
    store.end_job(true);
    store.begin_job(JobUndo::savepoint);
    store.insert_workspace(make_workspace("org_a", "ws_dropped"));
    store.end_job(false);
    store.commit_batch();
  }
  TransactionalStore& reopened = open();
  EXPECT_TRUE(reopened.find_workspace("org_a", "ws_kept"));
  EXPECT_FALSE(reopened.find_workspace("org_a", "ws_dropped"));
}

// Without use_job_savepoints(true), a failed job either is undone alone (SQLite's savepoints
// are cheap) or makes end_job ask for the batch again (PostgreSQL), never commits half a job.
TEST_P(StoreContract, AFailedJobWithoutSavepointsIsUndoneAloneOrAsksForTheBatchAgain) {
  TransactionalStore& store = open();
  store.begin_batch();
  store.begin_job(JobUndo::savepoint);
  store.insert_workspace(make_workspace("org_a", "ws_kept"));
  store.end_job(true);
  store.begin_job(JobUndo::savepoint);
  store.insert_workspace(make_workspace("org_a", "ws_dropped"));
  try {
    store.end_job(false);
    store.commit_batch();
    EXPECT_TRUE(store.find_workspace("org_a", "ws_kept"));
  } catch (const BatchNeedsSavepoints&) {
    store.rollback_batch();
    EXPECT_FALSE(store.find_workspace("org_a", "ws_kept")) << "the whole batch is undone, to be run again";
  }
  EXPECT_FALSE(store.find_workspace("org_a", "ws_dropped"));
}

// PostgreSQL sends a batch's writes without waiting and its COMMIT after them: a write that
// fails there must keep the COMMIT from committing the rest (SQLite fails the write at once).
TEST_P(StoreContract, AWriteThatFailsJustBeforeTheCommitLetsNothingOfTheBatchCommit) {
  TransactionalStore& store = open();
  store.insert_workspace(make_workspace("org_a", "ws_taken"));
  store.begin_batch();
  store.begin_job(JobUndo::statement);
  store.insert_workspace(make_workspace("org_a", "ws_new"));
  store.end_job(true);
  store.begin_job(JobUndo::statement);
  bool failed_at_once = false;
  try {
    store.insert_workspace(make_workspace("org_a", "ws_taken"));
  } catch (const StoreConflict&) {
    failed_at_once = true;
  }
  try {
    store.end_job(!failed_at_once);
    store.commit_batch_reading_generation();
    EXPECT_TRUE(failed_at_once) << "a batch committed past a write that failed";
    EXPECT_TRUE(store.find_workspace("org_a", "ws_new"));
  } catch (const BatchNeedsSavepoints&) {
    store.rollback_batch();
    EXPECT_FALSE(store.find_workspace("org_a", "ws_new")) << "the whole batch is undone, to be run again";
  }
  EXPECT_EQ(store.find_workspace("org_a", "ws_taken")->name, make_workspace("org_a", "ws_taken").name);
}

TEST_P(StoreContract, ACommitTellsTheCacheGenerationItsBatchSawItsOwnChangesIncluded) {
  TransactionalStore& store = open();
  const int64_t before = store.cache_generation();
  store.begin_batch();
  store.begin_job(JobUndo::statement);
  store.put_oauth_app({"org_a", "org", "github", "client-a", {0x01}, 1, 1});
  store.end_job(true);
  const int64_t told = store.commit_batch_reading_generation();
  EXPECT_GT(told, before);
  EXPECT_EQ(told, store.cache_generation()) << "nothing wrote since";
}

TEST_P(StoreContract, ARolledBackBatchLeavesNothing) {
  TransactionalStore& store = open();
  store.begin_batch();
  store.begin_job(JobUndo::savepoint);
  store.insert_workspace(make_workspace("org_a", "ws_1"));
  store.end_job(true);
  store.rollback_batch();
  EXPECT_FALSE(store.find_workspace("org_a", "ws_1"));
  store.rollback_batch(); // twice, or without a batch: harmless
}

TEST_P(StoreContract, CommitWithoutABatchThrows) {
  TransactionalStore& store = open();
  EXPECT_THROW(store.commit_batch(), std::runtime_error);
}

TEST_P(StoreContract, OtherConnectionsSeeABatchOnlyOnceCommitted) {
  TransactionalStore& first = open();
  TransactionalStore& second = open();
  first.begin_batch();
  first.insert_workspace(make_workspace("org_a", "ws_1"));
  EXPECT_FALSE(second.find_workspace("org_a", "ws_1")); // readers see the last commit, not the open batch
  first.commit_batch();
  EXPECT_TRUE(second.find_workspace("org_a", "ws_1"));
}

TEST_P(StoreContract, TwoConnectionsSeeEachOthersWrites) {
  TransactionalStore& first = open();
  TransactionalStore& second = open();
  first.insert_workspace(make_workspace("org_a", "ws_1"));
  second.insert_source(make_source("org_a", "ws_1", "src_1"));
  EXPECT_TRUE(second.find_workspace("org_a", "ws_1"));
  EXPECT_TRUE(first.find_source("org_a", "src_1"));
  EXPECT_THROW(second.insert_workspace(make_workspace("org_a", "ws_1")), StoreConflict);
}

TEST_P(StoreContract, CompareAndSwapAcrossTwoConnectionsHasExactlyOneWinner) {
  TransactionalStore& first = open();
  TransactionalStore& second = open();
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

TEST_P(StoreContract, DataSurvivesReopening) {
  {
    TransactionalStore& store = open();
    store.insert_api_key(make_api_key("key_1", "org_a", "h1"));
    store.insert_flow(make_connection("org_a", "conn_1"));
    store.insert_source(make_source("org_a", "ws_1", "src_1"));
  }
  TransactionalStore& reopened = open();
  EXPECT_TRUE(reopened.find_api_key_by_hash("h1"));
  expect_same_connection(*reopened.find_flow("org_a", "conn_1"), make_connection("org_a", "conn_1"));
  expect_same_source(*reopened.find_source("org_a", "src_1"), make_source("org_a", "ws_1", "src_1"));
}

// --- The purge's steps
TEST_P(StoreContract, TheWalkOverPendingFlowsGoesInStepsAndWaitsAtTheFirstFlowStillGood) {
  TransactionalStore& store = open();
  std::vector<std::string> lapsed;
  for (int i = 0; i < 5; ++i) {
    lapsed.push_back(make_id("conn"));
    store.insert_flow(flow_with_status("org_a", lapsed.back(), FlowStatus::pending, purge_now - 10));
  }
  const std::string ended = make_id("conn");
  store.insert_flow(flow_with_status("org_a", ended, FlowStatus::failed, purge_now - 10));
  const std::string good = make_id("conn");
  store.insert_flow(flow_with_status("org_b", good, FlowStatus::pending, purge_now + 10));
  const std::string later = make_id("conn");
  store.insert_flow(flow_with_status("org_a", later, FlowStatus::pending, purge_now + 20));

  PendingSweep sweep = store.expire_lapsed_pending_flows(0, purge_now, 2);
  EXPECT_EQ(sweep.expired, 2);
  EXPECT_FALSE(sweep.caught_up) << "two rows read, more may follow";
  sweep = store.expire_lapsed_pending_flows(sweep.resume_at, purge_now, 2);
  EXPECT_EQ(sweep.expired, 2);
  sweep = store.expire_lapsed_pending_flows(sweep.resume_at, purge_now, 10);
  EXPECT_EQ(sweep.expired, 1) << "the fifth, then past the failed flow to the first one still good";
  EXPECT_TRUE(sweep.caught_up);
  for (const auto& id : lapsed)
    EXPECT_EQ(store.find_flow_by_id(id)->status, FlowStatus::expired) << id;
  EXPECT_EQ(store.find_flow_by_id(ended)->status, FlowStatus::failed);

  // Until it lapses, the walk waits at the flow still good, whatever comes after it.
  const PendingSweep waiting = store.expire_lapsed_pending_flows(sweep.resume_at, purge_now, 10);
  EXPECT_EQ(waiting.expired, 0);
  EXPECT_EQ(waiting.resume_at, sweep.resume_at);
  sweep = store.expire_lapsed_pending_flows(sweep.resume_at, purge_now + 15, 10);
  EXPECT_EQ(sweep.expired, 1);
  EXPECT_EQ(store.find_flow_by_id(good)->status, FlowStatus::expired);
  EXPECT_EQ(store.find_flow_by_id(later)->status, FlowStatus::pending);
}

TEST_P(StoreContract, LapsedAuthorizedFlowsAreExpiredInBatchesOfTheGivenSize) {
  TransactionalStore& store = open();
  for (int i = 0; i < 5; ++i)
    store.insert_flow(flow_with_status("org_a", make_id("conn"), FlowStatus::authorized, purge_now - 10));
  EXPECT_EQ(store.expire_lapsed_authorized_flows(purge_now, 2), 2);
  EXPECT_EQ(store.expire_lapsed_authorized_flows(purge_now, 2), 2);
  EXPECT_EQ(store.expire_lapsed_authorized_flows(purge_now, 2), 1);
  EXPECT_EQ(store.expire_lapsed_authorized_flows(purge_now, 2), 0);
}

TEST_P(StoreContract, EndedFlowsAreDeletedOnceOlderThanTheRetention) {
  const int64_t wall = wall_clock();
  TransactionalStore& store = open();
  // Rows lie in the order flows were made: the month-old one first. The search for old flows
  // stops at the first recent one, whatever lies behind it.
  FlowRecord legacy = flow_with_status("org_a", "conn_legacy_failed", FlowStatus::failed, 0);
  legacy.created_at = wall - 30 * 86400;
  store.insert_flow(legacy);
  FlowRecord legacy_recent = flow_with_status("org_a", "conn_legacy_recent", FlowStatus::failed, 0);
  legacy_recent.created_at = wall;
  store.insert_flow(legacy_recent);
  std::vector<std::string> ended;
  for (const auto status : {FlowStatus::failed, FlowStatus::consumed, FlowStatus::expired}) {
    FlowRecord connection = flow_with_status("org_a", make_id("conn"), status, wall - 1);
    connection.created_at = wall;
    store.insert_flow(connection);
    ended.push_back(connection.id);
  }
  FlowRecord pending = flow_with_status("org_a", make_id("conn"), FlowStatus::pending, wall + 600);
  pending.created_at = wall;
  store.insert_flow(pending);
  FlowRecord authorized = flow_with_status("org_a", make_id("conn"), FlowStatus::authorized, wall + 600);
  authorized.created_at = wall;
  store.insert_flow(authorized);

  EXPECT_EQ(store.delete_flows_created_before(wall - 10, 100), 1) << "only the month-old flow";
  EXPECT_FALSE(store.find_flow_by_id(legacy.id));
  EXPECT_TRUE(store.find_flow_by_id(legacy_recent.id));
  EXPECT_EQ(store.count_flows(), 6);

  EXPECT_EQ(store.delete_flows_created_before(wall + 10, 2), 2) << "a batch at a time";
  EXPECT_EQ(store.delete_flows_created_before(wall + 10, 100), 2);
  for (const auto& id : ended)
    EXPECT_FALSE(store.find_flow_by_id(id)) << id;
  EXPECT_FALSE(store.find_flow_by_id(legacy_recent.id));
  EXPECT_TRUE(store.find_flow_by_id(pending.id)) << "a live flow is never deleted";
  EXPECT_TRUE(store.find_flow_by_id(authorized.id));
  EXPECT_EQ(store.count_flows(), 2);
}

std::string backend_name(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::sqlite ? "sqlite" : "postgres";
}

INSTANTIATE_TEST_SUITE_P(Sqlite, StoreContract, ::testing::Values(Backend::sqlite), backend_name);
INSTANTIATE_TEST_SUITE_P(Postgres, StoreContract, ::testing::Values(Backend::postgres), backend_name);

// PostgreSQL alone: a batch whose connection the server ended (a restart, a failover, an
// administrator) fails its commit with StoreUnavailable and keeps nothing; it is not
// "committed" on a new connection, where COMMIT would succeed outside any transaction. The
// next batch connects again.
TEST(PostgresStore, ABatchWhoseConnectionBrokeFailsItsCommitAndTheNextBatchReconnects) {
  connector::testing::PostgresServer& server = shared_server();
  const std::string database = "broken_batch_" + std::to_string(::getpid());
  PostgresStore store(server.create_database(database));
  store.begin_batch();
  store.begin_job(JobUndo::savepoint);
  store.insert_workspace(make_workspace("org_a", "ws_lost"));
  store.end_job(true);
  connector::core::pg::Connection admin = connector::core::pg::Connection::open(server.admin_url());
  const connector::core::pg::Result ended =
      admin.run("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                connector::core::pg::Params().text(database));
  ASSERT_EQ(ended.rows(), 1);
  // A job that meets the broken connection and swallows the error: the commit must still fail.
  EXPECT_THROW(store.find_workspace("org_a", "ws_lost"), StoreUnavailable);
  EXPECT_THROW(store.commit_batch(), StoreUnavailable);
  store.rollback_batch(); // what the executor does next: harmless on a dead connection

  store.begin_batch();
  EXPECT_FALSE(store.find_workspace("org_a", "ws_lost")) << "the broken batch must keep nothing";
  store.insert_workspace(make_workspace("org_a", "ws_kept"));
  store.commit_batch();
  EXPECT_TRUE(store.find_workspace("org_a", "ws_kept"));
  server.drop_database(database);
}

// PostgreSQL alone: a connection the server ended while it was idle (a restart between two
// requests) costs a reader's lookup, or the BEGIN of the writer's next batch, nothing: each
// is tried once more on a new connection instead of failing a request.
TEST(PostgresStore, AReadOrABatchOnAConnectionEndedWhileIdleTakesANewOne) {
  connector::testing::PostgresServer& server = shared_server();
  const std::string database = "idle_ended_" + std::to_string(::getpid());
  const std::string url = server.create_database(database);
  PostgresStore writer(url);
  writer.insert_workspace(make_workspace("org_a", "ws_1"));
  const std::unique_ptr<PostgresStore> reader = PostgresStore::open_reader(url);
  ASSERT_TRUE(reader->find_workspace("org_a", "ws_1")); // connected

  connector::core::pg::Connection admin = connector::core::pg::Connection::open(server.admin_url());
  const connector::core::pg::Result ended =
      admin.run("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                connector::core::pg::Params().text(database));
  ASSERT_EQ(ended.rows(), 2) << "the writer's and the reader's connections";

  EXPECT_TRUE(reader->find_workspace("org_a", "ws_1"));
  writer.begin_batch();
  writer.insert_workspace(make_workspace("org_a", "ws_2"));
  writer.commit_batch();
  EXPECT_TRUE(reader->find_workspace("org_a", "ws_2"));
  server.drop_database(database);
}

// PostgreSQL runs a batch's jobs without savepoints while none fails; a job that fails makes the
// executor run the batch again with a savepoint a job, so that only that job fails and the
// others commit, each once.
TEST(PostgresStore, AFailingJobInABatchFailsAloneAndTheOthersCommitOnce) {
  connector::testing::PostgresServer& server = shared_server();
  const std::string database = "batch_replay_" + std::to_string(::getpid());
  StoreExecutor executor(std::make_unique<PostgresStore>(server.create_database(database)));
  executor.run_sync([](Store& store) { store.insert_workspace(make_workspace("org_a", "ws_taken")); });

  std::atomic<bool> release{false};
  std::thread slow([&] {
    // Holds the store thread, so that the jobs below queue up into one batch behind it.
    executor.run_sync([&](Store&) {
      while (!release.load())
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    });
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::vector<std::thread> callers;
  std::atomic<int> conflicts{0};
  std::atomic<int> runs{0};
  for (int i = 0; i < 6; ++i) {
    callers.emplace_back([&, i] {
      try {
        executor.run_sync([&, i](Store& store) {
          ++runs;
          store.insert_workspace(make_workspace("org_a", i == 3 ? "ws_taken" : "ws_" + std::to_string(i)));
        });
      } catch (const StoreConflict&) {
        ++conflicts;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  release = true;
  slow.join();
  for (auto& caller : callers)
    caller.join();

  EXPECT_EQ(conflicts.load(), 1) << "only the job that collided fails";
  EXPECT_GT(runs.load(), 6) << "the batch ran again after the failure";
  for (const std::string id : {"ws_0", "ws_1", "ws_2", "ws_4", "ws_5"}) {
    EXPECT_TRUE(executor.run_sync([&](Store& store) { return store.find_workspace("org_a", id).has_value(); })) << id;
  }
  const auto page = executor.run_sync([](Store& store) { return store.list_workspaces("org_a", 50, ""); });
  EXPECT_EQ(page.items.size(), 6U) << "each committed once";
  server.drop_database(database);
}
