// The PostgreSQL store's footing (core/store/postgres_support.*) against a real PostgreSQL 15
// started for the test (support/postgres_server.*): values through prepared statements in
// libpq's binary format, errors mapped to the store's exceptions without the values they
// carried, passwords never shown, and a server that goes away and comes back.
#include "support/postgres_server.hpp"

#include "store/postgres_support.hpp"
#include "store/store.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <exception>
#include <string>
#include <thread>
#include <vector>

using connector::core::StoreConflict;
using connector::core::StoreUnavailable;
using namespace connector::core::pg;
using connector::testing::PostgresServer;

namespace {

class PostgresSupportTest : public ::testing::Test {
protected:
  PostgresServer server;
};

template <typename Exception, typename Action> std::string thrown_message(Action action) {
  try {
    action();
  } catch (const Exception& error) {
    return error.what();
  }
  ADD_FAILURE() << "nothing was thrown";
  return {};
}

} // namespace

TEST_F(PostgresSupportTest, ValuesGoThroughPreparedStatementsUnchanged) {
  Connection db = Connection::open(server.url());
  db.execute_script("CREATE TABLE items (id text PRIMARY KEY, big int8, small int4, sealed bytea, "
                    "flag bool NOT NULL, maybe int8)");
  const std::vector<uint8_t> sealed = {0x00, 0xff, 0x27, 0x5c, 0x00, 0x01};
  const std::string sql = "INSERT INTO items VALUES ($1, $2, $3, $4, $5, $6)";
  for (int round = 0; round < 2; ++round) { // the second use reuses the prepared statement
    const std::string id = round == 0 ? "it's \"quoted\" \\ é" : "";
    const auto written = db.prepared(sql, Params()
                                              .text(id)
                                              .integer(round == 0 ? INT64_MIN : INT64_MAX)
                                              .integer(-42)
                                              .bytes(sealed)
                                              .boolean(true)
                                              .optional_integer(round == 0 ? std::nullopt : std::optional(7)));
    EXPECT_EQ(written.affected_rows(), 1);
  }
  const Result rows = db.prepared("SELECT id, big, small, sealed, flag, maybe FROM items ORDER BY big", Params());
  ASSERT_EQ(rows.rows(), 2);
  EXPECT_EQ(rows.text(0, 0), "it's \"quoted\" \\ é");
  EXPECT_EQ(rows.integer(0, 1), INT64_MIN);
  EXPECT_EQ(rows.integer(0, 2), -42);
  EXPECT_EQ(rows.bytes(0, 3), sealed);
  EXPECT_TRUE(rows.boolean(0, 4));
  EXPECT_EQ(rows.optional_integer(0, 5), std::nullopt);
  EXPECT_EQ(rows.text(1, 0), "");
  EXPECT_EQ(rows.integer(1, 1), INT64_MAX);
  EXPECT_EQ(rows.optional_integer(1, 5), 7);
  EXPECT_THROW((void)rows.integer(0, 0), std::runtime_error); // text is not read as a number
}

TEST_F(PostgresSupportTest, ADuplicateKeyIsAConflictThatNamesTheConstraintNotTheValue) {
  Connection db = Connection::open(server.url());
  db.execute_script("CREATE TABLE api_keys (key_hash text PRIMARY KEY)");
  const std::string secret = "hash-of-a-secret-key-0123456789";
  db.prepared("INSERT INTO api_keys VALUES ($1)", Params().text(secret));
  const std::string message =
      thrown_message<StoreConflict>([&] { db.prepared("INSERT INTO api_keys VALUES ($1)", Params().text(secret)); });
  EXPECT_NE(message.find("23505"), std::string::npos) << message;
  EXPECT_NE(message.find("api_keys_pkey"), std::string::npos) << message;
  EXPECT_EQ(message.find(secret), std::string::npos) << message;
  // The connection goes on after a failed statement.
  EXPECT_EQ(db.prepared("SELECT count(*) FROM api_keys", Params()).integer(0, 0), 1);
}

TEST_F(PostgresSupportTest, AValueTheServerCannotReadIsNotQuotedInTheError) {
  Connection db = Connection::open(server.url());
  const std::string secret = "not-a-number-but-a-secret";
  // Sent as text in binary format to an int8 parameter: PostgreSQL refuses it, and its own
  // message would quote the bytes.
  const std::string message =
      thrown_message<std::runtime_error>([&] { db.run("SELECT $1::text::int8", Params().text(secret)); });
  EXPECT_NE(message.find("22P02"), std::string::npos) << message; // invalid_text_representation
  EXPECT_EQ(message.find(secret), std::string::npos) << message;
}

