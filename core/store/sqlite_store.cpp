#include "store/sqlite_store.hpp"

#include "store/migrations.hpp"
#include "store/record_columns.hpp"
#include "store/sql_text.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <array>
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

// Binds a record's fields as ?1, ?2, ... in its columns' order (record_columns.hpp).
class Binder {
public:
  explicit Binder(sqlite::Query& query) : query_(query) {}
  void operator()(const std::string& text) { query_.bind_text(++n_, text); }
  void operator()(int64_t value) { query_.bind_integer(++n_, value); }
  void operator()(const std::optional<int64_t>& value) { query_.bind_optional_integer(++n_, value); }
  void operator()(const std::vector<uint8_t>& bytes) { query_.bind_blob(++n_, bytes); }
  void operator()(bool flag) { query_.bind_integer(++n_, flag ? 1 : 0); }
  void operator()(FlowStatus status) { query_.bind_text(++n_, to_string(status)); }

private:
  sqlite::Query& query_;
  int n_ = 0;
};

// Reads a row's columns into a record's fields, in the same order.
class RowReader {
public:
  explicit RowReader(const sqlite::Query& row) : row_(row) {}
  void operator()(std::string& text) { text = row_.text(n_++); }
  void operator()(int64_t& value) { value = row_.integer(n_++); }
  void operator()(std::optional<int64_t>& value) { value = row_.optional_integer(n_++); }
  void operator()(std::vector<uint8_t>& bytes) { bytes = row_.blob(n_++); }
  void operator()(bool& flag) { flag = row_.integer(n_++) != 0; }
  void operator()(FlowStatus& status) { status = stored_flow_status(row_.text(n_++)); }

private:
  const sqlite::Query& row_;
  int n_ = 0;
};

template <typename Record> void bind(sqlite::Query& query, const Record& record) {
  columns::visit_columns(record, Binder(query));
}

template <typename Record> Record read_record(const sqlite::Query& row) {
  Record record;
  columns::visit_columns(record, RowReader(row));
  return record;
}

// --- Reading results.

template <typename Record> std::optional<Record> read_optional(sqlite::Query& query) {
  if (!query.next_row()) return std::nullopt;
  return read_record<Record>(query);
}

template <typename Record> std::vector<Record> read_all(sqlite::Query& query) {
  std::vector<Record> records;
  while (query.next_row())
    records.push_back(read_record<Record>(query));
  return records;
}

