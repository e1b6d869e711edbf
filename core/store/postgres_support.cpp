#include "store/postgres_support.hpp"

#include "store/store.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <libpq-fe.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <stdexcept>
#include <utility>

namespace connector::core::pg {

namespace {

// Type ids from PostgreSQL's catalog (pg_type.dat); fixed since PostgreSQL 7.
constexpr Oid bool_type = 16;
constexpr Oid bytea_type = 17;
constexpr Oid int8_type = 20;
constexpr Oid int2_type = 21;
constexpr Oid int4_type = 23;
constexpr Oid text_type = 25;

constexpr int binary_format = 1;

uint64_t read_big_endian(const char* data, int length) {
  uint64_t value = 0;
  for (int i = 0; i < length; ++i)
    value = (value << 8) | static_cast<unsigned char>(data[i]);
  return value;
}

std::string field(const PGresult* result, int code) {
  const char* value = PQresultErrorField(result, code);
  return value != nullptr ? value : "";
}

// SQLSTATEs that mean the connection or the server is gone, not the statement wrong: class
// 08 (connection exception) and 57P01–57P03 (shut down by an administrator, a crash, or a
// server not yet accepting connections).
bool means_unavailable(const std::string& state) {
  return state.rfind("08", 0) == 0 || state == "57P01" || state == "57P02" || state == "57P03";
}

// The error of a failed statement, without the values it carried: PostgreSQL's primary
// message and its detail can quote them ('Key (id)=(...) already exists', 'invalid input
// syntax for type integer: "..."'), and values may be secrets. So the message is the SQLSTATE
// with the constraint, table and column it names; only for a statement that could not be
// compiled (class 42: syntax, unknown names, permissions), whose text holds no values, the
// primary message too.
[[noreturn]] void throw_statement_error(const PGresult* result, pg_conn* connection) {
  const std::string state = field(result, PG_DIAG_SQLSTATE);
  std::string message = "postgresql: SQLSTATE " + (state.empty() ? std::string("unknown") : state);
  for (const auto& [label, code] : {std::pair{"constraint", PG_DIAG_CONSTRAINT_NAME},
                                    std::pair{"table", PG_DIAG_TABLE_NAME}, std::pair{"column", PG_DIAG_COLUMN_NAME}}) {
    if (const std::string name = field(result, code); !name.empty()) message += std::string(", ") + label + " " + name;
  }
  if (state.rfind("42", 0) == 0) message += ": " + field(result, PG_DIAG_MESSAGE_PRIMARY);
  if (state.empty() || means_unavailable(state) || PQstatus(connection) == CONNECTION_BAD) {
    if (state.empty()) message += ": " + std::string(PQerrorMessage(connection));
    throw StoreUnavailable(message);
  }
  if (state == "23505") throw StoreConflict(message); // unique_violation
  if (state == "53100") throw StorageFull(message);   // disk_full
  throw std::runtime_error(message);
}

} // namespace

std::string redacted_database_url(std::string_view url) {
  const auto parsed = boost::urls::parse_uri(url);
  if (!parsed || (parsed->scheme() != "postgresql" && parsed->scheme() != "postgres")) return "(connection string)";
  boost::urls::url shown(*parsed);
  if (shown.has_password()) shown.set_password("***");
  if (shown.params().contains("password")) shown.params().set("password", "***");
  return std::string(shown.buffer());
}

void FinishConnection::operator()(pg_conn* connection) const noexcept { PQfinish(connection); }

void ClearResult::operator()(pg_result* result) const noexcept { PQclear(result); }

// ---- Params ----

Params& Params::add(unsigned type, const char* value, std::size_t length) {
  if (length > static_cast<std::size_t>(INT32_MAX)) throw std::length_error("postgresql: a parameter is too large");
  types_.push_back(type);
  values_.push_back(value);
  lengths_.push_back(static_cast<int>(length));
  formats_.push_back(binary_format);
  return *this;
}

// A pointer to an empty value's data may be null, which libpq would read as SQL NULL: "" is
// an empty value that is not NULL.
Params& Params::text(std::string_view value) { return add(text_type, value.empty() ? "" : value.data(), value.size()); }

Params& Params::integer(int64_t value) {
  std::array<char, 8>& big_endian = integers_.emplace_back();
  for (std::size_t i = 0; i < big_endian.size(); ++i)
    big_endian[i] = static_cast<char>((static_cast<uint64_t>(value) >> (56 - 8 * i)) & 0xff);
  return add(int8_type, big_endian.data(), big_endian.size());
}

Params& Params::bytes(std::span<const uint8_t> value) {
  return add(bytea_type, value.empty() ? "" : reinterpret_cast<const char*>(value.data()), value.size());
}

Params& Params::boolean(bool value) { return add(bool_type, value ? "\x01" : "\x00", 1); }

Params& Params::optional_integer(const std::optional<int64_t>& value) {
  return value ? integer(*value) : add(int8_type, nullptr, 0);
}

// ---- Result ----

int Result::rows() const { return PQntuples(result_.get()); }

int Result::affected_rows() const {
  const char* count = PQcmdTuples(result_.get());
  return count != nullptr && *count != '\0' ? std::atoi(count) : 0;
}

bool Result::is_null(int row, int column) const { return PQgetisnull(result_.get(), row, column) == 1; }

std::string Result::text(int row, int column) const {
  return {PQgetvalue(result_.get(), row, column), static_cast<std::size_t>(PQgetlength(result_.get(), row, column))};
}

int64_t Result::integer(int row, int column) const {
  const Oid type = PQftype(result_.get(), column);
  const int length = PQgetlength(result_.get(), row, column);
  const int expected = type == int8_type ? 8 : type == int4_type ? 4 : type == int2_type ? 2 : 0;
  if (expected == 0 || length != expected || is_null(row, column)) {
    throw std::runtime_error("postgresql: column " + std::to_string(column) + " is not a non-null integer");
  }
  const uint64_t raw = read_big_endian(PQgetvalue(result_.get(), row, column), length);
  const int unused_bits = 64 - 8 * length; // sign-extend int2 and int4
  return static_cast<int64_t>(raw << unused_bits) >> unused_bits;
}

std::optional<int64_t> Result::optional_integer(int row, int column) const {
  if (is_null(row, column)) return std::nullopt;
  return integer(row, column);
}

std::vector<uint8_t> Result::bytes(int row, int column) const {
  if (PQftype(result_.get(), column) != bytea_type) {
    throw std::runtime_error("postgresql: column " + std::to_string(column) + " is not bytea");
  }
  const auto* data = reinterpret_cast<const uint8_t*>(PQgetvalue(result_.get(), row, column));
  return {data, data + PQgetlength(result_.get(), row, column)};
}

bool Result::boolean(int row, int column) const {
  if (PQftype(result_.get(), column) != bool_type || PQgetlength(result_.get(), row, column) != 1) {
    throw std::runtime_error("postgresql: column " + std::to_string(column) + " is not a non-null boolean");
  }
  return PQgetvalue(result_.get(), row, column)[0] != 0;
}

// ---- Connection ----

Connection Connection::open(const std::string& url) {
  Connection connection(PQconnectdb(url.c_str()));
  if (!connection.connection_) throw StoreUnavailable("postgresql: out of memory opening a connection");
  if (PQstatus(connection.connection_.get()) != CONNECTION_OK) {
    std::string reason = PQerrorMessage(connection.connection_.get());
    while (!reason.empty() && (reason.back() == '\n' || reason.back() == ' '))
      reason.pop_back();
    throw StoreUnavailable("postgresql: cannot connect to " + redacted_database_url(url) + ": " + reason);
  }
  // libpq prints the server's notices ("... already exists, skipping") on stderr by default:
  // they are not errors, and one could quote a value.
  PQsetNoticeProcessor(
      connection.connection_.get(), [](void*, const char*) {}, nullptr);
  return connection;
}

Result Connection::checked(pg_result* raw) {
  Result result(raw);
  const ExecStatusType status = raw != nullptr ? PQresultStatus(raw) : PGRES_FATAL_ERROR;
  if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) throw_statement_error(raw, connection_.get());
  return result;
}

