// Records for the store's tests, every field set to something distinct from its default (so a
// lost column shows), and comparisons that name the field that differs.
#pragma once

#include "store/records.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace connector::testing::store_records {

using core::ApiKeyRecord;
using core::FlowRecord;
using core::FlowStatus;
using core::PendingSweep;
using core::SourceRecord;
using core::WorkspaceRecord;

inline ApiKeyRecord make_api_key(const std::string& id, const std::string& organization_id,
                                 const std::string& key_hash) {
  ApiKeyRecord key;
  key.id = id;
  key.organization_id = organization_id;
  key.name = "name of " + id;
  key.key_hash = key_hash;
  key.permissions = "sources credentials:read";
  key.created_at = 1700000000;
  return key;
}

inline WorkspaceRecord make_workspace(const std::string& organization_id, const std::string& id) {
  return WorkspaceRecord{id, organization_id, "workspace " + id, 1700000001, 1700000002};
}

// Every field set to something distinct from its default, so a lost column shows.
inline FlowRecord make_connection(const std::string& organization_id, const std::string& id) {
  FlowRecord connection;
  connection.id = id;
  connection.organization_id = organization_id;
  connection.slug = "github";
  connection.source_definition_id = "def_github";
  connection.workspace_id = "ws_1";
  connection.state_hash = "state-hash-of-" + id;
  connection.client_redirect_url = "https://app.example/done";
  connection.callback_uri = "https://host.example/oauth/callback";
  connection.sealed_code_verifier = {0x01, 0x00, 0xff, 0x00, 0x7f}; // zero bytes inside: binary, not text
  connection.flow_options_json = R"({"scopes":["repo"]})";
  connection.status = FlowStatus::authorized;
  connection.error_code = "e_code";
  connection.error_description = "e description";
  connection.sealed_credentials = {0x01, 0x02, 0x00, 0x03};
  connection.granted_scopes = "repo read:user";
  connection.token_expires_at = 1700003600;
  connection.account_id = "acct_1";
  connection.account_name = "Octo Cat";
  connection.source_id = "src_1";
  connection.target_source_id = "src_0";
  connection.oauth_app_scope = "org";
  connection.plugin_build = "0123abcd";
  connection.created_at = 1700000000;
  connection.expires_at = 1700000600;
  connection.updated_at = 1700000010;
  connection.version = 1;
  return connection;
}

inline SourceRecord make_source(const std::string& organization_id, const std::string& workspace_id,
                                const std::string& id) {
  SourceRecord source;
  source.id = id;
  source.organization_id = organization_id;
  source.workspace_id = workspace_id;
  source.source_definition_id = "def_sheets";
  source.slug = "google-sheets";
  source.name = "sheet " + id;
  source.configuration_json = R"({"spreadsheet":"abc"})";
  source.connection_id = "conn_" + id;
  source.status = "active";
  source.status_detail = "fine";
  source.sealed_credentials = {0x01, 0x00, 0x09};
  source.granted_scopes = "spreadsheets.readonly";
  source.token_expires_at = 1700007200;
  source.auth_type = "oauth2.0";
  source.oauth_app_scope = "ws:ws_1";
  source.refresh_lease_owner = "host_x";
  source.refresh_lease_until = 1700000100;
  source.refresh_failures = 2;
  source.next_refresh_at = 1700000200;
  source.last_refreshed_at = 1700000050;
  source.last_refresh_error_json = R"({"code":"timeout"})";
  source.created_at = 1700000000;
  source.updated_at = 1700000005;
  source.version = 1;
  return source;
}

inline void expect_same_connection(const FlowRecord& actual, const FlowRecord& expected) {
  EXPECT_EQ(actual.id, expected.id);
  EXPECT_EQ(actual.organization_id, expected.organization_id);
  EXPECT_EQ(actual.slug, expected.slug);
  EXPECT_EQ(actual.source_definition_id, expected.source_definition_id);
  EXPECT_EQ(actual.workspace_id, expected.workspace_id);
  EXPECT_EQ(actual.state_hash, expected.state_hash);
  EXPECT_EQ(actual.client_redirect_url, expected.client_redirect_url);
  EXPECT_EQ(actual.callback_uri, expected.callback_uri);
  EXPECT_EQ(actual.sealed_code_verifier, expected.sealed_code_verifier);
  EXPECT_EQ(actual.flow_options_json, expected.flow_options_json);
  EXPECT_EQ(actual.status, expected.status);
  EXPECT_EQ(actual.error_code, expected.error_code);
  EXPECT_EQ(actual.error_description, expected.error_description);
  EXPECT_EQ(actual.sealed_credentials, expected.sealed_credentials);
  EXPECT_EQ(actual.granted_scopes, expected.granted_scopes);
  EXPECT_EQ(actual.token_expires_at, expected.token_expires_at);
  EXPECT_EQ(actual.account_id, expected.account_id);
  EXPECT_EQ(actual.account_name, expected.account_name);
  EXPECT_EQ(actual.source_id, expected.source_id);
  EXPECT_EQ(actual.target_source_id, expected.target_source_id);
  EXPECT_EQ(actual.oauth_app_scope, expected.oauth_app_scope);
  EXPECT_EQ(actual.plugin_build, expected.plugin_build);
  EXPECT_EQ(actual.state_names_connection, expected.state_names_connection);
  EXPECT_EQ(actual.created_at, expected.created_at);
  EXPECT_EQ(actual.expires_at, expected.expires_at);
  EXPECT_EQ(actual.updated_at, expected.updated_at);
  EXPECT_EQ(actual.version, expected.version);
}

