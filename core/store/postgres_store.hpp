// The PostgreSQL backend: one server that several host replicas share. Opening a store
// migrates the database to the newest schema (once, whichever replicas start together); a
// database written by a newer build is refused. Statements are prepared once per connection
// and every value travels as a typed binary parameter.
//
// A batch (StoreExecutor) runs its jobs without savepoints while none fails, and what it
// does not need an answer to goes in libpq's pipeline mode: the BEGIN, the writes, then the
// cache generation's read and the COMMIT, so a batch of inserts costs one round trip. A read
// in between goes in the same pipeline as what was sent before it.
//
// One object is one connection: use it from one thread at a time (StoreExecutor's thread, or
// one StoreReaders lease). A connection that breaks (the server restarted, the network
// dropped) fails what was running with StoreUnavailable; the next call outside a transaction
// connects again, so the store recovers by itself once the server is back, and a read or a
// batch that finds its connection gone tries a new one before it fails.
#pragma once

#include "store/postgres_support.hpp"
#include "store/store.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace connector::core {

class PostgresStore final : public TransactionalStore {
public:
  // Connects to `url` (postgresql://user:password@host:port/database) and migrates the
  // database. Throws StoreUnavailable when the server cannot be reached, std::runtime_error
  // when the database is at a newer schema than this build or a migration fails.
  explicit PostgresStore(std::string url);
  ~PostgresStore() override;
  PostgresStore(const PostgresStore&) = delete;
  PostgresStore& operator=(const PostgresStore&) = delete;

  // Another connection to a database a PostgresStore has already migrated, for
  // StoreReaders: its transactions are read-only. Connects on first use.
  static std::unique_ptr<PostgresStore> open_reader(std::string url);

  // Store
  void insert_api_key(const ApiKeyRecord& key) override;
  std::optional<ApiKeyRecord> find_api_key_by_hash(const std::string& key_hash) override;
  std::vector<ApiKeyRecord> list_api_keys(const std::string& organization_id) override;
  bool revoke_api_key(const std::string& key_id, int64_t now) override;

  void add_allowed_redirect(const AllowedRedirectRecord& record) override;
  bool remove_allowed_redirect(const std::string& organization_id, const std::string& url) override;
  std::vector<AllowedRedirectRecord> list_allowed_redirects(const std::string& organization_id) override;

  void insert_workspace(const WorkspaceRecord& workspace) override;
  std::optional<WorkspaceRecord> find_workspace(const std::string& organization_id, const std::string& id) override;
  Page<WorkspaceRecord> list_workspaces(const std::string& organization_id, int limit,
                                        const std::string& after) override;
  bool update_workspace(const WorkspaceRecord& workspace) override;
  bool delete_workspace(const std::string& organization_id, const std::string& id) override;
  int64_t count_sources_in_workspace(const std::string& organization_id, const std::string& workspace_id) override;

  void insert_flow(const FlowRecord& flow) override;
  std::optional<FlowRecord> find_flow(const std::string& organization_id, const std::string& id) override;
  std::optional<FlowRecord> find_flow_by_id(const std::string& id) override;
  std::optional<FlowRecord> find_flow_by_state_hash(const std::string& state_hash) override;
  bool update_flow(const FlowRecord& flow) override;
  int64_t count_flows() override;
  // Walks the index of pending flows by their end of life; `resume_at` is not needed.
  PendingSweep expire_lapsed_pending_flows(int64_t resume_at, int64_t now, int limit) override;
  int64_t expire_lapsed_authorized_flows(int64_t now, int limit) override;
  int64_t delete_flows_created_before(int64_t created_before, int limit) override;

  void insert_source(const SourceRecord& source) override;
  std::optional<SourceRecord> find_source(const std::string& organization_id, const std::string& id) override;
  Page<SourceRecord> list_sources(const std::string& organization_id, const std::string& workspace_id, int limit,
                                  const std::string& after) override;
  bool update_source(const SourceRecord& source) override;
  bool delete_source(const std::string& organization_id, const std::string& id) override;
  std::vector<SourceRecord> list_sources_due_for_refresh(int64_t expiring_before, int64_t now, int limit) override;

  void put_oauth_app(const OAuthAppRecord& app) override;
  std::optional<OAuthAppRecord> find_oauth_app(const std::string& organization_id, const std::string& scope,
                                               const std::string& slug) override;
  std::vector<OAuthAppRecord> list_oauth_apps(const std::string& organization_id, const std::string& scope) override;
  bool delete_oauth_app(const std::string& organization_id, const std::string& scope, const std::string& slug) override;
  std::vector<SealedSecret> list_sealed_secrets(SecretColumn column, const std::optional<SealedSecret>& after,
                                                int limit) override;
  bool replace_sealed_secret(const SealedSecret& stored, std::span<const uint8_t> resealed, int64_t now) override;
  std::map<std::string, int64_t> count_rows() override;
  std::map<uint32_t, int64_t> count_secrets_by_key() override;
  int64_t cache_generation() override;

  // TransactionalStore. Every job runs in a savepoint, JobUndo::statement ones too: a failed
  // statement spoils PostgreSQL's whole transaction until it is rolled back to a savepoint.
  void use_job_savepoints(bool always) override;
  void begin_batch() override;
  void commit_batch() override;
  int64_t commit_batch_reading_generation() override; // one round trip with the writes sent
  void rollback_batch() noexcept override;
  void begin_job(JobUndo undo) override;
  void end_job(bool keep) override;

private:
  struct ReaderTag {};
  PostgresStore(std::string url, ReaderTag);

  // The connection, opened again first if it broke, unless a transaction was open on it:
  // then its work is lost and this throws StoreUnavailable.
  pg::Connection& db();
  // Runs a prepared statement. A connection left idle across a server restart fails its
  // next statement: a read-only connection's statement, or the BEGIN that opens a batch, is
  // then tried once more on a new connection (they changed nothing); anything else throws.
  pg::Result run(std::string_view sql, const pg::Params& params);
  void write(std::string_view sql, const pg::Params& params);
  // Sends without waiting; a failure of what was sent before, read on the way, asks for
  // savepoints (BatchNeedsSavepoints). Returns the statement's place among those sent.
  int send(std::string_view sql, const pg::Params& params);
  pg::Result run_after_sent(std::string_view sql, const pg::Params& params);
  void collect_written();
  std::optional<int64_t> commit(bool read_generation);
  std::optional<int64_t> commit_after_sent(bool read_generation);

  std::string url_;
  bool read_only_ = false;
  bool batch_open_ = false;
  bool job_savepoints_ = false; // see use_job_savepoints
  std::optional<pg::Connection> connection_;
};

} // namespace connector::core