void Connection::execute_script(const char* sql) {
  collect_sent();
  checked(PQexec(connection_.get(), sql));
}

Result Connection::run(std::string_view sql, const Params& params) {
  collect_sent();
  const std::string text(sql);
  return checked(PQexecParams(connection_.get(), text.c_str(), params.count(), params.types(), params.values(),
                              params.lengths(), params.formats(), binary_format));
}

const std::string& Connection::statement_name(std::string_view sql, const Params& params) {
  auto found = prepared_.find(sql);
  if (found == prepared_.end()) {
    collect_sent(); // preparing waits for its answer, which pipeline mode would hold back
    std::string key(sql);
    std::string name = "s" + std::to_string(prepared_.size());
    checked(PQprepare(connection_.get(), name.c_str(), key.c_str(), params.count(), params.types()));
    found = prepared_.emplace(std::move(key), std::move(name)).first;
  }
  return found->second;
}

Result Connection::prepared(std::string_view sql, const Params& params) {
  const std::string& name = statement_name(sql, params);
  collect_sent();
  return checked(PQexecPrepared(connection_.get(), name.c_str(), params.count(), params.values(), params.lengths(),
                                params.formats(), binary_format));
}

int Connection::send_prepared(std::string_view sql, const Params& params) {
  const std::string& name = statement_name(sql, params);
  pg_conn* connection = connection_.get();
  if (PQpipelineStatus(connection) == PQ_PIPELINE_OFF && PQenterPipelineMode(connection) != 1) {
    throw_statement_error(nullptr, connection);
  }
  // libpq copies the parameters into its output buffer here: they need not outlive the call.
  if (PQsendQueryPrepared(connection, name.c_str(), params.count(), params.values(), params.lengths(), params.formats(),
                          binary_format) != 1) {
    throw_statement_error(nullptr, connection);
  }
  return sent_++;
}

