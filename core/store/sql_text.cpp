#include "store/sql_text.hpp"

#include <algorithm>

namespace connector::core::sql_text {

std::vector<std::string_view> split_columns(std::string_view columns) {
  std::vector<std::string_view> names;
  for (size_t start = 0; start < columns.size();) {
    const size_t comma = std::min(columns.find(", ", start), columns.size());
    names.push_back(columns.substr(start, comma - start));
    start = comma + 2;
  }
  return names;
}

std::string select(std::string_view table, std::string_view columns, std::string_view condition) {
  return std::string("SELECT ").append(columns).append(" FROM ").append(table).append(" ").append(condition);
}

std::string insert(std::string_view table, std::string_view columns, char marker) {
  const size_t count = split_columns(columns).size();
  std::string parameters;
  for (size_t n = 1; n <= count; ++n) {
    if (n > 1) parameters.append(", ");
    parameters.append(1, marker).append(std::to_string(n));
  }
  return std::string("INSERT INTO ")
      .append(table)
      .append(" (")
      .append(columns)
      .append(") VALUES (")
      .append(parameters + ")");
}

std::string compare_and_swap(std::string_view table, std::string_view columns, char marker, std::string_view row) {
  const std::vector<std::string_view> names = split_columns(columns);
  auto parameter = [&](std::string_view name) {
    std::string text(1, marker);
    text.append(std::to_string(std::find(names.begin(), names.end(), name) - names.begin() + 1));
    return text;
  };
  std::string sql = std::string("UPDATE ").append(table).append(" SET ");
  for (const std::string_view name : names) {
    if (name == "id" || name == "organization_id" || name == "created_at" || name == "version") continue;
    sql.append(name).append(" = ").append(parameter(name)).append(", ");
  }
  return sql.append("version = version + 1 WHERE ")
      .append(row.empty() ? "id = " + parameter("id") : std::string(row))
      .append(" AND organization_id = ")
      .append(parameter("organization_id"))
      .append(" AND version = ")
      .append(parameter("version"));
}

} // namespace connector::core::sql_text
