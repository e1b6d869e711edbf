#include "store/migrations.hpp"

#include "store/sqlite_support.hpp"
#include "time/unix_time.hpp"

#include <sqlite3.h>

#include <stdexcept>
#include <string>

namespace connector::core {
namespace {

// Tables are STRICT so a wrongly typed bind fails loudly instead of being stored as text.
// Every "none" is an empty string or blob (NOT NULL), except the optional times, which are
// NULL when absent. No foreign keys: a flow's source and workspace are optional references.
constexpr SchemaMigration store_migrations[] = {
    {1, "api keys, redirect allow-list, workspaces, connections, sources", R"sql(
CREATE TABLE api_keys (
  id              TEXT NOT NULL PRIMARY KEY,
  organization_id TEXT NOT NULL,
  name            TEXT NOT NULL,
  key_hash        TEXT NOT NULL,
  permissions     TEXT NOT NULL,
  created_at      INTEGER NOT NULL,
  revoked_at      INTEGER,
  last_used_at    INTEGER
) STRICT;
CREATE UNIQUE INDEX api_keys_by_key_hash ON api_keys (key_hash);
CREATE INDEX api_keys_by_organization ON api_keys (organization_id, id);

CREATE TABLE allowed_redirects (
  organization_id TEXT NOT NULL,
  url             TEXT NOT NULL,
  created_at      INTEGER NOT NULL,
  PRIMARY KEY (organization_id, url)
) STRICT, WITHOUT ROWID;

CREATE TABLE workspaces (
  id              TEXT NOT NULL PRIMARY KEY,
  organization_id TEXT NOT NULL,
  name            TEXT NOT NULL,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX workspaces_by_organization ON workspaces (organization_id, id);

CREATE TABLE connections (
  id                   TEXT NOT NULL PRIMARY KEY,
  organization_id      TEXT NOT NULL,
  slug                 TEXT NOT NULL,
  source_definition_id TEXT NOT NULL,
  workspace_id         TEXT NOT NULL,
  state_hash           TEXT NOT NULL,
  redirect_url         TEXT NOT NULL,
  redirect_uri         TEXT NOT NULL,
  sealed_code_verifier BLOB NOT NULL,
  flow_options_json    TEXT NOT NULL,
  status               TEXT NOT NULL,
  error_code           TEXT NOT NULL,
  error_description    TEXT NOT NULL,
  sealed_credentials   BLOB NOT NULL,
  granted_scopes       TEXT NOT NULL,
  token_expires_at     INTEGER,
  account_id           TEXT NOT NULL,
  account_name         TEXT NOT NULL,
  source_id            TEXT NOT NULL,
  created_at           INTEGER NOT NULL,
  expires_at           INTEGER NOT NULL,
  updated_at           INTEGER NOT NULL,
  version              INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX connections_by_state_hash ON connections (state_hash);
CREATE INDEX connections_by_organization ON connections (organization_id, id);

CREATE TABLE sources (
  id                   TEXT NOT NULL PRIMARY KEY,
  organization_id      TEXT NOT NULL,
  workspace_id         TEXT NOT NULL,
  source_definition_id TEXT NOT NULL,
  slug                 TEXT NOT NULL,
  name                 TEXT NOT NULL,
  configuration_json   TEXT NOT NULL,
  connection_id        TEXT NOT NULL,
  status               TEXT NOT NULL,
  status_detail        TEXT NOT NULL,
  sealed_credentials   BLOB NOT NULL,
  granted_scopes       TEXT NOT NULL,
  token_expires_at     INTEGER,
  created_at           INTEGER NOT NULL,
  updated_at           INTEGER NOT NULL,
  version              INTEGER NOT NULL
) STRICT;
CREATE INDEX sources_by_workspace ON sources (organization_id, workspace_id, id);
CREATE INDEX sources_by_organization ON sources (organization_id, id);
)sql"},
    {2, "token lifecycle, re-authorization, organizations' own OAuth apps", R"sql(
ALTER TABLE connections ADD COLUMN target_source_id TEXT NOT NULL DEFAULT '';
ALTER TABLE connections ADD COLUMN oauth_app_scope TEXT NOT NULL DEFAULT '';
ALTER TABLE sources ADD COLUMN auth_type TEXT NOT NULL DEFAULT 'oauth2.0';
ALTER TABLE sources ADD COLUMN oauth_app_scope TEXT NOT NULL DEFAULT '';
ALTER TABLE sources ADD COLUMN refresh_lease_owner TEXT NOT NULL DEFAULT '';
ALTER TABLE sources ADD COLUMN refresh_lease_until INTEGER;
ALTER TABLE sources ADD COLUMN refresh_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sources ADD COLUMN next_refresh_at INTEGER;
ALTER TABLE sources ADD COLUMN last_refreshed_at INTEGER;
ALTER TABLE sources ADD COLUMN last_refresh_error_json TEXT NOT NULL DEFAULT '';
CREATE INDEX sources_by_token_expiry ON sources (token_expires_at) WHERE token_expires_at IS NOT NULL;

CREATE TABLE oauth_apps (
  organization_id      TEXT NOT NULL,
  scope                TEXT NOT NULL,
  slug                 TEXT NOT NULL,
  client_id            TEXT NOT NULL,
  sealed_configuration BLOB NOT NULL,
  created_at           INTEGER NOT NULL,
  updated_at           INTEGER NOT NULL,
  PRIMARY KEY (organization_id, scope, slug)
) STRICT, WITHOUT ROWID;
)sql"},
    {3, "the plugin build a flow started on", R"sql(
ALTER TABLE connections ADD COLUMN plugin_build TEXT NOT NULL DEFAULT '';
)sql"},
    // A state now names its connection ("<id>.<secret>") and is checked against the stored
    // hash after a primary-key lookup: an index over random hashes cost every new flow a write
    // at a random place of a large index. Flows started before keep the index they need,
    // which stays small (it only holds them).
    {4, "states that name their connection", R"sql(
ALTER TABLE connections ADD COLUMN state_names_connection INTEGER NOT NULL DEFAULT 0;
DROP INDEX connections_by_state_hash;
CREATE UNIQUE INDEX connections_by_legacy_state_hash ON connections (state_hash) WHERE state_names_connection = 0;
)sql"},
    // The host keeps API keys and OAuth apps in memory (generation_cache.hpp). Every change to
    // either table moves this counter, whoever makes it (the host, or the CLI revoking a key
    // while the host runs), and a moved counter empties those caches.
    {5, "a change counter for the lookups the host caches", R"sql(
CREATE TABLE cache_generation (
  id         INTEGER PRIMARY KEY CHECK (id = 1),
  generation INTEGER NOT NULL
) STRICT;
INSERT INTO cache_generation (id, generation) VALUES (1, 0);
CREATE TRIGGER api_keys_inserted AFTER INSERT ON api_keys BEGIN UPDATE cache_generation SET generation = generation + 1; END;
CREATE TRIGGER api_keys_updated AFTER UPDATE ON api_keys BEGIN UPDATE cache_generation SET generation = generation + 1; END;
CREATE TRIGGER api_keys_deleted AFTER DELETE ON api_keys BEGIN UPDATE cache_generation SET generation = generation + 1; END;
CREATE TRIGGER oauth_apps_inserted AFTER INSERT ON oauth_apps BEGIN UPDATE cache_generation SET generation = generation + 1; END;
CREATE TRIGGER oauth_apps_updated AFTER UPDATE ON oauth_apps BEGIN UPDATE cache_generation SET generation = generation + 1; END;
CREATE TRIGGER oauth_apps_deleted AFTER DELETE ON oauth_apps BEGIN UPDATE cache_generation SET generation = generation + 1; END;
)sql"},
    // Connections are only ever looked up by id (the primary key) and then checked against the
    // organization: this index served no query, yet cost every new flow a third B-tree insert
    // and about 60 bytes.
    {6, "no organization index on connections", R"sql(
DROP INDEX connections_by_organization;
)sql"},
    // A new connection's id starts with its row's key ("conn_" + 16 hex digits of the key + 16
    // random ones; oauth/ids.hpp), so a lookup by id is a rowid lookup and a new flow adds to
    // one B-tree, at its end. The index over the id text had cost every flow about half of
    // the pages its commit wrote to the log (it was rebalanced every few inserts). SQLite
    // cannot drop a primary key in place, so the table is rebuilt; rows from before keep
    // their rowids and are found through an index that only holds them (id_names_row = 0).
    {7, "connections keyed by the number their id starts with", R"sql(
CREATE TABLE connections_keyed (
  row_key                INTEGER PRIMARY KEY,
  id                     TEXT NOT NULL,
  organization_id        TEXT NOT NULL,
  slug                   TEXT NOT NULL,
  source_definition_id   TEXT NOT NULL,
  workspace_id           TEXT NOT NULL,
  state_hash             TEXT NOT NULL,
  redirect_url           TEXT NOT NULL,
  redirect_uri           TEXT NOT NULL,
  sealed_code_verifier   BLOB NOT NULL,
  flow_options_json      TEXT NOT NULL,
  status                 TEXT NOT NULL,
  error_code             TEXT NOT NULL,
  error_description      TEXT NOT NULL,
  sealed_credentials     BLOB NOT NULL,
  granted_scopes         TEXT NOT NULL,
  token_expires_at       INTEGER,
  account_id             TEXT NOT NULL,
  account_name           TEXT NOT NULL,
  source_id              TEXT NOT NULL,
  created_at             INTEGER NOT NULL,
  expires_at             INTEGER NOT NULL,
  updated_at             INTEGER NOT NULL,
  version                INTEGER NOT NULL,
  target_source_id       TEXT NOT NULL DEFAULT '',
  oauth_app_scope        TEXT NOT NULL DEFAULT '',
  plugin_build           TEXT NOT NULL DEFAULT '',
  state_names_connection INTEGER NOT NULL DEFAULT 0,
  id_names_row           INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT INTO connections_keyed (row_key, id, organization_id, slug, source_definition_id, workspace_id, state_hash,
    redirect_url, redirect_uri, sealed_code_verifier, flow_options_json, status, error_code, error_description,
    sealed_credentials, granted_scopes, token_expires_at, account_id, account_name, source_id, created_at,
    expires_at, updated_at, version, target_source_id, oauth_app_scope, plugin_build, state_names_connection)
  SELECT rowid, id, organization_id, slug, source_definition_id, workspace_id, state_hash, redirect_url,
    redirect_uri, sealed_code_verifier, flow_options_json, status, error_code, error_description,
    sealed_credentials, granted_scopes, token_expires_at, account_id, account_name, source_id, created_at,
    expires_at, updated_at, version, target_source_id, oauth_app_scope, plugin_build, state_names_connection
  FROM connections;
DROP TABLE connections;
ALTER TABLE connections_keyed RENAME TO connections;
CREATE UNIQUE INDEX connections_by_legacy_id ON connections (id) WHERE id_names_row = 0;
CREATE UNIQUE INDEX connections_by_legacy_state_hash ON connections (state_hash) WHERE state_names_connection = 0;
)sql"},
    // The flows that may still use their secrets (pending or authorized), by organization: the
    // cap on an organization's pending flows counts its own, and the purge finds the lapsed
    // ones without reading the whole table. Only live flows are in it, so it stays small, and
    // a new flow goes at the end of its organization's part. The condition is written as an
    // OR so that a query naming one status can use the index. Flows that ended before this
    // version kept their sealed verifier or tokens: they lose them here (secure_delete zeroes
    // the old bytes); lapsed live flows are left to the purge.
    {8, "live flows by organization; ended flows keep no secrets", R"sql(
CREATE INDEX connections_live ON connections (organization_id, status, expires_at)
  WHERE status = 'pending' OR status = 'authorized';
UPDATE connections SET sealed_code_verifier = x'', sealed_credentials = x''
  WHERE status <> 'pending' AND status <> 'authorized'
    AND (length(sealed_code_verifier) > 0 OR length(sealed_credentials) > 0);
)sql"},
    // Version 8's index cost every authorize an insert into a second tree (about a tenth of
    // its throughput, bench/README.md). Pending flows, made with a fixed lifetime in key order,
    // are found lapsed by a walk of the table in that order instead, and the cap on pending
    // flows is counted in each process's memory. Authorized flows, rare and with a lifetime
    // from their callback, keep an index of their own, kept up by the callback.
    {9, "only authorized flows are indexed by expiry", R"sql(
DROP INDEX connections_live;
CREATE INDEX connections_authorized ON connections (expires_at) WHERE status = 'authorized';
)sql"},
    // A connection's id no longer starts with its row's key: public ids say nothing about how a
    // store keeps its rows. Rows keep the keys they have, and SQLite gives a new row the next
    // key after the largest, so the table stays in the order flows were made (the purge walks
    // it in that order); an index over every id finds a flow by the id the API hands out.
    {10, "connections found by their id through an index", R"sql(
DROP INDEX connections_by_legacy_id;
ALTER TABLE connections DROP COLUMN id_names_row;
CREATE UNIQUE INDEX connections_by_id ON connections (id);
)sql"},
    // Version 10's index over every id cost each authorize a second B-tree and a page more in
    // every commit's log (bench/README.md). The store now takes a new flow's row key from its
    // id where it can (SqliteStore::insert_flow, key_from_id = 1), so a lookup by id is a
    // lookup by key; the index keeps only the rows whose key is not their id's: every row
    // from before, rows another program wrote, and the rare new flow whose key was taken.
    {11, "new flows keyed by their id; the id index keeps only the others", R"sql(
ALTER TABLE connections ADD COLUMN key_from_id INTEGER NOT NULL DEFAULT 0;
DROP INDEX connections_by_id;
CREATE UNIQUE INDEX connections_by_unkeyed_id ON connections (id) WHERE key_from_id = 0;
)sql"},
};

void record_version(sqlite3* db, int version) {
  const sqlite::StatementPtr statement =
      sqlite::prepare(db, "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)", false);
  sqlite::Query insert(statement.get());
  insert.bind_integer(1, version);
  insert.bind_integer(2, unix_now());
  insert.run();
}

// One migration, in its own IMMEDIATE transaction: taking the write lock first means a second
// process waits (busy_timeout), then sees the step done and skips it.
void apply_one(sqlite3* db, const SchemaMigration& migration) {
  sqlite::execute_script(db, "BEGIN IMMEDIATE");
  try {
    if (read_schema_version(db) < migration.version) {
      sqlite::execute_script(db, "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                 "version INTEGER NOT NULL PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT");
      sqlite::execute_script(db, migration.sql);
      record_version(db, migration.version);
    }
    sqlite::execute_script(db, "COMMIT");
  } catch (const std::exception& error) {
    if (sqlite3_get_autocommit(db) == 0) sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    throw std::runtime_error("schema migration " + std::to_string(migration.version) + " (" + migration.description +
                             ") failed: " + error.what());
  }
}

} // namespace

void refuse_if_newer(int database_version, int latest) {
  if (database_version > latest) {
    throw std::runtime_error("the database is at schema version " + std::to_string(database_version) +
                             ", newer than this build knows (" + std::to_string(latest) +
                             "): it was written by a newer connector host; run that version or restore a backup");
  }
}

void check_strictly_increasing(std::span<const SchemaMigration> migrations) {
  int previous = 0;
  for (const SchemaMigration& migration : migrations) {
    if (migration.version <= previous) {
      throw std::logic_error("schema migrations must have strictly increasing versions from 1");
    }
    previous = migration.version;
  }
}

std::span<const SchemaMigration> sqlite_schema_migrations() { return store_migrations; }

int latest_schema_version(std::span<const SchemaMigration> migrations) {
  return migrations.empty() ? 0 : migrations.back().version;
}

int read_schema_version(sqlite3* db) {
  const sqlite::StatementPtr table_lookup =
      sqlite::prepare(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'", false);
  if (!sqlite::Query(table_lookup.get()).next_row()) return 0;

  const sqlite::StatementPtr newest =
      sqlite::prepare(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", false);
  sqlite::Query query(newest.get());
  query.next_row();
  return static_cast<int>(query.integer(0));
}

std::span<const SchemaMigration> steps_after(int version, std::span<const SchemaMigration> migrations) {
  std::size_t first = 0;
  while (first < migrations.size() && migrations[first].version <= version)
    ++first;
  return migrations.subspan(first);
}

void run_steps(std::span<const SchemaMigration> steps, const MigrationStepObserver& on_step,
               const std::function<void(const SchemaMigration&)>& apply) {
  const int count = static_cast<int>(steps.size());
  for (int i = 0; i < count; ++i) {
    const SchemaMigration& step = steps[static_cast<std::size_t>(i)];
    if (on_step) on_step(step, i, count);
    apply(step);
  }
}

void apply_schema_migrations(sqlite3* db, std::span<const SchemaMigration> migrations,
                             const MigrationStepObserver& on_step) {
  check_strictly_increasing(migrations);
  const int latest = latest_schema_version(migrations);
  const int current = read_schema_version(db);
  refuse_if_newer(current, latest);
  run_steps(steps_after(current, migrations), on_step,
            [db](const SchemaMigration& migration) { apply_one(db, migration); });
  // A newer host may have migrated the same file while we were waiting for the lock.
  refuse_if_newer(read_schema_version(db), latest);
}

} // namespace connector::core
