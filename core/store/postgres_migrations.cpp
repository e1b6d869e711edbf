#include "store/postgres_migrations.hpp"

#include "store/postgres_support.hpp"
#include "time/unix_time.hpp"

#include <stdexcept>
#include <string>

namespace connector::core {

namespace {

// Integers are bigint (Unix seconds, versions, counters), sealed secrets bytea, flags
// boolean. Ids, and the text that listings order by, compare byte by byte (COLLATE "C"), as
// in SQLite, whatever the database's locale: pages follow the same order on both backends,
// and comparisons cost less. A flow is found by its id, which starts with the time it was
// made, so new rows go to the right edge of the primary key's B-tree (SQLite's row key from
// the id has no counterpart here); the purge finds old flows through a BRIN index over
// created_at (flows are stored in the order they are made, and a BRIN index costs an
// authorize almost nothing to keep) and lapsed pending ones through a partial index that
// holds pending flows only. cache_generation moves with every change to what the host caches (API
// keys, OAuth apps), in the same transaction as the change, as SQLite's triggers do.
constexpr SchemaMigration store_migrations[] = {
    {11, "the schema of SQLite's versions 1 to 11", R"sql(
CREATE TABLE api_keys (
  id              text COLLATE "C" PRIMARY KEY,
  organization_id text COLLATE "C" NOT NULL,
  name            text NOT NULL,
  key_hash        text NOT NULL UNIQUE,
  permissions     text NOT NULL,
  created_at      bigint NOT NULL,
  revoked_at      bigint,
  last_used_at    bigint
);
CREATE INDEX api_keys_by_organization ON api_keys (organization_id, id);

CREATE TABLE allowed_redirects (
  organization_id text NOT NULL,
  url             text COLLATE "C" NOT NULL,
  created_at      bigint NOT NULL,
  PRIMARY KEY (organization_id, url)
);

CREATE TABLE workspaces (
  id              text COLLATE "C" PRIMARY KEY,
  organization_id text NOT NULL,
  name            text NOT NULL,
  created_at      bigint NOT NULL,
  updated_at      bigint NOT NULL
);
CREATE INDEX workspaces_by_organization ON workspaces (organization_id, id);

CREATE TABLE sources (
  id                      text COLLATE "C" PRIMARY KEY,
  organization_id         text NOT NULL,
  workspace_id            text NOT NULL,
  source_definition_id    text NOT NULL,
  slug                    text NOT NULL,
  name                    text NOT NULL,
  configuration_json      text NOT NULL,
  connection_id           text NOT NULL,
  status                  text NOT NULL,
  status_detail           text NOT NULL,
  sealed_credentials      bytea NOT NULL,
  granted_scopes          text NOT NULL,
  token_expires_at        bigint,
  created_at              bigint NOT NULL,
  updated_at              bigint NOT NULL,
  version                 bigint NOT NULL,
  auth_type               text NOT NULL DEFAULT 'oauth2.0',
  oauth_app_scope         text NOT NULL DEFAULT '',
  refresh_lease_owner     text NOT NULL DEFAULT '',
  refresh_lease_until     bigint,
  refresh_failures        bigint NOT NULL DEFAULT 0,
  next_refresh_at         bigint,
  last_refreshed_at       bigint,
  last_refresh_error_json text NOT NULL DEFAULT ''
);
CREATE INDEX sources_by_workspace ON sources (organization_id, workspace_id, id);
CREATE INDEX sources_by_organization ON sources (organization_id, id);
CREATE INDEX sources_by_token_expiry ON sources (token_expires_at) WHERE token_expires_at IS NOT NULL;

CREATE TABLE oauth_apps (
  organization_id      text NOT NULL,
  scope                text NOT NULL,
  slug                 text COLLATE "C" NOT NULL,
  client_id            text NOT NULL,
  sealed_configuration bytea NOT NULL,
  created_at           bigint NOT NULL,
  updated_at           bigint NOT NULL,
  PRIMARY KEY (organization_id, scope, slug)
);

CREATE TABLE connections (
  id                     text COLLATE "C" PRIMARY KEY,
  organization_id        text NOT NULL,
  slug                   text NOT NULL,
  source_definition_id   text NOT NULL,
  workspace_id           text NOT NULL,
  state_hash             text NOT NULL,
  client_redirect_url    text NOT NULL,
  callback_uri           text NOT NULL,
  sealed_code_verifier   bytea NOT NULL,
  flow_options_json      text NOT NULL,
  status                 text NOT NULL,
  error_code             text NOT NULL,
  error_description      text NOT NULL,
  sealed_credentials     bytea NOT NULL,
  granted_scopes         text NOT NULL,
  token_expires_at       bigint,
  account_id             text NOT NULL,
  account_name           text NOT NULL,
  source_id              text NOT NULL,
  created_at             bigint NOT NULL,
  expires_at             bigint NOT NULL,
  updated_at             bigint NOT NULL,
  version                bigint NOT NULL,
  target_source_id       text NOT NULL DEFAULT '',
  oauth_app_scope        text NOT NULL DEFAULT '',
  plugin_build           text NOT NULL DEFAULT '',
  state_names_connection boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX connections_by_legacy_state_hash ON connections (state_hash) WHERE NOT state_names_connection;
CREATE INDEX connections_authorized ON connections (expires_at) WHERE status = 'authorized';
CREATE INDEX connections_pending ON connections (expires_at) WHERE status = 'pending';
CREATE INDEX connections_by_creation ON connections USING brin (created_at);

CREATE TABLE cache_generation (
  id         integer PRIMARY KEY CHECK (id = 1),
  generation bigint NOT NULL
);
INSERT INTO cache_generation VALUES (1, 0);
CREATE FUNCTION bump_cache_generation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE cache_generation SET generation = generation + 1;
  RETURN NULL;
END
$$;
CREATE TRIGGER api_keys_changed AFTER INSERT OR UPDATE OR DELETE ON api_keys
  FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_generation();
CREATE TRIGGER oauth_apps_changed AFTER INSERT OR UPDATE OR DELETE ON oauth_apps
  FOR EACH STATEMENT EXECUTE FUNCTION bump_cache_generation();
)sql"},
};

// The key of the advisory lock every replica takes to migrate: the bytes of "conn_sch".
constexpr int64_t migration_lock_key = 0x636f6e6e5f736368;

const char* const create_version_table =
    "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at bigint NOT NULL)";

void apply_one(pg::Connection& db, const SchemaMigration& migration) {
  db.execute_script("BEGIN");
  try {
    db.execute_script(migration.sql);
    db.run("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)",
           pg::Params().integer(migration.version).integer(unix_now()));
    db.execute_script("COMMIT");
  } catch (const std::exception& error) {
    try {
      db.execute_script("ROLLBACK");
    } catch (const std::exception&) { // the connection broke: the server undoes the step itself
    }
    throw std::runtime_error("schema migration " + std::to_string(migration.version) + " (" + migration.description +
                             ") failed: " + error.what());
  }
}

} // namespace

std::span<const SchemaMigration> postgres_schema_migrations() { return store_migrations; }

int read_postgres_schema_version(pg::Connection& db) {
  const pg::Result table = db.run("SELECT to_regclass('schema_migrations') IS NOT NULL", pg::Params());
  if (!table.boolean(0, 0)) return 0;
  return static_cast<int>(
      db.run("SELECT COALESCE(MAX(version), 0) FROM schema_migrations", pg::Params()).integer(0, 0));
}

void apply_postgres_schema_migrations(pg::Connection& db, std::span<const SchemaMigration> migrations,
                                      const MigrationStepObserver& on_step) {
  check_strictly_increasing(migrations);
  const int latest = latest_schema_version(migrations);
  // A session lock: it is released by the unlock below or, if this process dies, with its
  // connection.
  db.run("SELECT pg_advisory_lock($1)", pg::Params().integer(migration_lock_key));
  try {
    db.execute_script(create_version_table);
    const int current = read_postgres_schema_version(db);
    refuse_if_newer(current, latest);
    run_steps(steps_after(current, migrations), on_step,
              [&db](const SchemaMigration& migration) { apply_one(db, migration); });
  } catch (...) {
    if (db.usable()) db.run("SELECT pg_advisory_unlock($1)", pg::Params().integer(migration_lock_key));
    throw;
  }
  db.run("SELECT pg_advisory_unlock($1)", pg::Params().integer(migration_lock_key));
}

} // namespace connector::core
