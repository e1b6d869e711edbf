// SQL built from a column list (record_columns.hpp), so that columns and parameters cannot
// drift apart. Parameters are numbered: `marker` is '?' for SQLite (?1, ?2, ...) and '$' for
// PostgreSQL ($1, $2, ...); the n-th column is parameter n.
#pragma once

#include "store/records.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace connector::core::sql_text {

std::vector<std::string_view> split_columns(std::string_view columns);

// "SELECT <columns> FROM <table> <condition>"
std::string select(std::string_view table, std::string_view columns, std::string_view condition);

// "INSERT INTO <table> (<columns>) VALUES (?1, ?2, ...)"
std::string insert(std::string_view table, std::string_view columns, char marker);

// UPDATE every column but the row's identity and creation time, only while the stored version
// is still the one the caller read (compare-and-swap), and bump the version. `row` finds the
// row; by default "id = ?n", n being the id column's parameter.
std::string compare_and_swap(std::string_view table, std::string_view columns, char marker, std::string_view row = {});

// The statements over sealed secrets (Store::list_sealed_secrets and friends). `position` is
// the column a backend walks and finds `column`'s rows by: the id, or SQLite's row key of a
// flow. A page selects id, scope, slug, the sealed bytes and the position as text; its
// parameters are the position after which it starts (an app's: organization, scope and slug)
// and then the limit.
std::string sealed_secrets_page(SecretColumn column, char marker, std::string_view position);
// Parameters: the new sealed bytes, the row (position; an app's organization, scope and slug),
// the bytes it must still hold, and for a source the time its refresh lease must have ended by.
std::string replace_sealed_secret(SecretColumn column, char marker, std::string_view position);
// Rows: each table of records' name and row count.
std::string count_rows_by_table();
// Rows: the key id bytes of the envelopes (see crypto/sealer.hpp) and their count, per column;
// values that are no envelope of the version in parameter 1 (one byte) are left out.
std::string count_secrets_by_key(char marker);

} // namespace connector::core::sql_text