// A batch's statements sent without waiting come back in one go: the answer asked for by its
// place, and the first failure with its place, after which the server skips the rest.
TEST_F(PostgresSupportTest, StatementsSentWithoutWaitingAnswerByTheirPlace) {
  Connection db = Connection::open(server.url());
  db.execute_script("CREATE TABLE items (id text PRIMARY KEY)");
  const std::string insert = "INSERT INTO items VALUES ($1)";
  const std::string count = "SELECT count(*) FROM items";
  // Prepared before the pipeline: preparing reads the answers to what was sent before, and
  // the places start again from 0.
  db.prepared(insert, Params().text("before"));
  db.prepared(count, Params());

  EXPECT_EQ(db.send_command("BEGIN"), 0);
  EXPECT_EQ(db.send_prepared(insert, Params().text("a")), 1);
  EXPECT_EQ(db.send_prepared(count, Params()), 2);
  EXPECT_EQ(db.send_prepared(insert, Params().text("a")), 3); // a duplicate: fails
  EXPECT_EQ(db.send_prepared(insert, Params().text("b")), 4); // skipped
  EXPECT_EQ(db.send_command("COMMIT"), 5);                    // skipped: nothing commits
  const Connection::SentAnswers answers = db.collect_sent_answers(2);
  ASSERT_TRUE(answers.kept);
  EXPECT_EQ(answers.kept->integer(0, 0), 2) << "the count saw the insert before it";
  EXPECT_EQ(answers.failed_at, 3);
  EXPECT_THROW(std::rethrow_exception(answers.failure), StoreConflict);
  EXPECT_TRUE(db.in_failed_transaction());
  db.execute_script("ROLLBACK");
  EXPECT_EQ(db.prepared(count, Params()).integer(0, 0), 1);

  // A failure after the statement asked for leaves its answer; a COMMIT that runs commits.
  db.send_command("BEGIN");
  db.send_prepared(insert, Params().text("c"));
  const int kept = db.send_prepared(count, Params());
  db.send_command("COMMIT");
  const Connection::SentAnswers committed = db.collect_sent_answers(kept);
  EXPECT_FALSE(committed.failure);
  EXPECT_EQ(committed.failed_at, -1);
  ASSERT_TRUE(committed.kept);
  EXPECT_EQ(committed.kept->integer(0, 0), 2);
  EXPECT_FALSE(db.has_sent());
  EXPECT_EQ(db.prepared(count, Params()).integer(0, 0), 2);
  EXPECT_TRUE(db.quiet_since_last_answer());
}

TEST_F(PostgresSupportTest, AConnectionTheServerEndedWhileIdleIsNotQuiet) {
  Connection db = Connection::open(server.url());
  const int64_t pid = db.prepared("SELECT pg_backend_pid()", Params()).integer(0, 0);
  EXPECT_TRUE(db.quiet_since_last_answer());
  Connection admin = Connection::open(server.admin_url());
  admin.prepared("SELECT pg_terminate_backend($1::int4)", Params().integer(pid));
  for (int i = 0; i < 200 && db.quiet_since_last_answer(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_FALSE(db.quiet_since_last_answer()) << "its farewell and end of file wait on the socket";
}

TEST_F(PostgresSupportTest, AWrongPasswordIsRefusedWithoutShowingIt) {
  const std::string wrong = "wrong-password-7f3a";
  const std::string url =
      "postgresql://connector_host:" + wrong + "@127.0.0.1:" + std::to_string(server.port()) + "/connector";
  const std::string message = thrown_message<StoreUnavailable>([&] { (void)Connection::open(url); });
  EXPECT_NE(message.find("password authentication failed"), std::string::npos) << message;
  EXPECT_NE(message.find("connector_host:***@127.0.0.1"), std::string::npos) << message;
  EXPECT_EQ(message.find(wrong), std::string::npos) << message;
}

TEST(PostgresUrl, RedactionHidesEveryPassword) {
  EXPECT_EQ(redacted_database_url("postgresql://host_role:s3cret@db.internal:5432/connector?sslmode=require"),
            "postgresql://host_role:***@db.internal:5432/connector?sslmode=require");
  EXPECT_EQ(redacted_database_url("postgres://db.internal/connector?user=a&password=s3cret"),
            "postgres://db.internal/connector?user=a&password=***");
  EXPECT_EQ(redacted_database_url("postgresql://db.internal/connector"), "postgresql://db.internal/connector");
  EXPECT_EQ(redacted_database_url("host=db.internal password=s3cret"), "(connection string)");
  EXPECT_EQ(redacted_database_url("mysql://a:s3cret@db/x"), "(connection string)");
}

TEST_F(PostgresSupportTest, TheHostsRoleIsNoSuperuser) {
  Connection db = Connection::open(server.url());
  const Result role = db.run("SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = current_user", Params());
  ASSERT_EQ(role.rows(), 1);
  EXPECT_FALSE(role.boolean(0, 0));
  EXPECT_FALSE(role.boolean(0, 1));
}

TEST_F(PostgresSupportTest, AServerThatGoesAwayMakesTheStoreUnavailableUntilItIsBack) {
  Connection db = Connection::open(server.url());
  EXPECT_EQ(db.run("SELECT 1::int4", Params()).integer(0, 0), 1);
  server.crash();
  EXPECT_THROW(db.run("SELECT 1::int4", Params()), StoreUnavailable);
  EXPECT_FALSE(db.usable());
  EXPECT_THROW((void)Connection::open(server.url()), StoreUnavailable);
  server.start();
  Connection again = Connection::open(server.url());
  EXPECT_EQ(again.run("SELECT 2::int4", Params()).integer(0, 0), 2);
}
