#include "store/postgres_store.hpp"

#include "store/postgres_migrations.hpp"
#include "store/record_columns.hpp"
#include "store/sql_text.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace connector::core {
namespace {

// Adds a record's fields to a statement's parameters, in its columns' order.
class Binder {
public:
  explicit Binder(pg::Params& params) : params_(params) {}
  void operator()(const std::string& text) { params_.text(text); }
  void operator()(int64_t value) { params_.integer(value); }
  void operator()(const std::optional<int64_t>& value) { params_.optional_integer(value); }
  void operator()(const std::vector<uint8_t>& bytes) { params_.bytes(bytes); }
  void operator()(bool flag) { params_.boolean(flag); }
  void operator()(FlowStatus status) { params_.text(to_string(status)); }

private:
  pg::Params& params_;
};

// Reads one row of a result into a record's fields, in the same order.
class RowReader {
public:
  RowReader(const pg::Result& result, int row) : result_(result), row_(row) {}
  void operator()(std::string& text) { text = result_.text(row_, n_++); }
  void operator()(int64_t& value) { value = result_.integer(row_, n_++); }
  void operator()(std::optional<int64_t>& value) { value = result_.optional_integer(row_, n_++); }
  void operator()(std::vector<uint8_t>& bytes) { bytes = result_.bytes(row_, n_++); }
  void operator()(bool& flag) { flag = result_.boolean(row_, n_++); }
  void operator()(FlowStatus& status) { status = stored_flow_status(result_.text(row_, n_++)); }

private:
  const pg::Result& result_;
  int row_;
  int n_ = 0;
};

template <typename Record> pg::Params params_of(const Record& record) {
  pg::Params params;
  columns::visit_columns(record, Binder(params));
  return params;
}

template <typename Record> Record read_record(const pg::Result& result, int row) {
  Record record;
  columns::visit_columns(record, RowReader(result, row));
  return record;
}

template <typename Record> std::optional<Record> read_optional(const pg::Result& result) {
  if (result.rows() == 0) return std::nullopt;
  return read_record<Record>(result, 0);
}

template <typename Record> std::vector<Record> read_all(const pg::Result& result) {
  std::vector<Record> records;
  records.reserve(static_cast<std::size_t>(result.rows()));
  for (int row = 0; row < result.rows(); ++row)
    records.push_back(read_record<Record>(result, row));
  return records;
}

// The query asked for page_size + 1 rows: the extra one only tells that another page exists.
template <typename Record> Page<Record> read_page(const pg::Result& result, int size) {
  Page<Record> page;
  for (int row = 0; row < result.rows(); ++row) {
    if (page.items.size() == static_cast<std::size_t>(size)) {
      page.next_after = page.items.back().id;
      break;
    }
    page.items.push_back(read_record<Record>(result, row));
  }
  return page;
}

const char* const flows = "connections";

} // namespace

PostgresStore::PostgresStore(std::string url) : url_(std::move(url)) {
  apply_postgres_schema_migrations(db(), postgres_schema_migrations());
}

PostgresStore::PostgresStore(std::string url, ReaderTag) : url_(std::move(url)), read_only_(true) {}

PostgresStore::~PostgresStore() = default;

std::unique_ptr<PostgresStore> PostgresStore::open_reader(std::string url) {
  return std::unique_ptr<PostgresStore>(new PostgresStore(std::move(url), ReaderTag{}));
}

pg::Connection& PostgresStore::db() {
  if (connection_ && connection_->usable()) return *connection_;
  if (batch_open_) throw StoreUnavailable("postgresql: the connection broke inside a transaction");
  connection_.reset();
  pg::Connection opened = pg::Connection::open(url_);
  if (read_only_) opened.execute_script("SET default_transaction_read_only = on");
  connection_.emplace(std::move(opened));
  return *connection_;
}

pg::Result PostgresStore::run(std::string_view sql, const pg::Params& params) {
  if (connection_ && connection_->has_sent()) return run_after_sent(sql, params);
  const bool had_connection = connection_ && connection_->usable();
  try {
    return db().prepared(sql, params);
  } catch (const StoreUnavailable&) {
    if (!had_connection || batch_open_ || !(read_only_ || sql == "BEGIN")) throw;
    connection_.reset();
    return db().prepared(sql, params);
  }
}

