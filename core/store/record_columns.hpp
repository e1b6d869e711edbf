// Each stored record's columns, in one order for both backends: the column list names them,
// and visit_columns hands the record's fields to a visitor in that order, which binds them as
// a statement's parameters (a const record) or reads them from a row (a record to fill). A
// visitor takes std::string, int64_t, std::optional<int64_t>, std::vector<uint8_t>, bool and
// FlowStatus.
#pragma once

#include "store/records.hpp"

#include <concepts>
#include <string_view>
#include <type_traits>

namespace connector::core::columns {

template <typename Record, typename Of>
concept RecordOf = std::same_as<std::remove_const_t<Record>, Of>;

constexpr std::string_view api_key =
    "id, organization_id, name, key_hash, permissions, created_at, revoked_at, last_used_at";
constexpr std::string_view allowed_redirect = "organization_id, url, created_at";
constexpr std::string_view workspace = "id, organization_id, name, created_at, updated_at";
// SQLite's table and columns keep the names its first schema gave them: an OAuth flow is a
// row of `connections`, its client_redirect_url is `redirect_url` and its callback_uri
// `redirect_uri`. PostgreSQL's schema, which started later, names them as the record does.
constexpr std::string_view sqlite_flow =
    "id, organization_id, slug, source_definition_id, workspace_id, state_hash, redirect_url, redirect_uri, "
    "sealed_code_verifier, flow_options_json, status, error_code, error_description, sealed_credentials, "
    "granted_scopes, token_expires_at, account_id, account_name, source_id, target_source_id, oauth_app_scope, "
    "plugin_build, state_names_connection, created_at, expires_at, updated_at, version";
constexpr std::string_view postgres_flow =
    "id, organization_id, slug, source_definition_id, workspace_id, state_hash, client_redirect_url, callback_uri, "
    "sealed_code_verifier, flow_options_json, status, error_code, error_description, sealed_credentials, "
    "granted_scopes, token_expires_at, account_id, account_name, source_id, target_source_id, oauth_app_scope, "
    "plugin_build, state_names_connection, created_at, expires_at, updated_at, version";
constexpr std::string_view source =
    "id, organization_id, workspace_id, source_definition_id, slug, name, configuration_json, connection_id, "
    "status, status_detail, sealed_credentials, granted_scopes, token_expires_at, auth_type, oauth_app_scope, "
    "refresh_lease_owner, refresh_lease_until, refresh_failures, next_refresh_at, last_refreshed_at, "
    "last_refresh_error_json, created_at, updated_at, version";
constexpr std::string_view oauth_app =
    "organization_id, scope, slug, client_id, sealed_configuration, created_at, updated_at";

// How many columns a list names.
constexpr int count(std::string_view list) {
  int commas = 0;
  for (const char c : list)
    commas += c == ',' ? 1 : 0;
  return commas + 1;
}

template <RecordOf<ApiKeyRecord> Record, typename Visit> void visit_columns(Record& key, Visit&& visit) {
  visit(key.id);
  visit(key.organization_id);
  visit(key.name);
  visit(key.key_hash);
  visit(key.permissions);
  visit(key.created_at);
  visit(key.revoked_at);
  visit(key.last_used_at);
}

template <RecordOf<AllowedRedirectRecord> Record, typename Visit> void visit_columns(Record& redirect, Visit&& visit) {
  visit(redirect.organization_id);
  visit(redirect.url);
  visit(redirect.created_at);
}

template <RecordOf<WorkspaceRecord> Record, typename Visit> void visit_columns(Record& row, Visit&& visit) {
  visit(row.id);
  visit(row.organization_id);
  visit(row.name);
  visit(row.created_at);
  visit(row.updated_at);
}

template <RecordOf<FlowRecord> Record, typename Visit> void visit_columns(Record& flow, Visit&& visit) {
  visit(flow.id);
  visit(flow.organization_id);
  visit(flow.slug);
  visit(flow.source_definition_id);
  visit(flow.workspace_id);
  visit(flow.state_hash);
  visit(flow.client_redirect_url);
  visit(flow.callback_uri);
  visit(flow.sealed_code_verifier);
  visit(flow.flow_options_json);
  visit(flow.status);
  visit(flow.error_code);
  visit(flow.error_description);
  visit(flow.sealed_credentials);
  visit(flow.granted_scopes);
  visit(flow.token_expires_at);
  visit(flow.account_id);
  visit(flow.account_name);
  visit(flow.source_id);
  visit(flow.target_source_id);
  visit(flow.oauth_app_scope);
  visit(flow.plugin_build);
  visit(flow.state_names_connection);
  visit(flow.created_at);
  visit(flow.expires_at);
  visit(flow.updated_at);
  visit(flow.version);
}

template <RecordOf<SourceRecord> Record, typename Visit> void visit_columns(Record& row, Visit&& visit) {
  visit(row.id);
  visit(row.organization_id);
  visit(row.workspace_id);
  visit(row.source_definition_id);
  visit(row.slug);
  visit(row.name);
  visit(row.configuration_json);
  visit(row.connection_id);
  visit(row.status);
  visit(row.status_detail);
  visit(row.sealed_credentials);
  visit(row.granted_scopes);
  visit(row.token_expires_at);
  visit(row.auth_type);
  visit(row.oauth_app_scope);
  visit(row.refresh_lease_owner);
  visit(row.refresh_lease_until);
  visit(row.refresh_failures);
  visit(row.next_refresh_at);
  visit(row.last_refreshed_at);
  visit(row.last_refresh_error_json);
  visit(row.created_at);
  visit(row.updated_at);
  visit(row.version);
}

template <RecordOf<OAuthAppRecord> Record, typename Visit> void visit_columns(Record& app, Visit&& visit) {
  visit(app.organization_id);
  visit(app.scope);
  visit(app.slug);
  visit(app.client_id);
  visit(app.sealed_configuration);
  visit(app.created_at);
  visit(app.updated_at);
}

} // namespace connector::core::columns
