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

namespace {

struct SecretPlace {
  std::string_view table;
  std::string_view column;
};

SecretPlace place_of(SecretColumn column) {
  switch (column) {
  case SecretColumn::source_credentials: return {"sources", "sealed_credentials"};
  case SecretColumn::oauth_app_configuration: return {"oauth_apps", "sealed_configuration"};
  case SecretColumn::flow_code_verifier: return {"connections", "sealed_code_verifier"};
  case SecretColumn::flow_credentials: return {"connections", "sealed_credentials"};
  }
  return {};
}

// The statement with its parameters numbered: "#n" becomes "?n" or "$n".
std::string numbered(std::string text, char marker) {
  std::replace(text.begin(), text.end(), '#', marker);
  return text;
}

} // namespace

std::string sealed_secrets_page(SecretColumn column, char marker, std::string_view position) {
  const auto [table, sealed] = place_of(column);
  const std::string non_empty = "length(" + std::string(sealed) + ") > 0";
  if (column == SecretColumn::oauth_app_configuration) {
    return numbered("SELECT organization_id, scope, slug, " + std::string(sealed) + ", '' FROM " + std::string(table) +
                        " WHERE (organization_id, scope, slug) > (#1, #2, #3) AND " + non_empty +
                        " ORDER BY organization_id, scope, slug LIMIT #4",
                    marker);
  }
  const std::string at(position);
  return numbered("SELECT id, '', '', " + std::string(sealed) + ", CAST(" + at + " AS text) FROM " +
                      std::string(table) + " WHERE " + at + " > #1 AND " + non_empty + " ORDER BY " + at + " LIMIT #2",
                  marker);
}

std::string replace_sealed_secret(SecretColumn column, char marker, std::string_view position) {
  const auto [table, sealed] = place_of(column);
  const std::string set = "UPDATE " + std::string(table) + " SET " + std::string(sealed) + " = #1 WHERE ";
  switch (column) {
  case SecretColumn::oauth_app_configuration:
    return numbered(set + "organization_id = #2 AND scope = #3 AND slug = #4 AND " + std::string(sealed) + " = #5",
                    marker);
  case SecretColumn::source_credentials:
    return numbered(set + std::string(position) + " = #2 AND " + std::string(sealed) +
                        " = #3 AND (refresh_lease_until IS NULL OR refresh_lease_until <= #4)",
                    marker);
  default: return numbered(set + std::string(position) + " = #2 AND " + std::string(sealed) + " = #3", marker);
  }
}

std::string count_rows_by_table() {
  std::string text;
  for (const std::string_view table :
       {"api_keys", "allowed_redirects", "workspaces", "connections", "sources", "oauth_apps"}) {
    if (!text.empty()) text += " UNION ALL ";
    text += "SELECT '" + std::string(table) + "', count(*) FROM " + std::string(table);
  }
  return text;
}

std::string count_secrets_by_key(char marker) {
  std::string text;
  for (const SecretColumn column : every_secret_column) {
    const auto [table, sealed] = place_of(column);
    if (!text.empty()) text += " UNION ALL ";
    // An envelope: version 1 and at least its fixed parts (crypto/sealer.hpp); anything else
    // is no secret a key could open, whatever its bytes say.
    text += "SELECT substr(" + std::string(sealed) + ", 2, 4), count(*) FROM " + std::string(table) + " WHERE length(" +
            std::string(sealed) + ") >= 33 AND substr(" + std::string(sealed) + ", 1, 1) = #1 GROUP BY 1";
  }
  return numbered(text, marker);
}

} // namespace connector::core::sql_text