int Connection::send_command(const char* sql) {
  pg_conn* connection = connection_.get();
  if (PQpipelineStatus(connection) == PQ_PIPELINE_OFF && PQenterPipelineMode(connection) != 1) {
    throw_statement_error(nullptr, connection);
  }
  // Pipeline mode takes only the extended protocol, which PQsendQueryParams speaks.
  if (PQsendQueryParams(connection, sql, 0, nullptr, nullptr, nullptr, nullptr, binary_format) != 1) {
    throw_statement_error(nullptr, connection);
  }
  return sent_++;
}

void Connection::collect_sent() {
  if (sent_ == 0) return;
  const SentAnswers answers = collect_sent_answers();
  if (answers.failure) std::rethrow_exception(answers.failure);
}

Connection::SentAnswers Connection::collect_sent_answers(int keep) {
  SentAnswers answers;
  if (sent_ == 0) return answers;
  sent_ = 0;
  pg_conn* connection = connection_.get();
  const auto fail = [&](const PGresult* result, int place) {
    if (answers.failure) return;
    answers.failed_at = place;
    try {
      throw_statement_error(result, connection);
    } catch (...) {
      answers.failure = std::current_exception();
    }
  };
  // Each statement's answer, then a null result; after a failure the rest come "aborted";
  // then the sync point. A broken connection answers nulls only.
  if (PQpipelineSync(connection) != 1) fail(nullptr, 0);
  int place = 0;
  while (usable()) {
    pg_result* raw = PQgetResult(connection);
    if (raw == nullptr) {
      ++place; // the null that ends a statement's answer
      continue;
    }
    Result result(raw);
    const ExecStatusType status = PQresultStatus(raw);
    if (status == PGRES_PIPELINE_SYNC) break;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK && status != PGRES_PIPELINE_ABORTED) {
      fail(raw, place);
    } else if (place == keep && status != PGRES_PIPELINE_ABORTED) {
      answers.kept.emplace(std::move(result));
    }
  }
  if (!usable()) {
    answers.kept.reset();
    answers.failure = nullptr; // a broken connection outranks a statement's failure: nothing is known of the rest
    fail(nullptr, place);
  }
  PQexitPipelineMode(connection);
  return answers;
}

bool Connection::quiet_since_last_answer() const {
  if (!usable() || sent_ > 0) return false;
  char first = 0;
  const ssize_t peeked = ::recv(PQsocket(connection_.get()), &first, 1, MSG_PEEK | MSG_DONTWAIT);
  return peeked < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

bool Connection::usable() const { return PQstatus(connection_.get()) == CONNECTION_OK; }

bool Connection::in_failed_transaction() const { return PQtransactionStatus(connection_.get()) == PQTRANS_INERROR; }

} // namespace connector::core::pg