// Inside a batch that runs without savepoints, a write whose answer no job needs is sent
// without waiting (pg::Connection::send_prepared): an authorize's insert then shares its round
// trip with the batch's next statement. Its failure, read there, makes the executor run the
// batch again with savepoints, where every write is a plain statement that fails its own job.
void PostgresStore::write(std::string_view sql, const pg::Params& params) {
  if (batch_open_ && !job_savepoints_ && connection_ && connection_->usable()) {
    send(sql, params);
    return;
  }
  run(sql, params);
}

int PostgresStore::send(std::string_view sql, const pg::Params& params) {
  try {
    return connection_->send_prepared(sql, params);
  } catch (const StoreUnavailable&) {
    throw;
  } catch (const std::exception&) { // preparing read what was sent before, and a write of it had failed
    throw BatchNeedsSavepoints("postgresql: a write sent without waiting failed");
  }
}

// The statement follows the writes sent, and every answer comes back in one round trip.
pg::Result PostgresStore::run_after_sent(std::string_view sql, const pg::Params& params) {
  const int place = send(sql, params);
  pg::Connection::SentAnswers answers = connection_->collect_sent_answers(place);
  if (answers.failure) {
    if (answers.failed_at < place && connection_->usable()) {
      throw BatchNeedsSavepoints("postgresql: a write sent without waiting failed");
    }
    std::rethrow_exception(answers.failure);
  }
  if (!answers.kept) throw std::logic_error("postgresql: a statement's answer was not kept");
  return std::move(*answers.kept);
}

void PostgresStore::collect_written() {
  if (!connection_ || !connection_->has_sent()) return;
  try {
    connection_->collect_sent();
  } catch (const StoreUnavailable&) {
    throw;
  } catch (const std::exception&) {
    throw BatchNeedsSavepoints("postgresql: a write sent without waiting failed");
  }
}

// --- API keys

void PostgresStore::insert_api_key(const ApiKeyRecord& key) {
  static const std::string sql = sql_text::insert("api_keys", columns::api_key, '$');
  write(sql, params_of(key));
}

std::optional<ApiKeyRecord> PostgresStore::find_api_key_by_hash(const std::string& key_hash) {
  static const std::string sql = sql_text::select("api_keys", columns::api_key, "WHERE key_hash = $1");
  return read_optional<ApiKeyRecord>(run(sql, pg::Params().text(key_hash)));
}

std::vector<ApiKeyRecord> PostgresStore::list_api_keys(const std::string& organization_id) {
  static const std::string sql = sql_text::select("api_keys", columns::api_key,
                                                  "WHERE $1 = '' OR organization_id = $1 ORDER BY organization_id, id");
  return read_all<ApiKeyRecord>(run(sql, pg::Params().text(organization_id)));
}

bool PostgresStore::revoke_api_key(const std::string& key_id, int64_t now) {
  return run("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, $2) WHERE id = $1",
             pg::Params().text(key_id).integer(now))
             .affected_rows() == 1;
}

// --- Redirect allow-list

void PostgresStore::add_allowed_redirect(const AllowedRedirectRecord& record) {
  static const std::string sql = sql_text::insert("allowed_redirects", columns::allowed_redirect, '$') +
                                 " ON CONFLICT (organization_id, url) DO NOTHING";
  write(sql, params_of(record));
}

bool PostgresStore::remove_allowed_redirect(const std::string& organization_id, const std::string& url) {
  return run("DELETE FROM allowed_redirects WHERE organization_id = $1 AND url = $2",
             pg::Params().text(organization_id).text(url))
             .affected_rows() == 1;
}

std::vector<AllowedRedirectRecord> PostgresStore::list_allowed_redirects(const std::string& organization_id) {
  static const std::string sql =
      sql_text::select("allowed_redirects", columns::allowed_redirect, "WHERE organization_id = $1 ORDER BY url");
  return read_all<AllowedRedirectRecord>(run(sql, pg::Params().text(organization_id)));
}

// --- Workspaces

void PostgresStore::insert_workspace(const WorkspaceRecord& workspace) {
  static const std::string sql = sql_text::insert("workspaces", columns::workspace, '$');
  write(sql, params_of(workspace));
}

