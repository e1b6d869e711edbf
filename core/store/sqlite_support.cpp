#include "store/sqlite_support.hpp"

#include "store/store.hpp"

#include <sqlite3.h>

#include <cerrno>
#include <mutex>
#include <stdexcept>

namespace connector::core::sqlite {

void CloseDatabase::operator()(sqlite3* db) const noexcept { sqlite3_close_v2(db); }

void FinalizeStatement::operator()(sqlite3_stmt* statement) const noexcept { sqlite3_finalize(statement); }

namespace {

bool no_room(int error) { return error == ENOSPC || error == EFBIG || error == EDQUOT; }

// The errno of a failed write is kept by SQLite per file, the database's and its write-ahead
// log's: sqlite3_system_errno() reads the thread's errno only after SQLite has undone the
// transaction, by which time it may have been overwritten.
int last_file_errno(sqlite3_file* file) {
  int error = 0;
  if (file == nullptr || file->pMethods == nullptr) return 0;
  if (file->pMethods->xFileControl(file, SQLITE_FCNTL_LAST_ERRNO, &error) != SQLITE_OK) return 0;
  return error;
}

// SQLite reports ENOSPC as SQLITE_FULL, but a write refused with EFBIG (the file size limit,
// RLIMIT_FSIZE) or EDQUOT as an I/O error (SQLITE_IOERR_WRITE, _TRUNCATE, ...).
bool out_of_space(sqlite3* db, int code) {
  if ((code & 0xff) == SQLITE_FULL) return true;
  if ((code & 0xff) != SQLITE_IOERR) return false;
  if (no_room(sqlite3_system_errno(db))) return true;
  sqlite3_file* log = nullptr;
  if (sqlite3_file_control(db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &log) == SQLITE_OK &&
      no_room(last_file_errno(log))) {
    return true;
  }
  int main_file_error = 0;
  return sqlite3_file_control(db, "main", SQLITE_FCNTL_LAST_ERRNO, &main_file_error) == SQLITE_OK &&
         no_room(main_file_error);
}

} // namespace

void throw_last_error(sqlite3* db) {
  const int code = sqlite3_extended_errcode(db);
  std::string message = std::string("sqlite: ") + sqlite3_errmsg(db);
  if (code == SQLITE_CONSTRAINT_UNIQUE || code == SQLITE_CONSTRAINT_PRIMARYKEY) throw StoreConflict(message);
  if (out_of_space(db, code)) throw StorageFull(message);
  throw std::runtime_error(message);
}

DatabasePtr open_database(const std::string& path, int flags) {
  // Before SQLite's first use: no allocation statistics, whose global mutex every allocation
  // of every connection would otherwise take (the I/O threads' readers and the store thread
  // contend for it). Too late once SQLite is initialised, which is then harmless.
  static std::once_flag configured;
  std::call_once(configured, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
  sqlite3* raw = nullptr;
  const int code = sqlite3_open_v2(path.c_str(), &raw, flags, nullptr);
  DatabasePtr db(raw); // closes the handle SQLite hands back even when opening failed
  if (code != SQLITE_OK) {
    throw std::runtime_error("sqlite: cannot open " + path + ": " + (raw ? sqlite3_errmsg(raw) : sqlite3_errstr(code)));
  }
  // Extended codes tell a UNIQUE violation (409 for the caller) from other constraint failures.
  sqlite3_extended_result_codes(raw, 1);
  return db;
}

StatementPtr prepare(sqlite3* db, std::string_view sql, bool persistent) {
  sqlite3_stmt* raw = nullptr;
  const unsigned flags = persistent ? SQLITE_PREPARE_PERSISTENT : 0U;
  if (sqlite3_prepare_v3(db, sql.data(), static_cast<int>(sql.size()), flags, &raw, nullptr) != SQLITE_OK) {
    throw_last_error(db);
  }
  return StatementPtr(raw);
}

void execute_script(sqlite3* db, const char* sql) {
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) throw_last_error(db);
}

Query::~Query() {
  sqlite3_reset(statement_);
  sqlite3_clear_bindings(statement_);
}

namespace {

void check_bind(sqlite3_stmt* statement, int code) {
  if (code != SQLITE_OK) throw_last_error(sqlite3_db_handle(statement));
}

} // namespace

// SQLITE_STATIC (a null destructor): SQLite reads the caller's buffer until the reset in ~Query.
void Query::bind_text(int index, std::string_view text) {
  // A default string_view has no buffer; SQLite would store NULL instead of "".
  const char* data = text.data() != nullptr ? text.data() : "";
  check_bind(statement_, sqlite3_bind_text64(statement_, index, data, text.size(), nullptr, SQLITE_UTF8));
}

void Query::bind_integer(int index, int64_t value) {
  check_bind(statement_, sqlite3_bind_int64(statement_, index, value));
}

void Query::bind_optional_integer(int index, const std::optional<int64_t>& value) {
  if (value) {
    bind_integer(index, *value);
  } else {
    check_bind(statement_, sqlite3_bind_null(statement_, index));
  }
}

void Query::bind_blob(int index, std::span<const uint8_t> bytes) {
  // An empty span may have no buffer, which SQLite would store as NULL rather than an empty blob.
  if (bytes.empty()) {
    check_bind(statement_, sqlite3_bind_zeroblob(statement_, index, 0));
  } else {
    check_bind(statement_, sqlite3_bind_blob64(statement_, index, bytes.data(), bytes.size(), nullptr));
  }
}

bool Query::next_row() {
  const int code = sqlite3_step(statement_);
  if (code == SQLITE_ROW) return true;
  if (code == SQLITE_DONE) return false;
  throw_last_error(sqlite3_db_handle(statement_));
}

void Query::run() {
  while (next_row()) {
  }
}

int Query::changes() const { return sqlite3_changes(sqlite3_db_handle(statement_)); }

std::string Query::text(int column) const {
  const unsigned char* data = sqlite3_column_text(statement_, column);
  if (data == nullptr) return {};
  const auto size = static_cast<size_t>(sqlite3_column_bytes(statement_, column));
  return std::string(reinterpret_cast<const char*>(data), size);
}

int64_t Query::integer(int column) const { return sqlite3_column_int64(statement_, column); }

std::optional<int64_t> Query::optional_integer(int column) const {
  if (sqlite3_column_type(statement_, column) == SQLITE_NULL) return std::nullopt;
  return integer(column);
}

std::vector<uint8_t> Query::blob(int column) const {
  const auto* data = static_cast<const uint8_t*>(sqlite3_column_blob(statement_, column));
  if (data == nullptr) return {}; // SQLite's answer for an empty blob
  return std::vector<uint8_t>(data, data + sqlite3_column_bytes(statement_, column));
}

} // namespace connector::core::sqlite