// The query asked for page_size + 1 rows: the extra one only tells that another page exists.
template <typename Record> Page<Record> read_page(sqlite::Query& query, int size) {
  Page<Record> page;
  while (query.next_row()) {
    if (page.items.size() == static_cast<size_t>(size)) {
      page.next_after = page.items.back().id;
      break;
    }
    page.items.push_back(read_record<Record>(query));
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

// The store's constructor migrates too, but tells no one of its steps.
void SqliteStore::migrate(const std::filesystem::path& path, const MigrationStepObserver& on_step) {
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
  const sqlite::DatabasePtr db =
      sqlite::open_database(path.string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX);
  configure_connection(db.get());
  apply_schema_migrations(db.get(), sqlite_schema_migrations(), on_step);
}

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
  static const std::string sql = sql_text::insert("api_keys", columns::api_key, '?');
  sqlite::Query query(prepared(sql));
  bind(query, key);
  query.run();
}

std::optional<ApiKeyRecord> SqliteStore::find_api_key_by_hash(const std::string& key_hash) {
  static const std::string sql = sql_text::select("api_keys", columns::api_key, "WHERE key_hash = ?1");
  sqlite::Query query(prepared(sql));
  query.bind_text(1, key_hash);
  return read_optional<ApiKeyRecord>(query);
}

std::vector<ApiKeyRecord> SqliteStore::list_api_keys(const std::string& organization_id) {
  static const std::string sql = sql_text::select("api_keys", columns::api_key,
                                                  "WHERE ?1 = '' OR organization_id = ?1 ORDER BY organization_id, id");
  sqlite::Query query(prepared(sql));
  query.bind_text(1, organization_id);
  return read_all<ApiKeyRecord>(query);
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
      sql_text::select("allowed_redirects", columns::allowed_redirect, "WHERE organization_id = ?1 ORDER BY url");
  sqlite::Query query(prepared(sql));
  query.bind_text(1, organization_id);
  return read_all<AllowedRedirectRecord>(query);
}

// --- Workspaces

void SqliteStore::insert_workspace(const WorkspaceRecord& workspace) {
  static const std::string sql = sql_text::insert("workspaces", columns::workspace, '?');
  sqlite::Query query(prepared(sql));
  bind(query, workspace);
  query.run();
}

std::optional<WorkspaceRecord> SqliteStore::find_workspace(const std::string& organization_id, const std::string& id) {
  static const std::string sql =
      sql_text::select("workspaces", columns::workspace, "WHERE organization_id = ?1 AND id = ?2");
  sqlite::Query query(prepared(sql));
  query.bind_text(1, organization_id);
  query.bind_text(2, id);
  return read_optional<WorkspaceRecord>(query);
}

Page<WorkspaceRecord> SqliteStore::list_workspaces(const std::string& organization_id, int limit,
                                                   const std::string& after) {
  static const std::string sql =
      sql_text::select("workspaces", columns::workspace, "WHERE organization_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3");
  const int size = page_size(limit);
  sqlite::Query query(prepared(sql));
  query.bind_text(1, organization_id);
  query.bind_text(2, after);
  query.bind_integer(3, size + 1);
  return read_page<WorkspaceRecord>(query, size);
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
constexpr int flow_column_count = columns::count(columns::sqlite_flow);

// Where a flow is, by its id (parameter ?id_parameter) and the key the id gives (NULL when it
// gives none): at that key, or through the index over the ids of the rows not keyed so. The
// two terms are an OR that SQLite answers with one lookup each (MULTI-INDEX OR).
std::string flow_row(int id_parameter, int key_parameter) {
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
  static const std::string keyed_sql =
      sql_text::insert("connections", std::string(columns::sqlite_flow) + ", row_key, key_from_id", '?') +
      " ON CONFLICT (row_key) DO NOTHING";
  static const std::string unkeyed_sql = sql_text::insert("connections", columns::sqlite_flow, '?');
  const std::optional<int64_t> key = key_from_flow_id(flow.id);
  if (key) {
    if (millisecond_of(*key) >= millisecond_of(newest_flow_key_)) {
      sqlite::Query query(prepared(keyed_sql));
      bind(query, flow);
      query.bind_integer(flow_column_count + 1, *key);
      query.bind_integer(flow_column_count + 2, 1);
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
  bind(query, flow);
  query.run();
  newest_flow_key_ = std::max(newest_flow_key_, static_cast<int64_t>(sqlite3_last_insert_rowid(db_.get())));
}

std::optional<FlowRecord> SqliteStore::find_flow(const std::string& organization_id, const std::string& id) {
  static const std::string sql =
      sql_text::select("connections", columns::sqlite_flow, "WHERE " + flow_row(1, 3) + " AND organization_id = ?2");
  sqlite::Query query(prepared(sql));
  query.bind_text(1, id);
  query.bind_text(2, organization_id);
  query.bind_optional_integer(3, key_from_flow_id(id));
  return read_optional<FlowRecord>(query);
}

std::optional<FlowRecord> SqliteStore::find_flow_by_id(const std::string& id) {
  static const std::string sql = sql_text::select("connections", columns::sqlite_flow, "WHERE " + flow_row(1, 2));
  sqlite::Query query(prepared(sql));
  query.bind_text(1, id);
  query.bind_optional_integer(2, key_from_flow_id(id));
  return read_optional<FlowRecord>(query);
}

std::optional<FlowRecord> SqliteStore::find_flow_by_state_hash(const std::string& state_hash) {
  // The condition repeats the partial index's, so that SQLite uses it.
  static const std::string sql =
      sql_text::select("connections", columns::sqlite_flow, "WHERE state_hash = ?1 AND state_names_connection = 0");
  sqlite::Query query(prepared(sql));
  query.bind_text(1, state_hash);
  return read_optional<FlowRecord>(query);
}

bool SqliteStore::update_flow(const FlowRecord& flow) {
  static const std::string sql =
      sql_text::compare_and_swap("connections", columns::sqlite_flow, '?', flow_row(1, flow_column_count + 1));
  sqlite::Query query(prepared(sql));
  bind(query, flow);
  query.bind_optional_integer(flow_column_count + 1, key_from_flow_id(flow.id));
  query.run();
  return query.changes() == 1;
}

// --- Sealed secrets. SQLite walks flows by row key (their order in the table), the rest by id.

namespace {

std::string_view sqlite_position(SecretColumn column) {
  return column == SecretColumn::flow_code_verifier || column == SecretColumn::flow_credentials ? "row_key" : "id";
}

// Statements are cached by their text, which must live as long as the process: one text a
// column, made once.
template <std::string (*Make)(SecretColumn, char, std::string_view)>
const std::string& secret_statement(SecretColumn column) {
  static const std::array<std::string, std::size(every_secret_column)> texts = [] {
    std::array<std::string, std::size(every_secret_column)> made;
    for (const SecretColumn each : every_secret_column)
      made[static_cast<std::size_t>(each)] = Make(each, '?', sqlite_position(each));
    return made;
  }();
  return texts[static_cast<std::size_t>(column)];
}

} // namespace

std::vector<SealedSecret> SqliteStore::list_sealed_secrets(SecretColumn column,
                                                           const std::optional<SealedSecret>& after, int limit) {
  const std::string_view position = sqlite_position(column);
  sqlite::Query query(prepared(secret_statement<sql_text::sealed_secrets_page>(column)));
  // Bound values are borrowed until the statement ends: bind from an object that outlives it.
  const SealedSecret start;
  const SealedSecret& from = after ? *after : start;
  int next = 1;
  if (column == SecretColumn::oauth_app_configuration) {
    query.bind_text(next++, from.id);
    query.bind_text(next++, from.scope);
    query.bind_text(next++, from.slug);
  } else if (position == "row_key") {
    query.bind_integer(next++, after ? std::stoll(after->position) : std::numeric_limits<int64_t>::min());
  } else {
    query.bind_text(next++, from.position);
  }
  query.bind_integer(next, std::clamp(limit, 1, 10000));
  std::vector<SealedSecret> page;
  while (query.next_row()) {
    page.push_back({column, query.text(0), query.text(1), query.text(2), query.blob(3), query.text(4)});
  }
  return page;
}

bool SqliteStore::replace_sealed_secret(const SealedSecret& stored, std::span<const uint8_t> resealed, int64_t now) {
  const std::string_view position = sqlite_position(stored.column);
  sqlite::Query query(prepared(secret_statement<sql_text::replace_sealed_secret>(stored.column)));
  query.bind_blob(1, resealed);
  int next = 2;
  if (stored.column == SecretColumn::oauth_app_configuration) {
    query.bind_text(next++, stored.id);
    query.bind_text(next++, stored.scope);
    query.bind_text(next++, stored.slug);
  } else if (position == "row_key") {
    query.bind_integer(next++, std::stoll(stored.position));
  } else {
    query.bind_text(next++, stored.id);
  }
  query.bind_blob(next++, stored.sealed);
  if (stored.column == SecretColumn::source_credentials) query.bind_integer(next, now);
  query.run();
  return query.changes() == 1;
}

std::map<std::string, int64_t> SqliteStore::count_rows() {
  static const std::string sql = sql_text::count_rows_by_table();
  sqlite::Query query(prepared(sql));
  std::map<std::string, int64_t> counts;
  while (query.next_row())
    counts[query.text(0)] = query.integer(1);
  return counts;
}

std::map<uint32_t, int64_t> SqliteStore::count_secrets_by_key() {
  static const std::string sql = sql_text::count_secrets_by_key('?');
  sqlite::Query query(prepared(sql));
  query.bind_blob(1, envelope_version_byte);
  std::map<uint32_t, int64_t> counts;
  while (query.next_row())
    counts[key_id_from_envelope_header(query.blob(0))] += query.integer(1);
  return counts;
}

int64_t SqliteStore::cache_generation() {
  sqlite::Query query(prepared("SELECT generation FROM cache_generation WHERE id = 1"));
  return query.next_row() ? query.integer(0) : 0;
}

// --- Reading every record (database copy)

namespace {

template <typename Record> struct StoredAs;
template <> struct StoredAs<ApiKeyRecord> {
  static constexpr std::string_view table = "api_keys", columns = columns::api_key;
};
template <> struct StoredAs<AllowedRedirectRecord> {
  static constexpr std::string_view table = "allowed_redirects", columns = columns::allowed_redirect;
};
template <> struct StoredAs<WorkspaceRecord> {
  static constexpr std::string_view table = "workspaces", columns = columns::workspace;
};
template <> struct StoredAs<FlowRecord> {
  static constexpr std::string_view table = "connections", columns = columns::sqlite_flow;
};
template <> struct StoredAs<SourceRecord> {
  static constexpr std::string_view table = "sources", columns = columns::source;
};
template <> struct StoredAs<OAuthAppRecord> {
  static constexpr std::string_view table = "oauth_apps", columns = columns::oauth_app;
};

} // namespace

template <typename Record> void SqliteStore::read_every(const std::function<void(Record&&)>& take) {
  static const std::string sql = sql_text::select(StoredAs<Record>::table, StoredAs<Record>::columns, "");
  sqlite::Query query(prepared(sql));
  while (query.next_row())
    take(read_record<Record>(query));
}

template void SqliteStore::read_every<ApiKeyRecord>(const std::function<void(ApiKeyRecord&&)>&);
template void SqliteStore::read_every<AllowedRedirectRecord>(const std::function<void(AllowedRedirectRecord&&)>&);
template void SqliteStore::read_every<WorkspaceRecord>(const std::function<void(WorkspaceRecord&&)>&);
template void SqliteStore::read_every<FlowRecord>(const std::function<void(FlowRecord&&)>&);
template void SqliteStore::read_every<SourceRecord>(const std::function<void(SourceRecord&&)>&);
template void SqliteStore::read_every<OAuthAppRecord>(const std::function<void(OAuthAppRecord&&)>&);

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
  static const std::string sql = sql_text::insert("sources", columns::source, '?');
  sqlite::Query query(prepared(sql));
  bind(query, source);
  query.run();
}

std::optional<SourceRecord> SqliteStore::find_source(const std::string& organization_id, const std::string& id) {
  static const std::string sql = sql_text::select("sources", columns::source, "WHERE organization_id = ?1 AND id = ?2");
  sqlite::Query query(prepared(sql));
  query.bind_text(1, organization_id);
  query.bind_text(2, id);
  return read_optional<SourceRecord>(query);
}

Page<SourceRecord> SqliteStore::list_sources(const std::string& organization_id, const std::string& workspace_id,
                                             int limit, const std::string& after) {
  // Two statements rather than "?2 = '' OR workspace_id = ?2", so each can use its own index.
  static const std::string all_workspaces_sql =
      sql_text::select("sources", columns::source, "WHERE organization_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3");
  static const std::string one_workspace_sql = sql_text::select(
      "sources", columns::source, "WHERE organization_id = ?1 AND workspace_id = ?4 AND id > ?2 ORDER BY id LIMIT ?3");
  const int size = page_size(limit);
  sqlite::Query query(prepared(workspace_id.empty() ? all_workspaces_sql : one_workspace_sql));
  query.bind_text(1, organization_id);
  query.bind_text(2, after);
  query.bind_integer(3, size + 1);
  if (!workspace_id.empty()) query.bind_text(4, workspace_id);
  return read_page<SourceRecord>(query, size);
}

bool SqliteStore::update_source(const SourceRecord& source) {
  static const std::string sql = sql_text::compare_and_swap("sources", columns::source, '?');
  sqlite::Query query(prepared(sql));
  bind(query, source);
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
  static const std::string sql = sql_text::select(
      "sources", columns::source,
      "WHERE status = 'active' AND auth_type = 'oauth2.0' AND token_expires_at IS NOT NULL "
      "AND token_expires_at < ?1 AND (next_refresh_at IS NULL OR next_refresh_at <= ?2) "
      "AND (refresh_lease_until IS NULL OR refresh_lease_until <= ?2) ORDER BY token_expires_at LIMIT ?3");
  sqlite::Query query(prepared(sql));
  query.bind_integer(1, expiring_before);
  query.bind_integer(2, now);
  query.bind_integer(3, std::clamp(limit, 1, 1000));
  return read_all<SourceRecord>(query);
}

// --- OAuth apps

void SqliteStore::put_oauth_app(const OAuthAppRecord& app) {
  static const std::string sql =
      sql_text::insert("oauth_apps", columns::oauth_app, '?') +
      " ON CONFLICT (organization_id, scope, slug) DO UPDATE SET client_id = excluded.client_id, "
      "sealed_configuration = excluded.sealed_configuration, updated_at = excluded.updated_at";
  sqlite::Query query(prepared(sql));
  bind(query, app);
  query.run();
}

std::optional<OAuthAppRecord> SqliteStore::find_oauth_app(const std::string& organization_id, const std::string& scope,
                                                          const std::string& slug) {
  static const std::string sql =
      sql_text::select("oauth_apps", columns::oauth_app, "WHERE organization_id = ?1 AND scope = ?2 AND slug = ?3");
  sqlite::Query query(prepared(sql));
  query.bind_text(1, organization_id);
  query.bind_text(2, scope);
  query.bind_text(3, slug);
  return read_optional<OAuthAppRecord>(query);
}

std::vector<OAuthAppRecord> SqliteStore::list_oauth_apps(const std::string& organization_id, const std::string& scope) {
  static const std::string sql =
      sql_text::select("oauth_apps", columns::oauth_app, "WHERE organization_id = ?1 AND scope = ?2 ORDER BY slug");
  sqlite::Query query(prepared(sql));
  query.bind_text(1, organization_id);
  query.bind_text(2, scope);
  return read_all<OAuthAppRecord>(query);
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