std::optional<WorkspaceRecord> PostgresStore::find_workspace(const std::string& organization_id,
                                                             const std::string& id) {
  static const std::string sql =
      sql_text::select("workspaces", columns::workspace, "WHERE organization_id = $1 AND id = $2");
  return read_optional<WorkspaceRecord>(run(sql, pg::Params().text(organization_id).text(id)));
}

Page<WorkspaceRecord> PostgresStore::list_workspaces(const std::string& organization_id, int limit,
                                                     const std::string& after) {
  static const std::string sql =
      sql_text::select("workspaces", columns::workspace, "WHERE organization_id = $1 AND id > $2 ORDER BY id LIMIT $3");
  const int size = page_size(limit);
  return read_page<WorkspaceRecord>(run(sql, pg::Params().text(organization_id).text(after).integer(size + 1)), size);
}

bool PostgresStore::update_workspace(const WorkspaceRecord& workspace) {
  return run("UPDATE workspaces SET name = $3, updated_at = $4 WHERE organization_id = $1 AND id = $2",
             pg::Params()
                 .text(workspace.organization_id)
                 .text(workspace.id)
                 .text(workspace.name)
                 .integer(workspace.updated_at))
             .affected_rows() == 1;
}

bool PostgresStore::delete_workspace(const std::string& organization_id, const std::string& id) {
  pg::Params row;
  row.text(organization_id).text(id);
  if (run("DELETE FROM workspaces WHERE organization_id = $1 AND id = $2", row).affected_rows() != 1) return false;
  run("DELETE FROM oauth_apps WHERE organization_id = $1 AND scope = 'ws:' || $2", row);
  return true;
}

int64_t PostgresStore::count_sources_in_workspace(const std::string& organization_id, const std::string& workspace_id) {
  return run("SELECT COUNT(*) FROM sources WHERE organization_id = $1 AND workspace_id = $2",
             pg::Params().text(organization_id).text(workspace_id))
      .integer(0, 0);
}

// --- OAuth flows (the connections table: the API names a flow by its connection_id)

void PostgresStore::insert_flow(const FlowRecord& flow) {
  static const std::string sql = sql_text::insert(flows, columns::postgres_flow, '$');
  write(sql, params_of(flow));
}

std::optional<FlowRecord> PostgresStore::find_flow(const std::string& organization_id, const std::string& id) {
  static const std::string sql =
      sql_text::select(flows, columns::postgres_flow, "WHERE id = $1 AND organization_id = $2");
  return read_optional<FlowRecord>(run(sql, pg::Params().text(id).text(organization_id)));
}

std::optional<FlowRecord> PostgresStore::find_flow_by_id(const std::string& id) {
  static const std::string sql = sql_text::select(flows, columns::postgres_flow, "WHERE id = $1");
  return read_optional<FlowRecord>(run(sql, pg::Params().text(id)));
}

std::optional<FlowRecord> PostgresStore::find_flow_by_state_hash(const std::string& state_hash) {
  // The condition repeats the partial index's, so that the planner uses it.
  static const std::string sql =
      sql_text::select(flows, columns::postgres_flow, "WHERE state_hash = $1 AND NOT state_names_connection");
  return read_optional<FlowRecord>(run(sql, pg::Params().text(state_hash)));
}

bool PostgresStore::update_flow(const FlowRecord& flow) {
  static const std::string sql = sql_text::compare_and_swap(flows, columns::postgres_flow, '$');
  return run(sql, params_of(flow)).affected_rows() == 1;
}

int64_t PostgresStore::count_flows() { return run("SELECT COUNT(*) FROM connections", pg::Params()).integer(0, 0); }

// Each replica's purge may run this at once: SKIP LOCKED lets each take flows the others are
// not expiring, instead of waiting for their rows.
PendingSweep PostgresStore::expire_lapsed_pending_flows(int64_t /*resume_at*/, int64_t now, int limit) {
  PendingSweep sweep;
  sweep.expired = run("UPDATE connections SET status = 'expired', sealed_code_verifier = '', sealed_credentials = '', "
                      "updated_at = $1, version = version + 1 WHERE id IN (SELECT id FROM connections WHERE status = "
                      "'pending' AND expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
                      pg::Params().integer(now).integer(std::max(limit, 1)))
                      .affected_rows();
  sweep.caught_up = sweep.expired < std::max(limit, 1);
  return sweep;
}

