// What the flow purge asks of SQLite beyond the store's contract (store_contract_test.cpp):
// lapsed flows' sealed bytes leave the file too, not only the rows; the walk over pending
// flows resumes from the start of a millisecond; and a file from an earlier version loses the
// secrets of flows that had already ended.
#include "oauth/ids.hpp"
#include "store/migrations.hpp"
#include "store/sqlite_store.hpp"
#include "support/flow_ids.hpp"
#include "support/temp_dir.hpp"
#include "unit/store/store_records.hpp"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <chrono>
#include <fstream>
#include <iterator>
#include <string>

using namespace connector::core;
using namespace connector::testing::store_records;

namespace {

std::string file_bytes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The database and its write-ahead log, as they lie on disk.
bool on_disk(const std::filesystem::path& path, const std::string& name) {
  const auto bytes = sealed_marker(name);
  const std::string needle(bytes.begin(), bytes.end());
  return file_bytes(path).find(needle) != std::string::npos ||
         file_bytes(path.string() + "-wal").find(needle) != std::string::npos;
}

class SqliteStorePurgeTest : public ::testing::Test {
protected:
  connector::testing::TempDir folder{"connector-purge"};
  std::filesystem::path path = folder.path() / "data" / "connector-host.sqlite3";
};

TEST_F(SqliteStorePurgeTest, LapsedFlowsBecomeExpiredAndTheirSealedBytesLeaveTheFile) {
  const std::string pending_lapsed = make_id("conn");
  const std::string authorized_lapsed = make_id("conn");
  const std::string pending_live = make_id("conn");
  const std::string authorized_live = make_id("conn");
  {
    SqliteStore store(path);
    store.insert_flow(flow_with_status("org_a", pending_lapsed, FlowStatus::pending, purge_now - 1));
    store.insert_flow(flow_with_status("org_b", authorized_lapsed, FlowStatus::authorized, purge_now));
    store.insert_flow(flow_with_status("org_a", pending_live, FlowStatus::pending, purge_now + 600));
    store.insert_flow(flow_with_status("org_a", authorized_live, FlowStatus::authorized, purge_now + 3600));
  }
  ASSERT_TRUE(on_disk(path, "verifier-" + pending_lapsed)) << "the search finds what is there";
  {
    SqliteStore store(path);
    store.begin_batch();
    const PendingSweep sweep = store.expire_lapsed_pending_flows(0, purge_now, 100);
    EXPECT_EQ(sweep.expired, 1);
    EXPECT_TRUE(sweep.caught_up);
    EXPECT_EQ(store.expire_lapsed_authorized_flows(purge_now, 100), 1);
    store.commit_batch();
    EXPECT_EQ(store.expire_lapsed_pending_flows(sweep.resume_at, purge_now, 100).expired, 0) << "nothing is left";
    EXPECT_EQ(store.expire_lapsed_authorized_flows(purge_now, 100), 0) << "nothing is left to do";

    for (const auto& id : {pending_lapsed, authorized_lapsed}) {
      const auto expired = store.find_flow_by_id(id);
      ASSERT_TRUE(expired);
      EXPECT_EQ(expired->status, FlowStatus::expired);
      EXPECT_TRUE(expired->sealed_code_verifier.empty());
      EXPECT_TRUE(expired->sealed_credentials.empty());
      EXPECT_EQ(expired->updated_at, purge_now);
      EXPECT_EQ(expired->version, 2) << "a callback or completion holding the old version loses its race";
    }
    EXPECT_EQ(store.find_flow_by_id(pending_live)->sealed_code_verifier, sealed_marker("verifier-" + pending_live));
    EXPECT_EQ(store.find_flow_by_id(authorized_live)->sealed_credentials, sealed_marker("tokens-" + authorized_live));
  }
  EXPECT_FALSE(on_disk(path, "verifier-" + pending_lapsed));
  EXPECT_FALSE(on_disk(path, "tokens-" + authorized_lapsed));
  EXPECT_TRUE(on_disk(path, "verifier-" + pending_live));
}

// Threads store the ids they made in whichever order they get to the store, so a flow stored
// after the walk stopped can lie before the flow it waits at, if both were made in the same
// millisecond: the walk resumes from the start of that millisecond and finds it.
TEST_F(SqliteStorePurgeTest, TheWalkFindsAFlowOfTheSameMillisecondStoredAfterItStopped) {
  const int64_t millisecond = wall_clock() * 1000;
  const std::string waited_at = connector::testing::id_made_at(millisecond, "ffff0000000000000000");
  const std::string stored_later = connector::testing::id_made_at(millisecond, "00000000000000000000");
  SqliteStore store(path);
  store.insert_flow(flow_with_status("org_a", waited_at, FlowStatus::pending, purge_now + 10));
  const PendingSweep waiting = store.expire_lapsed_pending_flows(0, purge_now, 10);
  EXPECT_EQ(waiting.expired, 0);
  store.insert_flow(flow_with_status("org_a", stored_later, FlowStatus::pending, purge_now + 5));

  const PendingSweep sweep = store.expire_lapsed_pending_flows(waiting.resume_at, purge_now + 15, 10);
  EXPECT_EQ(sweep.expired, 2);
  EXPECT_EQ(store.find_flow_by_id(stored_later)->status, FlowStatus::expired);
  EXPECT_EQ(store.find_flow_by_id(waited_at)->status, FlowStatus::expired);
}

TEST_F(SqliteStorePurgeTest, AVersionSevenFileLosesTheSecretsOfFlowsThatHadEnded) {
  std::filesystem::create_directories(path.parent_path());
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(path.c_str(), &raw), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(raw, "PRAGMA journal_mode = WAL", nullptr, nullptr, nullptr), SQLITE_OK);
    apply_schema_migrations(raw, sqlite_schema_migrations().first(7)); // as the last release wrote it
    const std::string insert =
        "INSERT INTO connections (id, organization_id, slug, source_definition_id, workspace_id, state_hash, "
        "redirect_url, redirect_uri, sealed_code_verifier, flow_options_json, status, error_code, "
        "error_description, sealed_credentials, granted_scopes, token_expires_at, account_id, account_name, "
        "source_id, created_at, expires_at, updated_at, version) VALUES ";
    // What the earlier versions left: a failed flow with its verifier, a completed one still
    // holding tokens, an expired one with both, and a live pending flow that needs its verifier.
    const auto hex = [](const std::string& name) {
      std::string out;
      for (const uint8_t byte : sealed_marker(name)) {
        static constexpr char digits[] = "0123456789abcdef";
        out += digits[byte >> 4];
        out += digits[byte & 15];
      }
      return "x'" + out + "'";
    };
    const auto row = [&](const std::string& id, const std::string& status, const std::string& verifier,
                         const std::string& tokens, int64_t expires_at) {
      return insert + "('" + id + "', 'org_a', 'github', '', '', 'hash-" + id + "', 'https://app/done', " +
             "'https://host/cb', " + verifier + ", '{}', '" + status + "', '', '', " + tokens + ", '', NULL, '', " +
             "'', '', 1, " + std::to_string(expires_at) + ", 1, 1)";
    };
    const std::string rows[] = {
        row("conn_failed", "failed", hex("v-failed"), "x''", purge_now),
        row("conn_consumed", "consumed", "x''", hex("t-consumed"), purge_now),
        row("conn_expired", "expired", hex("v-expired"), hex("t-expired"), purge_now),
        row("conn_pending", "pending", hex("v-pending"), "x''", wall_clock() + 600),
    };
    for (const auto& sql : rows)
      ASSERT_EQ(sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK) << sqlite3_errmsg(raw);
    ASSERT_EQ(sqlite3_close(raw), SQLITE_OK);
  }
  ASSERT_TRUE(on_disk(path, "v-failed"));
  {
    SqliteStore store(path); // migrates
    EXPECT_TRUE(store.find_flow_by_id("conn_failed")->sealed_code_verifier.empty());
    EXPECT_TRUE(store.find_flow_by_id("conn_consumed")->sealed_credentials.empty());
    EXPECT_TRUE(store.find_flow_by_id("conn_expired")->sealed_code_verifier.empty());
    EXPECT_TRUE(store.find_flow_by_id("conn_expired")->sealed_credentials.empty());
    EXPECT_EQ(store.find_flow_by_id("conn_pending")->sealed_code_verifier, sealed_marker("v-pending"));
    EXPECT_EQ(store.expire_lapsed_pending_flows(0, wall_clock(), 10).expired, 0) << "the live flow stays";
  }
  EXPECT_EQ(SqliteStore::schema_version(path), SqliteStore::latest_schema_version());
  for (const char* name : {"v-failed", "t-consumed", "v-expired", "t-expired"})
    EXPECT_FALSE(on_disk(path, name)) << name;
  EXPECT_TRUE(on_disk(path, "v-pending"));
}

} // namespace
