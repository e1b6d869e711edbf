#include "store/sqlite_store.hpp"

#include "store/migrations.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace connector::core {
namespace {

constexpr int busy_timeout_ms = 5000; // how long a writer waits for another process's transaction
constexpr int max_page_size = 200;

// Each table's columns, in the order the bind_* functions bind them (parameter ?n is the
// n-th column) and the read_* functions read them.
constexpr std::string_view api_key_columns =
    "id, organization_id, name, key_hash, permissions, created_at, revoked_at, last_used_at";
constexpr std::string_view redirect_columns = "organization_id, url, created_at";
constexpr std::string_view workspace_columns = "id, organization_id, name, created_at, updated_at";
// The table and columns keep the names the first schema gave them: an OAuth flow is a row
// of `connections`, its client_redirect_url is `redirect_url` and its callback_uri `redirect_uri`.
constexpr std::string_view flow_columns =
    "id, organization_id, slug, source_definition_id, workspace_id, state_hash, redirect_url, redirect_uri, "
    "sealed_code_verifier, flow_options_json, status, error_code, error_description, sealed_credentials, "
    "granted_scopes, token_expires_at, account_id, account_name, source_id, target_source_id, oauth_app_scope, "
    "plugin_build, state_names_connection, created_at, expires_at, updated_at, version";
constexpr std::string_view source_columns =
    "id, organization_id, workspace_id, source_definition_id, slug, name, configuration_json, connection_id, "
    "status, status_detail, sealed_credentials, granted_scopes, token_expires_at, auth_type, oauth_app_scope, "
    "refresh_lease_owner, refresh_lease_until, refresh_failures, next_refresh_at, last_refreshed_at, "
    "last_refresh_error_json, created_at, updated_at, version";
constexpr std::string_view oauth_app_columns =
    "organization_id, scope, slug, client_id, sealed_configuration, created_at, updated_at";

// --- SQL built once from the column lists, so that columns and parameters cannot drift apart.

std::vector<std::string_view> split_columns(std::string_view columns) {
  std::vector<std::string_view> names;
  for (size_t start = 0; start < columns.size();) {
    const size_t comma = std::min(columns.find(", ", start), columns.size());
    names.push_back(columns.substr(start, comma - start));
    start = comma + 2;
  }
  return names;
}

std::string select_sql(std::string_view table, std::string_view columns, std::string_view condition) {
  return std::string("SELECT ").append(columns).append(" FROM ").append(table).append(" ").append(condition);
}

std::string insert_sql(std::string_view table, std::string_view columns) {
  const size_t count = split_columns(columns).size();
  std::string parameters;
  for (size_t n = 1; n <= count; ++n) {
    parameters.append(n == 1 ? "?" : ", ?").append(std::to_string(n));
  }
  return std::string("INSERT INTO ")
      .append(table)
      .append(" (")
      .append(columns)
      .append(") VALUES (")
      .append(parameters + ")");
}

// UPDATE every column but the row's identity and creation time, only while the stored version
// is still the one the caller read (compare-and-swap), and bump the version. `row` finds the
// row by its id; by default "id = ?n", n being the id column's parameter.
std::string compare_and_swap_sql(std::string_view table, std::string_view columns, std::string_view row = {}) {
  const std::vector<std::string_view> names = split_columns(columns);
  auto parameter = [&](std::string_view name) {
    std::string text = "?";
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

// --- Records to parameters and rows to records, in the column lists' order.

void bind_api_key(sqlite::Query& query, const ApiKeyRecord& key) {
  int n = 0;
  query.bind_text(++n, key.id);
  query.bind_text(++n, key.organization_id);
  query.bind_text(++n, key.name);
  query.bind_text(++n, key.key_hash);
  query.bind_text(++n, key.permissions);
  query.bind_integer(++n, key.created_at);
  query.bind_optional_integer(++n, key.revoked_at);
  query.bind_optional_integer(++n, key.last_used_at);
}

ApiKeyRecord read_api_key(const sqlite::Query& row) {
  int n = 0;
  ApiKeyRecord key;
  key.id = row.text(n++);
  key.organization_id = row.text(n++);
  key.name = row.text(n++);
  key.key_hash = row.text(n++);
  key.permissions = row.text(n++);
  key.created_at = row.integer(n++);
  key.revoked_at = row.optional_integer(n++);
  key.last_used_at = row.optional_integer(n++);
  return key;
}

AllowedRedirectRecord read_redirect(const sqlite::Query& row) {
  return AllowedRedirectRecord{row.text(0), row.text(1), row.integer(2)};
}

void bind_workspace(sqlite::Query& query, const WorkspaceRecord& workspace) {
  int n = 0;
  query.bind_text(++n, workspace.id);
  query.bind_text(++n, workspace.organization_id);
  query.bind_text(++n, workspace.name);
  query.bind_integer(++n, workspace.created_at);
  query.bind_integer(++n, workspace.updated_at);
}

WorkspaceRecord read_workspace(const sqlite::Query& row) {
  return WorkspaceRecord{row.text(0), row.text(1), row.text(2), row.integer(3), row.integer(4)};
}

void bind_flow(sqlite::Query& query, const FlowRecord& flow) {
  int n = 0;
  query.bind_text(++n, flow.id);
  query.bind_text(++n, flow.organization_id);
  query.bind_text(++n, flow.slug);
  query.bind_text(++n, flow.source_definition_id);
  query.bind_text(++n, flow.workspace_id);
  query.bind_text(++n, flow.state_hash);
  query.bind_text(++n, flow.client_redirect_url);
  query.bind_text(++n, flow.callback_uri);
  query.bind_blob(++n, flow.sealed_code_verifier);
  query.bind_text(++n, flow.flow_options_json);
  query.bind_text(++n, to_string(flow.status));
  query.bind_text(++n, flow.error_code);
  query.bind_text(++n, flow.error_description);
  query.bind_blob(++n, flow.sealed_credentials);
  query.bind_text(++n, flow.granted_scopes);
  query.bind_optional_integer(++n, flow.token_expires_at);
  query.bind_text(++n, flow.account_id);
  query.bind_text(++n, flow.account_name);
  query.bind_text(++n, flow.source_id);
  query.bind_text(++n, flow.target_source_id);
  query.bind_text(++n, flow.oauth_app_scope);
  query.bind_text(++n, flow.plugin_build);
  query.bind_integer(++n, flow.state_names_connection ? 1 : 0);
  query.bind_integer(++n, flow.created_at);
  query.bind_integer(++n, flow.expires_at);
  query.bind_integer(++n, flow.updated_at);
  query.bind_integer(++n, flow.version);
}

FlowRecord read_flow(const sqlite::Query& row) {
  int n = 0;
  FlowRecord flow;
  flow.id = row.text(n++);
  flow.organization_id = row.text(n++);
  flow.slug = row.text(n++);
  flow.source_definition_id = row.text(n++);
  flow.workspace_id = row.text(n++);
  flow.state_hash = row.text(n++);
  flow.client_redirect_url = row.text(n++);
  flow.callback_uri = row.text(n++);
  flow.sealed_code_verifier = row.blob(n++);
  flow.flow_options_json = row.text(n++);
  const std::optional<FlowStatus> status = flow_status_from(row.text(n++));
  // A row from a newer build, or edited by hand: refuse rather than guess what it means.
  if (!status) throw std::runtime_error("connections row " + flow.id + " has an unknown status");
  flow.status = *status;
  flow.error_code = row.text(n++);
  flow.error_description = row.text(n++);
  flow.sealed_credentials = row.blob(n++);
  flow.granted_scopes = row.text(n++);
  flow.token_expires_at = row.optional_integer(n++);
  flow.account_id = row.text(n++);
  flow.account_name = row.text(n++);
  flow.source_id = row.text(n++);
  flow.target_source_id = row.text(n++);
  flow.oauth_app_scope = row.text(n++);
  flow.plugin_build = row.text(n++);
  flow.state_names_connection = row.integer(n++) != 0;
  flow.created_at = row.integer(n++);
  flow.expires_at = row.integer(n++);
  flow.updated_at = row.integer(n++);
  flow.version = row.integer(n++);
  return flow;
}

void bind_source(sqlite::Query& query, const SourceRecord& source) {
  int n = 0;
  query.bind_text(++n, source.id);
  query.bind_text(++n, source.organization_id);
  query.bind_text(++n, source.workspace_id);
  query.bind_text(++n, source.source_definition_id);
  query.bind_text(++n, source.slug);
  query.bind_text(++n, source.name);
  query.bind_text(++n, source.configuration_json);
  query.bind_text(++n, source.connection_id);
  query.bind_text(++n, source.status);
  query.bind_text(++n, source.status_detail);
  query.bind_blob(++n, source.sealed_credentials);
  query.bind_text(++n, source.granted_scopes);
  query.bind_optional_integer(++n, source.token_expires_at);
  query.bind_text(++n, source.auth_type);
  query.bind_text(++n, source.oauth_app_scope);
  query.bind_text(++n, source.refresh_lease_owner);
  query.bind_optional_integer(++n, source.refresh_lease_until);
  query.bind_integer(++n, source.refresh_failures);
  query.bind_optional_integer(++n, source.next_refresh_at);
  query.bind_optional_integer(++n, source.last_refreshed_at);
  query.bind_text(++n, source.last_refresh_error_json);
  query.bind_integer(++n, source.created_at);
  query.bind_integer(++n, source.updated_at);
  query.bind_integer(++n, source.version);
}

SourceRecord read_source(const sqlite::Query& row) {
  int n = 0;
  SourceRecord source;
  source.id = row.text(n++);
  source.organization_id = row.text(n++);
  source.workspace_id = row.text(n++);
  source.source_definition_id = row.text(n++);
  source.slug = row.text(n++);
  source.name = row.text(n++);
  source.configuration_json = row.text(n++);
  source.connection_id = row.text(n++);
  source.status = row.text(n++);
  source.status_detail = row.text(n++);
  source.sealed_credentials = row.blob(n++);
  source.granted_scopes = row.text(n++);
  source.token_expires_at = row.optional_integer(n++);
  source.auth_type = row.text(n++);
  source.oauth_app_scope = row.text(n++);
  source.refresh_lease_owner = row.text(n++);
  source.refresh_lease_until = row.optional_integer(n++);
  source.refresh_failures = row.integer(n++);
  source.next_refresh_at = row.optional_integer(n++);
  source.last_refreshed_at = row.optional_integer(n++);
  source.last_refresh_error_json = row.text(n++);
  source.created_at = row.integer(n++);
  source.updated_at = row.integer(n++);
  source.version = row.integer(n++);
  return source;
}

void bind_oauth_app(sqlite::Query& query, const OAuthAppRecord& app) {
  int n = 0;
  query.bind_text(++n, app.organization_id);
  query.bind_text(++n, app.scope);
  query.bind_text(++n, app.slug);
  query.bind_text(++n, app.client_id);
  query.bind_blob(++n, app.sealed_configuration);
  query.bind_integer(++n, app.created_at);
  query.bind_integer(++n, app.updated_at);
}

OAuthAppRecord read_oauth_app(const sqlite::Query& row) {
  return OAuthAppRecord{row.text(0), row.text(1),    row.text(2),   row.text(3),
                        row.blob(4), row.integer(5), row.integer(6)};
}

// --- Reading results.

template <typename Record, typename ReadRecord>
std::optional<Record> read_optional(sqlite::Query& query, ReadRecord read_record) {
  if (!query.next_row()) return std::nullopt;
  return read_record(query);
}

template <typename Record, typename ReadRecord>
std::vector<Record> read_all(sqlite::Query& query, ReadRecord read_record) {
  std::vector<Record> records;
  while (query.next_row())
    records.push_back(read_record(query));
  return records;
}

int page_size(int requested_limit) { return std::clamp(requested_limit, 1, max_page_size); }

// The query asked for page_size + 1 rows: the extra one only tells that another page exists.
template <typename Record, typename ReadRecord>
Page<Record> read_page(sqlite::Query& query, int size, ReadRecord read_record) {
  Page<Record> page;
  while (query.next_row()) {
    if (page.items.size() == static_cast<size_t>(size)) {
      page.next_after = page.items.back().id;
      break;
    }
    page.items.push_back(read_record(query));
  }
  return page;
}

void configure_connection(sqlite3* db) {
  sqlite3_busy_timeout(db, busy_timeout_ms);
  // WAL lets readers and one writer from several processes work at once; it is a property of
  // the file, so check that SQLite really switched (it silently keeps the old mode otherwise).
  const sqlite::StatementPtr journal_mode = sqlite::prepare(db, "PRAGMA journal_mode = WAL", false);
  sqlite::Query query(journal_mode.get());
  if (!query.next_row() || query.text(0) != "wal") {
    throw std::runtime_error("sqlite: the database cannot use write-ahead logging");
  }
  // NORMAL is durable across application crashes in WAL mode; a power loss may drop the last
  // commits but never corrupts the file.
  // secure_delete zeroes deleted content, so an erased source's sealed credentials do not
  // linger in free pages of the file.
  sqlite::execute_script(db, "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON");
}

} // namespace

SqliteStore::SqliteStore(const std::filesystem::path& path) {
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  db_ = sqlite::open_database(path.string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX);
  configure_connection(db_.get());
  apply_schema_migrations(db_.get(), sqlite_schema_migrations());
  sqlite::Query newest(prepared("SELECT coalesce(max(row_key), 0) FROM connections"));
  newest.next_row();
  newest_flow_key_ = newest.integer(0);
}

SqliteStore::SqliteStore(const std::filesystem::path& path, ReaderTag) {
  db_ = sqlite::open_database(path.string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX);
  sqlite3_busy_timeout(db_.get(), busy_timeout_ms);
  // Read-write at the file level (a WAL reader maintains the -shm index), read-only here.
  sqlite::execute_script(db_.get(), "PRAGMA query_only = ON");
}

std::unique_ptr<SqliteStore> SqliteStore::open_reader(const std::filesystem::path& path) {
  return std::unique_ptr<SqliteStore>(new SqliteStore(path, ReaderTag{}));
}

void SqliteStore::tune_for_service(int checkpoint_frames, int cache_mib) {
  const char* file = sqlite3_db_filename(db_.get(), "main");
  checkpointer_ = std::make_unique<WalCheckpointer>(file, checkpoint_frames);
  sqlite3_wal_autocheckpoint(db_.get(), 0);
  sqlite3_wal_hook(
      db_.get(),
      [](void* checkpointer, sqlite3* writer, const char*, int frames) {
        return static_cast<WalCheckpointer*>(checkpointer)->log_grew(writer, frames);
      },
      checkpointer_.get());
  const std::string cache = "PRAGMA cache_size = -" + std::to_string(cache_mib * 1024);
  sqlite::execute_script(db_.get(), cache.c_str());
}

SqliteStore::~SqliteStore() = default;

int SqliteStore::latest_schema_version() { return connector::core::latest_schema_version(sqlite_schema_migrations()); }

int SqliteStore::schema_version(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) return 0;
  const sqlite::DatabasePtr db = sqlite::open_database(path.string(), SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
  sqlite3_busy_timeout(db.get(), busy_timeout_ms);
  return read_schema_version(db.get());
}

void SqliteStore::migrate(const std::filesystem::path& path) { SqliteStore opened_and_migrated(path); }

sqlite3_stmt* SqliteStore::prepared(std::string_view sql) {
  auto found = statements_.find(sql);
  if (found == statements_.end()) {
    found = statements_.emplace(sql, sqlite::prepare(db_.get(), sql, true)).first;
  }
  return found->second.get();
}

void SqliteStore::execute_prepared(std::string_view sql) { sqlite::Query(prepared(sql)).run(); }

// --- API keys

void SqliteStore::insert_api_key(const ApiKeyRecord& key) {
  static const std::string sql = insert_sql("api_keys", api_key_columns);
  sqlite::Query query(prepared(sql));
  bind_api_key(query, key);
  query.run();
}

std::optional<ApiKeyRecord> SqliteStore::find_api_key_by_hash(const std::string& key_hash) {
  static const std::string sql = select_sql("api_keys", api_key_columns, "WHERE key_hash = ?1");
  sqlite::Query query(prepared(sql));
  query.bind_text(1, key_hash);
  return read_optional<ApiKeyRecord>(query, read_api_key);
}

std::vector<ApiKeyRecord> SqliteStore::list_api_keys(const std::string& organization_id) {
  static const std::string sql =
      select_sql("api_keys", api_key_columns, "WHERE ?1 = '' OR organization_id = ?1 ORDER BY organization_id, id");
  sqlite::Query query(prepared(sql));
  query.bind_text(1, organization_id);
  return read_all<ApiKeyRecord>(query, read_api_key);
}

bool SqliteStore::revoke_api_key(const std::string& key_id, int64_t now) {
  sqlite::Query query(prepared("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?2) WHERE id = ?1"));
  query.bind_text(1, key_id);
  query.bind_integer(2, now);
  query.run();
  return query.changes() == 1;
}

// --- Redirect allow-list

void SqliteStore::add_allowed_redirect(const AllowedRedirectRecord& record) {
  sqlite::Query query(prepared("INSERT INTO allowed_redirects (organization_id, url, created_at) VALUES (?1, ?2, ?3) "
                               "ON CONFLICT (organization_id, url) DO NOTHING"));
  query.bind_text(1, record.organization_id);
  query.bind_text(2, record.url);
  query.bind_integer(3, record.created_at);
  query.run();
}

bool SqliteStore::remove_allowed_redirect(const std::string& organization_id, const std::string& url) {
  sqlite::Query query(prepared("DELETE FROM allowed_redirects WHERE organization_id = ?1 AND url = ?2"));
  query.bind_text(1, organization_id);
  query.bind_text(2, url);
  query.run();
  return query.changes() == 1;
}

std::vector<AllowedRedirectRecord> SqliteStore::list_allowed_redirects(const std::string& organization_id) {
  static const std::string sql =
      select_sql("allowed_redirects", redirect_columns, "WHERE organization_id = ?1 ORDER BY url");
  sqlite::Query query(prepared(sql));
  query.bind_text(1, organization_id);
  return read_all<AllowedRedirectRecord>(query, read_redirect);
}

// --- Workspaces

void SqliteStore::insert_workspace(const WorkspaceRecord& workspace) {
  static const std::string sql = insert_sql("workspaces", workspace_columns);
  sqlite::Query query(prepared(sql));
  bind_workspace(query, workspace);
  query.run();
}

std::optional<WorkspaceRecord> SqliteStore::find_workspace(const std::string& organization_id, const std::string& id) {
  static const std::string sql = select_sql("workspaces", workspace_columns, "WHERE organization_id = ?1 AND id = ?2");
  sqlite::Query query(prepared(sql));
  query.bind_text(1, organization_id);
  query.bind_text(2, id);
  return read_optional<WorkspaceRecord>(query, read_workspace);
}

Page<WorkspaceRecord> SqliteStore::list_workspaces(const std::string& organization_id, int limit,
                                                   const std::string& after) {
  static const std::string sql =
      select_sql("workspaces", workspace_columns, "WHERE organization_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3");
  const int size = page_size(limit);
  sqlite::Query query(prepared(sql));
  query.bind_text(1, organization_id);
  query.bind_text(2, after);
  query.bind_integer(3, size + 1);
  return read_page<WorkspaceRecord>(query, size, read_workspace);
}

bool SqliteStore::update_workspace(const WorkspaceRecord& workspace) {
  sqlite::Query query(
      prepared("UPDATE workspaces SET name = ?3, updated_at = ?4 WHERE organization_id = ?1 AND id = ?2"));
  query.bind_text(1, workspace.organization_id);
  query.bind_text(2, workspace.id);
  query.bind_text(3, workspace.name);
  query.bind_integer(4, workspace.updated_at);
  query.run();
  return query.changes() == 1;
}

bool SqliteStore::delete_workspace(const std::string& organization_id, const std::string& id) {
  sqlite::Query query(prepared("DELETE FROM workspaces WHERE organization_id = ?1 AND id = ?2"));
  query.bind_text(1, organization_id);
  query.bind_text(2, id);
  query.run();
  if (query.changes() != 1) return false;
  sqlite::Query apps(prepared("DELETE FROM oauth_apps WHERE organization_id = ?1 AND scope = 'ws:' || ?2"));
  apps.bind_text(1, organization_id);
  apps.bind_text(2, id);
  apps.run();
  checkpoint_after_commit_ = true;
  return true;
}

int64_t SqliteStore::count_sources_in_workspace(const std::string& organization_id, const std::string& workspace_id) {
  sqlite::Query query(prepared("SELECT COUNT(*) FROM sources WHERE organization_id = ?1 AND workspace_id = ?2"));
  query.bind_text(1, organization_id);
  query.bind_text(2, workspace_id);
  query.next_row();
  return query.integer(0);
}

// --- OAuth flows (the connections table: the API names a flow by its connection_id)

namespace {

// The key a flow's row takes from its id, when the id has the shape make_id gives it
// (oauth/ids.hpp: a prefix, '_', then hex digits that begin with the time): its
// first 16 hex digits as a number (the milliseconds, then 16 bits that count the ids made in
// that millisecond), plus 2^60, which puts such keys above every key earlier schema versions
// gave. Keys taken this way grow as flows are made, so a new flow goes at the end of the
// table, and a lookup by id is a lookup by key: no index over the ids to keep up for every
// authorize (migration 11).
constexpr int64_t first_key_from_id = int64_t{1} << 60;
constexpr std::size_t key_digits = 16;
constexpr int sequence_bits_in_key = 16; // below the milliseconds

std::optional<int64_t> key_from_flow_id(std::string_view id) {
  const std::size_t digits = id.find('_') + 1; // 0 when there is no '_', which fails below
  if (digits == 0 || id.size() < digits + key_digits) return std::nullopt;
  const char* const first = id.data() + digits;
  uint64_t value = 0;
  const auto [end, error] = std::from_chars(first, first + key_digits, value, 16);
  // The sum below must stay under 2^63.
  if (error != std::errc() || end != first + key_digits || value >= (uint64_t{1} << 62)) return std::nullopt;
  return first_key_from_id + static_cast<int64_t>(value);
}

// The millisecond a key taken from an id was made in. Keys of other rows (below 2^60, or the
// next after the largest) give a number that orders them the same way.
int64_t millisecond_of(int64_t key) { return key >> sequence_bits_in_key; }

// Its parameters come first in every statement that binds a whole flow (bind_flow).
constexpr std::size_t flow_column_count =
    static_cast<std::size_t>(std::count(flow_columns.begin(), flow_columns.end(), ',')) + 1;

// Where a flow is, by its id (parameter ?id_parameter) and the key the id gives (NULL when it
// gives none): at that key, or through the index over the ids of the rows not keyed so. The
// two terms are an OR that SQLite answers with one lookup each (MULTI-INDEX OR).
std::string flow_row(std::size_t id_parameter, std::size_t key_parameter) {
  const std::string id = "?" + std::to_string(id_parameter);
  return "(row_key = ?" + std::to_string(key_parameter) + " AND id = " + id + " OR id = " + id +
         " AND key_from_id = 0)";
}

} // namespace

// A new flow takes the key its id gives unless that key is taken (another process made an id
// with the same time part) or lies in a millisecond before the newest flow's (an id made a
// little before one already stored, or by a process whose clock is behind): then SQLite
// picks the next key after the largest and the index over unkeyed ids finds it. Either way
// keys follow the order flows were stored in, to the millisecond, which the pending walk
// relies on.
void SqliteStore::insert_flow(const FlowRecord& flow) {
  static const std::string keyed_sql = insert_sql("connections", std::string(flow_columns) + ", row_key, key_from_id") +
                                       " ON CONFLICT (row_key) DO NOTHING";
  static const std::string unkeyed_sql = insert_sql("connections", flow_columns);
  const std::optional<int64_t> key = key_from_flow_id(flow.id);
  if (key) {
    if (millisecond_of(*key) >= millisecond_of(newest_flow_key_)) {
      sqlite::Query query(prepared(keyed_sql));
      bind_flow(query, flow);
      query.bind_integer(static_cast<int>(flow_column_count) + 1, *key);
      query.bind_integer(static_cast<int>(flow_column_count) + 2, 1);
      query.run();
      if (query.changes() == 1) {
        newest_flow_key_ = std::max(newest_flow_key_, *key);
        return;
      }
    }
    // The unkeyed index cannot see a keyed row with the same id: ids stay unique all the same.
    if (find_flow_by_id(flow.id)) throw StoreConflict("UNIQUE constraint failed: connections.id");
  }
  sqlite::Query query(prepared(unkeyed_sql));
  bind_flow(query, flow);
  query.run();
  newest_flow_key_ = std::max(newest_flow_key_, static_cast<int64_t>(sqlite3_last_insert_rowid(db_.get())));
}

std::optional<FlowRecord> SqliteStore::find_flow(const std::string& organization_id, const std::string& id) {
  static const std::string sql =
      select_sql("connections", flow_columns, "WHERE " + flow_row(1, 3) + " AND organization_id = ?2");
  sqlite::Query query(prepared(sql));
  query.bind_text(1, id);
  query.bind_text(2, organization_id);
  query.bind_optional_integer(3, key_from_flow_id(id));
  return read_optional<FlowRecord>(query, read_flow);
}

std::optional<FlowRecord> SqliteStore::find_flow_by_id(const std::string& id) {
  static const std::string sql = select_sql("connections", flow_columns, "WHERE " + flow_row(1, 2));
  sqlite::Query query(prepared(sql));
  query.bind_text(1, id);
  query.bind_optional_integer(2, key_from_flow_id(id));
  return read_optional<FlowRecord>(query, read_flow);
}

std::optional<FlowRecord> SqliteStore::find_flow_by_state_hash(const std::string& state_hash) {
  // The condition repeats the partial index's, so that SQLite uses it.
  static const std::string sql =
      select_sql("connections", flow_columns, "WHERE state_hash = ?1 AND state_names_connection = 0");
  sqlite::Query query(prepared(sql));
  query.bind_text(1, state_hash);
  return read_optional<FlowRecord>(query, read_flow);
}

bool SqliteStore::update_flow(const FlowRecord& flow) {
  static const std::string sql = compare_and_swap_sql("connections", flow_columns, flow_row(1, flow_column_count + 1));
  sqlite::Query query(prepared(sql));
  bind_flow(query, flow);
  query.bind_optional_integer(static_cast<int>(flow_column_count) + 1, key_from_flow_id(flow.id));
  query.run();
  return query.changes() == 1;
}

int64_t SqliteStore::cache_generation() {
  sqlite::Query query(prepared("SELECT generation FROM cache_generation WHERE id = 1"));
  return query.next_row() ? query.integer(0) : 0;
}

int64_t SqliteStore::count_flows() {
  sqlite::Query query(prepared("SELECT COUNT(*) FROM connections"));
  query.next_row();
  return query.integer(0);
}

// Rows are in key order, which is the order flows were made in, to the millisecond
// (insert_flow): the walk is a range read of the table, with no index for every authorize to
// keep up to date.
PendingSweep SqliteStore::expire_lapsed_pending_flows(int64_t resume_at, int64_t now, int limit) {
  PendingSweep sweep;
  sweep.resume_at = resume_at;
  std::vector<int64_t> lapsed;
  int read = 0;
  {
    sqlite::Query rows(prepared("SELECT row_key, status = 'pending', expires_at FROM connections "
                                "WHERE row_key >= ?1 ORDER BY row_key LIMIT ?2"));
    rows.bind_integer(1, resume_at);
    rows.bind_integer(2, std::max(limit, 1));
    while (rows.next_row()) {
      ++read;
      const int64_t key = rows.integer(0);
      if (rows.integer(1) != 0) {
        if (rows.integer(2) > now) { // the first flow still good: the walk waits for it
          // From the start of its millisecond: a flow of the same one may still come with a
          // smaller key (threads store the ids they made in whichever order they get there).
          sweep.resume_at = key >= first_key_from_id ? millisecond_of(key) << sequence_bits_in_key : key;
          read = 0; // caught up, whatever was read
          break;
        }
        lapsed.push_back(key);
      }
      sweep.resume_at = key + 1;
    }
  }
  sweep.caught_up = read < std::max(limit, 1);
  for (const int64_t key : lapsed) {
    sqlite::Query expire(prepared("UPDATE connections SET status = 'expired', sealed_code_verifier = x'', "
                                  "sealed_credentials = x'', updated_at = ?2, version = version + 1 "
                                  "WHERE row_key = ?1 AND status = 'pending'"));
    expire.bind_integer(1, key);
    expire.bind_integer(2, now);
    expire.run();
    sweep.expired += expire.changes();
  }
  if (sweep.expired > 0) checkpoint_after_commit_ = true; // sealed material was erased
  return sweep;
}

// Names connections_authorized (migration 9) so that a schema without it fails loudly instead
// of reading the whole table; the condition repeats the index's.
int64_t SqliteStore::expire_lapsed_authorized_flows(int64_t now, int limit) {
  sqlite::Query query(
      prepared("UPDATE connections SET status = 'expired', sealed_code_verifier = x'', sealed_credentials = x'', "
               "updated_at = ?1, version = version + 1 WHERE row_key IN (SELECT row_key FROM connections INDEXED BY "
               "connections_authorized WHERE status = 'authorized' AND expires_at <= ?1 LIMIT ?2)"));
  query.bind_integer(1, now);
  query.bind_integer(2, std::max(limit, 1));
  query.run();
  const int64_t changed = query.changes();
  if (changed > 0) checkpoint_after_commit_ = true; // sealed material was erased
  return changed;
}

// Rows are in the order flows were made, so the ones made before `created_before` are a
// range at the front of the table: the search stops at the first row made later, instead of
// reading the whole table for the rows that qualify. (A clock set back can put a younger row
// in that range; the rows behind it then wait until it is old enough too.)
int64_t SqliteStore::delete_flows_created_before(int64_t created_before, int limit) {
  sqlite::Query query(
      prepared("DELETE FROM connections WHERE row_key IN (SELECT row_key FROM connections WHERE row_key < "
               "coalesce((SELECT row_key FROM connections WHERE created_at >= ?1 ORDER BY row_key LIMIT 1), ?3) "
               "AND created_at < ?1 AND status <> 'pending' AND status <> 'authorized' ORDER BY row_key LIMIT ?2)"));
  query.bind_integer(1, created_before);
  query.bind_integer(2, std::max(limit, 1));
  query.bind_integer(3, std::numeric_limits<int64_t>::max());
  query.run();
  const int64_t changed = query.changes();
  if (changed > 0) checkpoint_after_commit_ = true;
  return changed;
}

// --- Sources

void SqliteStore::insert_source(const SourceRecord& source) {
  static const std::string sql = insert_sql("sources", source_columns);
  sqlite::Query query(prepared(sql));
  bind_source(query, source);
  query.run();
}

std::optional<SourceRecord> SqliteStore::find_source(const std::string& organization_id, const std::string& id) {
  static const std::string sql = select_sql("sources", source_columns, "WHERE organization_id = ?1 AND id = ?2");
  sqlite::Query query(prepared(sql));
  query.bind_text(1, organization_id);
  query.bind_text(2, id);
  return read_optional<SourceRecord>(query, read_source);
}

Page<SourceRecord> SqliteStore::list_sources(const std::string& organization_id, const std::string& workspace_id,
                                             int limit, const std::string& after) {
  // Two statements rather than "?2 = '' OR workspace_id = ?2", so each can use its own index.
  static const std::string all_workspaces_sql =
      select_sql("sources", source_columns, "WHERE organization_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3");
  static const std::string one_workspace_sql = select_sql(
      "sources", source_columns, "WHERE organization_id = ?1 AND workspace_id = ?4 AND id > ?2 ORDER BY id LIMIT ?3");
  const int size = page_size(limit);
  sqlite::Query query(prepared(workspace_id.empty() ? all_workspaces_sql : one_workspace_sql));
  query.bind_text(1, organization_id);
  query.bind_text(2, after);
  query.bind_integer(3, size + 1);
  if (!workspace_id.empty()) query.bind_text(4, workspace_id);
  return read_page<SourceRecord>(query, size, read_source);
}

bool SqliteStore::update_source(const SourceRecord& source) {
  static const std::string sql = compare_and_swap_sql("sources", source_columns);
  sqlite::Query query(prepared(sql));
  bind_source(query, source);
  query.run();
  return query.changes() == 1;
}

bool SqliteStore::delete_source(const std::string& organization_id, const std::string& id) {
  sqlite::Query query(prepared("DELETE FROM sources WHERE organization_id = ?1 AND id = ?2"));
  query.bind_text(1, organization_id);
  query.bind_text(2, id);
  query.run();
  if (query.changes() != 1) return false;
  checkpoint_after_commit_ = true;
  return true;
}

std::vector<SourceRecord> SqliteStore::list_sources_due_for_refresh(int64_t expiring_before, int64_t now, int limit) {
  static const std::string sql =
      select_sql("sources", source_columns,
                 "WHERE status = 'active' AND auth_type = 'oauth2.0' AND token_expires_at IS NOT NULL "
                 "AND token_expires_at < ?1 AND (next_refresh_at IS NULL OR next_refresh_at <= ?2) "
                 "AND (refresh_lease_until IS NULL OR refresh_lease_until <= ?2) ORDER BY token_expires_at LIMIT ?3");
  sqlite::Query query(prepared(sql));
  query.bind_integer(1, expiring_before);
  query.bind_integer(2, now);
  query.bind_integer(3, std::clamp(limit, 1, 1000));
  return read_all<SourceRecord>(query, read_source);
}

// --- OAuth apps

void SqliteStore::put_oauth_app(const OAuthAppRecord& app) {
  static const std::string sql =
      insert_sql("oauth_apps", oauth_app_columns) +
      " ON CONFLICT (organization_id, scope, slug) DO UPDATE SET client_id = excluded.client_id, "
      "sealed_configuration = excluded.sealed_configuration, updated_at = excluded.updated_at";
  sqlite::Query query(prepared(sql));
  bind_oauth_app(query, app);
  query.run();
}

std::optional<OAuthAppRecord> SqliteStore::find_oauth_app(const std::string& organization_id, const std::string& scope,
                                                          const std::string& slug) {
  static const std::string sql =
      select_sql("oauth_apps", oauth_app_columns, "WHERE organization_id = ?1 AND scope = ?2 AND slug = ?3");
  sqlite::Query query(prepared(sql));
  query.bind_text(1, organization_id);
  query.bind_text(2, scope);
  query.bind_text(3, slug);
  return read_optional<OAuthAppRecord>(query, read_oauth_app);
}

std::vector<OAuthAppRecord> SqliteStore::list_oauth_apps(const std::string& organization_id, const std::string& scope) {
  static const std::string sql =
      select_sql("oauth_apps", oauth_app_columns, "WHERE organization_id = ?1 AND scope = ?2 ORDER BY slug");
  sqlite::Query query(prepared(sql));
  query.bind_text(1, organization_id);
  query.bind_text(2, scope);
  return read_all<OAuthAppRecord>(query, read_oauth_app);
}

bool SqliteStore::delete_oauth_app(const std::string& organization_id, const std::string& scope,
                                   const std::string& slug) {
  sqlite::Query query(prepared("DELETE FROM oauth_apps WHERE organization_id = ?1 AND scope = ?2 AND slug = ?3"));
  query.bind_text(1, organization_id);
  query.bind_text(2, scope);
  query.bind_text(3, slug);
  query.run();
  if (query.changes() != 1) return false;
  checkpoint_after_commit_ = true;
  return true;
}

// --- Transactions. One batch is one transaction; each job inside it is a savepoint.

void SqliteStore::begin_batch() {
  // IMMEDIATE takes the write lock up front: a deferred transaction that reads and then
  // writes could fail with SQLITE_BUSY halfway when another process writes in between.
  execute_prepared("BEGIN IMMEDIATE");
  batch_open_ = true;
}

void SqliteStore::commit_batch() {
  execute_prepared("COMMIT");
  batch_open_ = false;
  if (checkpoint_after_commit_) {
    checkpoint_after_commit_ = false;
    // Secrets were erased: copy the zeroed pages into the file and empty the WAL, so the old
    // ciphertext survives neither in the file nor in old WAL frames. Best effort: another
    // process's open read transaction can keep some frames until a later checkpoint.
    if (checkpointer_) {
      checkpointer_->checkpoint_from_writer(db_.get(), SQLITE_CHECKPOINT_TRUNCATE);
    } else {
      sqlite3_wal_checkpoint_v2(db_.get(), nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
    }
  }
}

void SqliteStore::rollback_batch() noexcept {
  batch_open_ = false;
  checkpoint_after_commit_ = false;
  // sqlite3_exec rather than a cached statement: preparing could throw, and after some errors
  // SQLite has already rolled back by itself.
  if (sqlite3_get_autocommit(db_.get()) == 0) sqlite3_exec(db_.get(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void SqliteStore::begin_job(JobUndo undo) {
  // After an I/O error SQLite may roll the whole transaction back on its own; a SAVEPOINT
  // would then quietly start a new transaction and the batch would no longer be atomic.
  if (batch_open_ && sqlite3_get_autocommit(db_.get()) != 0) {
    throw std::runtime_error("sqlite: the batch's transaction was rolled back");
  }
  job_undo_ = undo;
  if (undo == JobUndo::savepoint) {
    execute_prepared("SAVEPOINT job");
  } else {
    // Counts rows changed by finished statements, triggers' included; a statement that
    // failed was undone and adds nothing.
    changes_at_job_start_ = sqlite3_total_changes64(db_.get());
  }
}

void SqliteStore::end_job(bool keep) {
  if (job_undo_ == JobUndo::statement) {
    if (!keep && sqlite3_total_changes64(db_.get()) != changes_at_job_start_) {
      throw std::runtime_error("sqlite: a job without a savepoint failed after it had written; its batch is undone");
    }
    return;
  }
  if (!keep) execute_prepared("ROLLBACK TO job");
  execute_prepared("RELEASE job");
}

} // namespace connector::core