int64_t PostgresStore::expire_lapsed_authorized_flows(int64_t now, int limit) {
  return run("UPDATE connections SET status = 'expired', sealed_code_verifier = '', sealed_credentials = '', "
             "updated_at = $1, version = version + 1 WHERE id IN (SELECT id FROM connections WHERE status = "
             "'authorized' AND expires_at <= $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
             pg::Params().integer(now).integer(std::max(limit, 1)))
      .affected_rows();
}

// Flows are made in the order of their creation time, so a BRIN index over created_at finds
// the old ones in a few block ranges at the front of the table.
int64_t PostgresStore::delete_flows_created_before(int64_t created_before, int limit) {
  return run("DELETE FROM connections WHERE id IN (SELECT id FROM connections WHERE created_at < $1 AND status <> "
             "'pending' AND status <> 'authorized' LIMIT $2 FOR UPDATE SKIP LOCKED)",
             pg::Params().integer(created_before).integer(std::max(limit, 1)))
      .affected_rows();
}

// --- Sources

void PostgresStore::insert_source(const SourceRecord& source) {
  static const std::string sql = sql_text::insert("sources", columns::source, '$');
  write(sql, params_of(source));
}

std::optional<SourceRecord> PostgresStore::find_source(const std::string& organization_id, const std::string& id) {
  static const std::string sql = sql_text::select("sources", columns::source, "WHERE organization_id = $1 AND id = $2");
  return read_optional<SourceRecord>(run(sql, pg::Params().text(organization_id).text(id)));
}

Page<SourceRecord> PostgresStore::list_sources(const std::string& organization_id, const std::string& workspace_id,
                                               int limit, const std::string& after) {
  static const std::string all_workspaces_sql =
      sql_text::select("sources", columns::source, "WHERE organization_id = $1 AND id > $2 ORDER BY id LIMIT $3");
  static const std::string one_workspace_sql = sql_text::select(
      "sources", columns::source, "WHERE organization_id = $1 AND workspace_id = $4 AND id > $2 ORDER BY id LIMIT $3");
  const int size = page_size(limit);
  pg::Params params;
  params.text(organization_id).text(after).integer(size + 1);
  if (!workspace_id.empty()) params.text(workspace_id);
  return read_page<SourceRecord>(run(workspace_id.empty() ? all_workspaces_sql : one_workspace_sql, params), size);
}

bool PostgresStore::update_source(const SourceRecord& source) {
  static const std::string sql = sql_text::compare_and_swap("sources", columns::source, '$');
  return run(sql, params_of(source)).affected_rows() == 1;
}

bool PostgresStore::delete_source(const std::string& organization_id, const std::string& id) {
  return run("DELETE FROM sources WHERE organization_id = $1 AND id = $2", pg::Params().text(organization_id).text(id))
             .affected_rows() == 1;
}

std::vector<SourceRecord> PostgresStore::list_sources_due_for_refresh(int64_t expiring_before, int64_t now, int limit) {
  static const std::string sql =
      sql_text::select("sources", columns::source,
                       "WHERE status = 'active' AND auth_type = 'oauth2.0' AND token_expires_at IS NOT NULL "
                       "AND token_expires_at < $1 AND (next_refresh_at IS NULL OR next_refresh_at <= $2) "
                       "AND (refresh_lease_until IS NULL OR refresh_lease_until <= $2) ORDER BY token_expires_at "
                       "LIMIT $3");
  return read_all<SourceRecord>(
      run(sql, pg::Params().integer(expiring_before).integer(now).integer(std::clamp(limit, 1, 1000))));
}

// --- OAuth apps

void PostgresStore::put_oauth_app(const OAuthAppRecord& app) {
  static const std::string sql =
      sql_text::insert("oauth_apps", columns::oauth_app, '$') +
      " ON CONFLICT (organization_id, scope, slug) DO UPDATE SET client_id = excluded.client_id, "
      "sealed_configuration = excluded.sealed_configuration, updated_at = excluded.updated_at";
  run(sql, params_of(app));
}

