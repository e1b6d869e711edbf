// Thin RAII over the SQLite C API, shared by the SQLite store and its schema migrations:
// owned handles, one-use queries over prepared statements, and errors turned into
// exceptions. Keeps <sqlite3.h> out of every header.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

struct sqlite3;
struct sqlite3_stmt;

namespace connector::core::sqlite {

struct CloseDatabase {
  void operator()(sqlite3* db) const noexcept;
};
struct FinalizeStatement {
  void operator()(sqlite3_stmt* statement) const noexcept;
};
using DatabasePtr = std::unique_ptr<sqlite3, CloseDatabase>;
using StatementPtr = std::unique_ptr<sqlite3_stmt, FinalizeStatement>;

// Throws the error `db` last reported: StoreConflict for a UNIQUE or PRIMARY KEY violation,
// StorageFull when the file system refused to grow a file, std::runtime_error otherwise. The
// message is SQLite's (it names tables and columns, never bound values, which may be secrets).
[[noreturn]] void throw_last_error(sqlite3* db);

// Opens `path` with SQLite's open flags; throws std::runtime_error naming the file.
DatabasePtr open_database(const std::string& path, int flags);

// Compiles one statement. `persistent` hints SQLite that it will be reused many times.
StatementPtr prepare(sqlite3* db, std::string_view sql, bool persistent);

// Runs statements without parameters (schema scripts, transaction control). Never use it
// with text that carries values: those go through Query's binds.
void execute_script(sqlite3* db, const char* sql);

// One use of a prepared statement: bind parameters (1-based), step, read columns (0-based).
// Resets the statement and clears its bindings when it ends, so the statement can be reused
// and no bound value lingers in SQLite's memory. Text and blobs are bound without copying:
// they must outlive the Query.
class Query {
public:
  explicit Query(sqlite3_stmt* statement) noexcept : statement_(statement) {}
  ~Query();
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;

  void bind_text(int index, std::string_view text);
  void bind_integer(int index, int64_t value);
  void bind_optional_integer(int index, const std::optional<int64_t>& value); // nullopt = NULL
  void bind_blob(int index, std::span<const uint8_t> bytes);                  // empty = empty blob

  bool next_row();     // true while rows come; throws on error
  void run();          // for statements that return no rows
  int changes() const; // rows written by the last run()

  std::string text(int column) const;
  int64_t integer(int column) const;
  std::optional<int64_t> optional_integer(int column) const;
  std::vector<uint8_t> blob(int column) const;

private:
  sqlite3_stmt* statement_;
};

} // namespace connector::core::sqlite
