// The SQLite backend: one database file in WAL mode, which several host processes may share
// (writers wait up to 5 s for each other). Opening a file migrates it to the newest schema;
// a file written by a newer build is refused. Statements are prepared once per connection
// and every value is bound as a parameter.
//
// One object is one connection: use it from one thread at a time (StoreExecutor's thread).
#pragma once

#include "store/migrations.hpp"
#include "store/sqlite_support.hpp"
#include "store/store_executor.hpp"
#include "store/wal_checkpointer.hpp"

#include <filesystem>
#include <functional>
#include <string_view>
#include <unordered_map>

namespace connector::core {

class SqliteStore final : public TransactionalStore {
public:
  // Creates the file and its folder when missing. Throws std::runtime_error when the file
  // cannot be opened, cannot use WAL, or is at a newer schema than this build.
  explicit SqliteStore(const std::filesystem::path& path);
  ~SqliteStore() override;
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

  // For the CLI. The schema version this build writes.
  static int latest_schema_version();
  // The version a database file is at; 0 when it does not exist (it is not created) or was
  // never migrated. Reads only.
  static int schema_version(const std::filesystem::path& path);
  // Brings a database file to latest_schema_version() (creating it), as opening does, telling
  // `on_step` of each step.
  static void migrate(const std::filesystem::path& path, const MigrationStepObserver& on_step = {});
  // Another connection to a file a SqliteStore has already opened (so created and migrated),
  // for StoreExecutor::read_now(): it refuses writes (query_only).
  static std::unique_ptr<SqliteStore> open_reader(const std::filesystem::path& path);

  // For a long-running writer (the host's store thread): checkpoints move to a thread of
  // their own (WalCheckpointer) instead of running inside the commit that crosses SQLite's
  // threshold, and the page cache grows to `cache_mib`, so a large table's index pages stay
  // in memory between commits.
  void tune_for_service(int checkpoint_frames, int cache_mib);

  // Every record of one kind, each handed to `take` as it is read, in one statement (a
  // consistent view of that table): what `database copy` reads. Defined for ApiKeyRecord,
  // AllowedRedirectRecord, WorkspaceRecord, FlowRecord, SourceRecord and OAuthAppRecord.
  template <typename Record> void read_every(const std::function<void(Record&&)>& take);

  // Store
  void insert_api_key(const ApiKeyRecord& key) override;
  std::optional<ApiKeyRecord> find_api_key_by_hash(const std::string& key_hash) override;
  std::vector<ApiKeyRecord> list_api_keys(const std::string& organization_id) override;
  // True when the key exists; revoking twice keeps the first revocation time.
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

  void insert_flow(const FlowRecord& connection) override;
  std::optional<FlowRecord> find_flow(const std::string& organization_id, const std::string& id) override;
  std::optional<FlowRecord> find_flow_by_id(const std::string& id) override;
  std::optional<FlowRecord> find_flow_by_state_hash(const std::string& state_hash) override;
  bool update_flow(const FlowRecord& connection) override;
  int64_t count_flows() override;
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

  // TransactionalStore
  void begin_batch() override;
  void commit_batch() override;
  void rollback_batch() noexcept override;
  void begin_job(JobUndo undo) override;
  void end_job(bool keep) override;

private:
  struct ReaderTag {};
  SqliteStore(const std::filesystem::path& path, ReaderTag);

  // The cached statement for `sql`, compiled on first use. `sql` must be static text (a
  // literal or a function-local static): the cache keys on it without copying.
  sqlite3_stmt* prepared(std::string_view sql);
  void execute_prepared(std::string_view sql);

  // Declared before db_, so that the connection (whose WAL hook points here) closes first.
  std::unique_ptr<WalCheckpointer> checkpointer_;
  sqlite::DatabasePtr db_;
  // Declared after db_ so that the statements are finalized before the connection closes.
  std::unordered_map<std::string_view, sqlite::StatementPtr> statements_;
  bool batch_open_ = false;
  bool checkpoint_after_commit_ = false; // secrets were deleted in this batch
  JobUndo job_undo_ = JobUndo::savepoint;
  int64_t changes_at_job_start_ = 0; // sqlite3_total_changes64, for a JobUndo::statement job
  int64_t newest_flow_key_ = 0;      // the largest row key insert_flow has seen (a writer's only)
};

} // namespace connector::core