std::optional<OAuthAppRecord> PostgresStore::find_oauth_app(const std::string& organization_id,
                                                            const std::string& scope, const std::string& slug) {
  static const std::string sql =
      sql_text::select("oauth_apps", columns::oauth_app, "WHERE organization_id = $1 AND scope = $2 AND slug = $3");
  return read_optional<OAuthAppRecord>(run(sql, pg::Params().text(organization_id).text(scope).text(slug)));
}

std::vector<OAuthAppRecord> PostgresStore::list_oauth_apps(const std::string& organization_id,
                                                           const std::string& scope) {
  static const std::string sql =
      sql_text::select("oauth_apps", columns::oauth_app, "WHERE organization_id = $1 AND scope = $2 ORDER BY slug");
  return read_all<OAuthAppRecord>(run(sql, pg::Params().text(organization_id).text(scope)));
}

bool PostgresStore::delete_oauth_app(const std::string& organization_id, const std::string& scope,
                                     const std::string& slug) {
  return run("DELETE FROM oauth_apps WHERE organization_id = $1 AND scope = $2 AND slug = $3",
             pg::Params().text(organization_id).text(scope).text(slug))
             .affected_rows() == 1;
}

// --- Sealed secrets, walked by id (an app's by its key).

std::vector<SealedSecret> PostgresStore::list_sealed_secrets(SecretColumn column,
                                                             const std::optional<SealedSecret>& after, int limit) {
  // Parameters are borrowed until the statement ends: they come from an object that outlives it.
  const SealedSecret start;
  const SealedSecret& from = after ? *after : start;
  pg::Params params;
  if (column == SecretColumn::oauth_app_configuration) {
    params.text(from.id).text(from.scope).text(from.slug);
  } else {
    params.text(from.position);
  }
  params.integer(std::clamp(limit, 1, 10000));
  const pg::Result result = run(sql_text::sealed_secrets_page(column, '$', "id"), params);
  std::vector<SealedSecret> page;
  page.reserve(static_cast<std::size_t>(result.rows()));
  for (int row = 0; row < result.rows(); ++row) {
    page.push_back({column, result.text(row, 0), result.text(row, 1), result.text(row, 2), result.bytes(row, 3),
                    result.text(row, 4)});
  }
  return page;
}

bool PostgresStore::replace_sealed_secret(const SealedSecret& stored, std::span<const uint8_t> resealed, int64_t now) {
  pg::Params params;
  params.bytes(resealed);
  if (stored.column == SecretColumn::oauth_app_configuration) {
    params.text(stored.id).text(stored.scope).text(stored.slug);
  } else {
    params.text(stored.id);
  }
  params.bytes(stored.sealed);
  if (stored.column == SecretColumn::source_credentials) params.integer(now);
  return run(sql_text::replace_sealed_secret(stored.column, '$', "id"), params).affected_rows() == 1;
}

std::map<std::string, int64_t> PostgresStore::count_rows() {
  static const std::string sql = sql_text::count_rows_by_table();
  const pg::Result result = run(sql, pg::Params());
  std::map<std::string, int64_t> counts;
  for (int row = 0; row < result.rows(); ++row)
    counts[result.text(row, 0)] = result.integer(row, 1);
  return counts;
}

std::map<uint32_t, int64_t> PostgresStore::count_secrets_by_key() {
  static const std::string sql = sql_text::count_secrets_by_key('$');
  const pg::Result result = run(sql, pg::Params().bytes(envelope_version_byte));
  std::map<uint32_t, int64_t> counts;
  for (int row = 0; row < result.rows(); ++row)
    counts[key_id_from_envelope_header(result.bytes(row, 0))] += result.integer(row, 1);
  return counts;
}

namespace {

const std::string_view generation_sql = "SELECT generation FROM cache_generation WHERE id = 1";

int64_t generation_in(const pg::Result& result) { return result.rows() == 1 ? result.integer(0, 0) : 0; }

} // namespace

int64_t PostgresStore::cache_generation() { return generation_in(run(generation_sql, pg::Params())); }

// --- Transactions. One batch is one transaction; each job inside it is a savepoint.