inline void expect_same_source(const SourceRecord& actual, const SourceRecord& expected) {
  EXPECT_EQ(actual.id, expected.id);
  EXPECT_EQ(actual.organization_id, expected.organization_id);
  EXPECT_EQ(actual.workspace_id, expected.workspace_id);
  EXPECT_EQ(actual.source_definition_id, expected.source_definition_id);
  EXPECT_EQ(actual.slug, expected.slug);
  EXPECT_EQ(actual.name, expected.name);
  EXPECT_EQ(actual.configuration_json, expected.configuration_json);
  EXPECT_EQ(actual.connection_id, expected.connection_id);
  EXPECT_EQ(actual.status, expected.status);
  EXPECT_EQ(actual.status_detail, expected.status_detail);
  EXPECT_EQ(actual.sealed_credentials, expected.sealed_credentials);
  EXPECT_EQ(actual.granted_scopes, expected.granted_scopes);
  EXPECT_EQ(actual.token_expires_at, expected.token_expires_at);
  EXPECT_EQ(actual.auth_type, expected.auth_type);
  EXPECT_EQ(actual.oauth_app_scope, expected.oauth_app_scope);
  EXPECT_EQ(actual.refresh_lease_owner, expected.refresh_lease_owner);
  EXPECT_EQ(actual.refresh_lease_until, expected.refresh_lease_until);
  EXPECT_EQ(actual.refresh_failures, expected.refresh_failures);
  EXPECT_EQ(actual.next_refresh_at, expected.next_refresh_at);
  EXPECT_EQ(actual.last_refreshed_at, expected.last_refreshed_at);
  EXPECT_EQ(actual.last_refresh_error_json, expected.last_refresh_error_json);
  EXPECT_EQ(actual.created_at, expected.created_at);
  EXPECT_EQ(actual.updated_at, expected.updated_at);
  EXPECT_EQ(actual.version, expected.version);
}

template <typename Record> std::vector<std::string> ids_of(const std::vector<Record>& records) {
  std::vector<std::string> ids;
  ids.reserve(records.size());
  for (const Record& record : records)
    ids.push_back(record.id);
  return ids;
}

// The purge tests' "now", and the wall clock for tests whose ids carry the real time.
inline constexpr int64_t purge_now = 1'800'000'000;
inline int64_t wall_clock() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

// Bytes no real ciphertext would hold by chance, so that the file can be searched for them.
inline std::vector<uint8_t> sealed_marker(const std::string& name) {
  const std::string text = "SEALED-MARKER-" + name + "-0123456789abcdef";
  return {text.begin(), text.end()};
}

// A flow as the purge sees it: made 700 s before `purge_now`, with a marked verifier when
// pending and marked tokens when authorized.
inline FlowRecord flow_with_status(const std::string& organization_id, const std::string& id, FlowStatus status,
                                   int64_t expires_at) {
  FlowRecord connection;
  connection.id = id;
  connection.organization_id = organization_id;
  connection.slug = "github";
  connection.state_hash = "state-hash-of-" + id;
  connection.client_redirect_url = "https://app.example/done";
  connection.callback_uri = "https://host.example/oauth/callback";
  connection.flow_options_json = "{}";
  connection.status = status;
  if (status == FlowStatus::pending) connection.sealed_code_verifier = sealed_marker("verifier-" + id);
  if (status == FlowStatus::authorized) connection.sealed_credentials = sealed_marker("tokens-" + id);
  connection.created_at = purge_now - 700;
  connection.updated_at = purge_now - 700;
  connection.expires_at = expires_at;
  return connection;
}

} // namespace connector::testing::store_records
