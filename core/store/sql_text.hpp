// SQL built from a column list (record_columns.hpp), so that columns and parameters cannot
// drift apart. Parameters are numbered: `marker` is '?' for SQLite (?1, ?2, ...) and '$' for
// PostgreSQL ($1, $2, ...); the n-th column is parameter n.
#pragma once

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

} // namespace connector::core::sql_text