// Without savepoints the BEGIN is sent without waiting, and goes with the batch's first
// statement. Only on a quiet connection: one the server left while it was idle (a restart)
// takes the BEGIN that waits, which is tried again on a new connection, so that the batch
// does not fail for it.
void PostgresStore::begin_batch() {
  if (!job_savepoints_ && connection_ && connection_->quiet_since_last_answer()) {
    connection_->send_command("BEGIN");
    batch_open_ = true;
    return;
  }
  run("BEGIN", pg::Params());
  batch_open_ = true;
}

void PostgresStore::commit_batch() { commit(false); }

int64_t PostgresStore::commit_batch_reading_generation() { return *commit(true); }

std::optional<int64_t> PostgresStore::commit(bool read_generation) {
  if (!batch_open_) throw std::runtime_error("postgresql: commit without a batch");
  if (connection_ && connection_->has_sent()) return commit_after_sent(read_generation);
  // The batch stays open while COMMIT runs, so that a connection found broken is reported
  // (StoreUnavailable) instead of replaced: a COMMIT on a new connection would "succeed"
  // outside any transaction while the batch was lost. A failed COMMIT, or one whose answer
  // never came, leaves no transaction open either way: the server committed it or threw it
  // away (an unanswered COMMIT is in doubt, as with any database; its callers hear
  // StoreUnavailable).
  // COMMIT in a spoiled transaction "succeeds" as a ROLLBACK: never let that pass for a commit.
  if (connection_ && connection_->in_failed_transaction()) {
    throw std::runtime_error("postgresql: the transaction failed before its commit");
  }
  const std::optional<int64_t> generation = read_generation ? std::optional(cache_generation()) : std::nullopt;
  try {
    run("COMMIT", pg::Params());
  } catch (...) {
    batch_open_ = false;
    throw;
  }
  batch_open_ = false;
  return generation;
}

// The writes sent, the generation read and the COMMIT in one round trip. A failure before the
// COMMIT makes the server skip it (and the rest of what was sent), so it can never commit a
// spoiled transaction; the batch stays open for the executor to roll back and run again with
// savepoints.
std::optional<int64_t> PostgresStore::commit_after_sent(bool read_generation) {
  const int generation_at = read_generation ? send(generation_sql, pg::Params()) : -1;
  const int commit_at = connection_->send_command("COMMIT");
  pg::Connection::SentAnswers answers = connection_->collect_sent_answers(generation_at);
  if (answers.failure && answers.failed_at < commit_at && connection_->usable()) {
    throw BatchNeedsSavepoints("postgresql: a statement sent without waiting failed");
  }
  batch_open_ = false; // committed, or the COMMIT failed, or its answer never came (in doubt)
  if (answers.failure) std::rethrow_exception(answers.failure);
  if (!read_generation) return std::nullopt;
  if (!answers.kept) throw std::logic_error("postgresql: the generation's answer was not kept");
  return generation_in(*answers.kept);
}

void PostgresStore::rollback_batch() noexcept {
  const bool was_open = batch_open_;
  batch_open_ = false;
  if (!was_open || !connection_ || !connection_->usable()) return; // a broken connection takes its transaction
  try {
    if (connection_->has_sent()) {
      try {
        connection_->collect_sent();
      } catch (const std::exception&) { // the batch is being thrown away, failures and all
      }
    }
    connection_->execute_script("ROLLBACK");
  } catch (const std::exception&) { // the connection broke now: the server undoes the transaction itself
  }
}

// A savepoint is two round trips a job (SAVEPOINT, RELEASE) and a subtransaction on the
// server: jobs run without one until one fails, and then the batch runs again with one a job.
// A failed statement spoils PostgreSQL's whole transaction, so a job that failed, or that
// caught a failed statement's exception and went on, is told by the transaction's state.
void PostgresStore::use_job_savepoints(bool always) { job_savepoints_ = always; }

void PostgresStore::begin_job(JobUndo /*undo*/) {
  if (job_savepoints_) run("SAVEPOINT job", pg::Params());
}

void PostgresStore::end_job(bool keep) {
  if (!job_savepoints_) {
    if (!keep || (connection_ && connection_->in_failed_transaction())) {
      throw BatchNeedsSavepoints("postgresql: a job failed without a savepoint");
    }
    return;
  }
  if (!keep) run("ROLLBACK TO SAVEPOINT job", pg::Params());
  run("RELEASE SAVEPOINT job", pg::Params());
}

} // namespace connector::core
