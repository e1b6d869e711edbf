// Thin RAII over libpq, for the PostgreSQL store: an owned connection, statements prepared
// once per connection, parameters and results in libpq's binary format (bytea and integers
// travel as they are, with no text escaping), and errors turned into the store's exceptions
// (store.hpp): StoreConflict, StorageFull, and StoreUnavailable for SQLSTATE class 08, an
// administrator's shutdown, a server starting or shutting down, or a broken connection.
// Keeps <libpq-fe.h> out of every header.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

struct pg_conn;
struct pg_result;

namespace connector::core::pg {

// The database URL as it may be shown (logs, errors, `database check`): the password, in the
// user-info or as a `password` parameter, is replaced by "***". Text that is not a URL (a
// libpq "key=value" string) is shown as "(connection string)", since it may hold one too.
std::string redacted_database_url(std::string_view url);

struct FinishConnection {
  void operator()(pg_conn* connection) const noexcept;
};
struct ClearResult {
  void operator()(pg_result* result) const noexcept;
};

// The values of one statement's parameters ($1, $2, ...), in order, each with its type (text,
// int8, bytea, bool), so that the server reads the binary value as what it is and casts it to
// the column's type where needed (an int8 into an int4 column). Text and bytes are not copied:
// they must outlive the call they are passed to.
class Params {
public:
  Params() = default;
  // Not copyable: the values point into integers_, which a copy would not own. A move keeps
  // them (a deque's move takes its blocks along).
  Params(const Params&) = delete;
  Params& operator=(const Params&) = delete;
  Params(Params&&) = default;
  Params& operator=(Params&&) = default;

  Params& text(std::string_view value);
  Params& integer(int64_t value);
  Params& bytes(std::span<const uint8_t> value);
  Params& boolean(bool value);
  Params& optional_integer(const std::optional<int64_t>& value); // nullopt = NULL, still an int8

  int count() const { return static_cast<int>(values_.size()); }
  const unsigned* types() const { return types_.data(); } // libpq's Oid
  const char* const* values() const { return values_.data(); }
  const int* lengths() const { return lengths_.data(); }
  const int* formats() const { return formats_.data(); }

private:
  Params& add(unsigned type, const char* value, std::size_t length);
  std::vector<unsigned> types_;
  std::vector<const char*> values_;
  std::vector<int> lengths_;
  std::vector<int> formats_;
  std::deque<std::array<char, 8>> integers_; // big-endian copies; a deque never moves what it holds
};

// A statement's rows, read by row and column (both 0-based).
class Result {
public:
  explicit Result(pg_result* result) noexcept : result_(result) {}

  int rows() const;
  int affected_rows() const; // rows written by an INSERT, UPDATE or DELETE
  bool is_null(int row, int column) const;
  std::string text(int row, int column) const;
  int64_t integer(int row, int column) const; // int2, int4 or int8
  std::optional<int64_t> optional_integer(int row, int column) const;
  std::vector<uint8_t> bytes(int row, int column) const;
  bool boolean(int row, int column) const;

private:
  std::unique_ptr<pg_result, ClearResult> result_;
};

class Connection {
public:
  // Connects to `url` (postgresql://user:password@host:port/database?...). Throws
  // StoreUnavailable (store.hpp) when it cannot, whether the server is unreachable or
  // refuses (a wrong password, an unknown database): libpq does not tell them apart
  // reliably, and either way the store cannot serve. The message shows the URL redacted and
  // libpq's reason.
  static Connection open(const std::string& url);

  // Runs SQL without parameters (schema scripts, transaction control); its results are
  // dropped. Never use it with text that carries values: those go in Params.
  void execute_script(const char* sql);

  // Runs one statement with its parameters and returns its rows (binary format). Statements
  // given to `prepared` are prepared on this connection the first time, with the types of
  // that call's parameters, and reused after.
  Result run(std::string_view sql, const Params& params);
  Result prepared(std::string_view sql, const Params& params);

  // Sends a prepared statement without waiting for its answer (libpq's pipeline mode), for a
  // write whose outcome the caller does not need at once: statements sent in a row cost one
  // round trip together. Their answers are read, in order, before the next statement runs
  // (run, prepared, execute_script) or by collect_sent(), which throws the first failure as
  // run() would have (StoreConflict for a unique key, …) once every answer is read. Returns
  // the statement's place among those sent since answers were last read (0 the first), for
  // collect_sent_answers; preparing a statement the first time reads them.
  int send_prepared(std::string_view sql, const Params& params);
  // The same for a statement without parameters that is not worth preparing (BEGIN, COMMIT).
  int send_command(const char* sql);
  void collect_sent();
  bool has_sent() const { return sent_ > 0; }

  // What collect_sent_answers read: one statement's answer that the caller asked for, and
  // the first failure with its place. After a failure the server skips the rest of what was
  // sent, so at most one statement failed.
  struct SentAnswers {
    std::optional<Result> kept; // the answer of the statement asked for, if it succeeded
    std::exception_ptr failure; // as run() would have thrown it; StoreUnavailable for a broken connection
    int failed_at = -1;         // the failed statement's place, or -1
  };
  // Reads every answer to what was sent, keeping the one of the statement at place `keep`.
  SentAnswers collect_sent_answers(int keep = -1);

  // Whether nothing arrived on this idle connection since its last answer. A server that went
  // away (a restart, an idle timeout, pg_terminate_backend) left its farewell or an end of
  // file there; a quiet connection takes a statement sent without waiting (a batch's BEGIN)
  // with no more risk than any other. Peeks at the socket: no round trip.
  bool quiet_since_last_answer() const;

  // False once the connection is known to be broken: throw it away and open another.
  bool usable() const;
  // True inside a transaction that a failed statement spoiled: only a rollback helps.
  bool in_failed_transaction() const;

private:
  explicit Connection(pg_conn* connection) noexcept : connection_(connection) {}
  Result checked(pg_result* result);
  // The name `sql` is prepared under on this connection, preparing it the first time.
  const std::string& statement_name(std::string_view sql, const Params& params);

  std::unique_ptr<pg_conn, FinishConnection> connection_;
  // Found by the caller's text without copying it (a lookup runs for every statement).
  struct TextHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view text) const noexcept { return std::hash<std::string_view>{}(text); }
  };
  std::unordered_map<std::string, std::string, TextHash, std::equal_to<>> prepared_; // SQL text → statement name
  int sent_ = 0; // statements sent whose answers are not read yet
};

} // namespace connector::core::pg
