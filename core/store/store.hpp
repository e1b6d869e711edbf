// The storage interface. SQLite implements it (sqlite_store.hpp); a PostgreSQL backend can
// implement it later without touching the callers.
//
// Calls are synchronous and short; the host runs them on the store's own thread through
// StoreExecutor, never on an I/O thread, and reads that need no transaction through
// StoreReaders. A backend gives the executor transactions by implementing TransactionalStore. Each job given to the
// executor runs atomically (all of its writes or none). Lookups scoped by organization return nothing for another
// organization's ids, so callers answer 404 and leak nothing.
#pragma once

#include "store/records.hpp"

#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace connector::core {

// Thrown when a write collides with a unique key (an id, a key hash, a state hash): the caller
// answers 409. A full disk is StorageFull; every other storage failure is a plain
// std::runtime_error. Messages name the table and column, never the values (they may be secrets).
class StoreConflict : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// Thrown when a write fails because the file system has no room left (ENOSPC), the process's
// file size limit is reached (EFBIG) or a quota is used up: the caller answers 503 STORAGE_FULL.
// SQLite has undone the statement or transaction, so nothing of the write is stored.
class StorageFull : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// Thrown when a database server cannot be reached or the connection to it broke: the caller
// answers 503 STORE_UNAVAILABLE and the next request tries again. (The embedded SQLite file
// never throws it.)
class StoreUnavailable : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// Thrown by TransactionalStore::end_job of a backend that ran a job without a savepoint when
// that job failed (or left the transaction failed): the executor rolls the batch back and runs
// it again with a savepoint around each job. Never reaches a caller.
class BatchNeedsSavepoints : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

class Store {
public:
  virtual ~Store() = default;

  // API keys
  virtual void insert_api_key(const ApiKeyRecord& key) = 0;
  virtual std::optional<ApiKeyRecord> find_api_key_by_hash(const std::string& key_hash) = 0;
  virtual std::vector<ApiKeyRecord> list_api_keys(const std::string& organization_id) = 0; // "" = all
  virtual bool revoke_api_key(const std::string& key_id, int64_t now) = 0;

  // The redirect allow-list of an organization
  virtual void add_allowed_redirect(const AllowedRedirectRecord& record) = 0; // idempotent
  virtual bool remove_allowed_redirect(const std::string& organization_id, const std::string& url) = 0;
  virtual std::vector<AllowedRedirectRecord> list_allowed_redirects(const std::string& organization_id) = 0;

  // Workspaces
  virtual void insert_workspace(const WorkspaceRecord& workspace) = 0;
  virtual std::optional<WorkspaceRecord> find_workspace(const std::string& organization_id, const std::string& id) = 0;
  virtual Page<WorkspaceRecord> list_workspaces(const std::string& organization_id, int limit,
                                                const std::string& after) = 0; // ordered by id
  virtual bool update_workspace(const WorkspaceRecord& workspace) = 0;         // name and updated_at
  // Also deletes the workspace's own OAuth apps. Sources are the caller's concern.
  virtual bool delete_workspace(const std::string& organization_id, const std::string& id) = 0;
  virtual int64_t count_sources_in_workspace(const std::string& organization_id, const std::string& workspace_id) = 0;

  // Connections (OAuth flows)
  virtual void insert_flow(const FlowRecord& flow) = 0;
  virtual std::optional<FlowRecord> find_flow(const std::string& organization_id, const std::string& id) = 0;
  // For the provider-facing callback, whose state names its flow (any organization).
  virtual std::optional<FlowRecord> find_flow_by_id(const std::string& id) = 0;
  // Flows started before states named their flow: found by the state's hash.
  virtual std::optional<FlowRecord> find_flow_by_state_hash(const std::string& state_hash) = 0;
  // Writes `flow` if the stored version still equals flow.version, storing
  // version + 1; false (and no change) when someone else updated it first.
  virtual bool update_flow(const FlowRecord& flow) = 0;
  virtual int64_t count_flows() = 0;
  // Pending flows whose state ran out at `now` become expired and lose their sealed verifier
  // for good. The store walks its flows in the order they were made, from `resume_at` (0: the
  // first), reading at most `limit`; flows are made with a fixed lifetime, so the walk stops at
  // the first pending flow still good, where the next call resumes (PendingSweep::resume_at,
  // opaque to the caller).
  virtual PendingSweep expire_lapsed_pending_flows(int64_t resume_at, int64_t now, int limit) = 0;
  // Up to `limit` authorized flows whose time is up at `now` become expired and lose their
  // sealed tokens for good; returns how many.
  virtual int64_t expire_lapsed_authorized_flows(int64_t now, int limit) = 0;
  // Deletes up to `limit` flows created before `created_before` that are neither pending nor
  // authorized; returns how many.
  virtual int64_t delete_flows_created_before(int64_t created_before, int limit) = 0;

  // Sources
  virtual void insert_source(const SourceRecord& source) = 0;
  virtual std::optional<SourceRecord> find_source(const std::string& organization_id, const std::string& id) = 0;
  virtual Page<SourceRecord> list_sources(const std::string& organization_id, const std::string& workspace_id,
                                          int limit, const std::string& after) = 0; // workspace "" = all
  // Compare-and-swap on version, like update_flow.
  virtual bool update_source(const SourceRecord& source) = 0;
  // Erases the row and its sealed credentials for good (not recoverable from the file).
  virtual bool delete_source(const std::string& organization_id, const std::string& id) = 0;
  // Across organizations, soonest first: active OAuth sources whose token expires before
  // `expiring_before`, not cooling down and not leased at `now`.
  virtual std::vector<SourceRecord> list_sources_due_for_refresh(int64_t expiring_before, int64_t now, int limit) = 0;

  // Organizations' and workspaces' own OAuth apps, keyed by (organization, scope, slug).
  virtual void put_oauth_app(const OAuthAppRecord& app) = 0; // inserts or replaces
  virtual std::optional<OAuthAppRecord> find_oauth_app(const std::string& organization_id, const std::string& scope,
                                                       const std::string& slug) = 0;
  virtual std::vector<OAuthAppRecord> list_oauth_apps(const std::string& organization_id, const std::string& scope) = 0;
  virtual bool delete_oauth_app(const std::string& organization_id, const std::string& scope,
                                const std::string& slug) = 0;

  // Every stored secret, for re-sealing under a new key: a page of `column`'s secrets in the
  // store's order, after `after` (nullopt: from the start). Empty secrets are left out.
  virtual std::vector<SealedSecret> list_sealed_secrets(SecretColumn column, const std::optional<SealedSecret>& after,
                                                        int limit) = 0;
  // Puts `resealed` in place of `stored` if the row still holds exactly `stored.sealed`, and,
  // for a source, no refresh lease is held at `now` (the lease holder compares the sealed bytes
  // it took the lease with). A write that came in between wins: false.
  virtual bool replace_sealed_secret(const SealedSecret& stored, std::span<const uint8_t> resealed, int64_t now) = 0;
  // How many rows each table of records holds, by table name (database copy compares them).
  virtual std::map<std::string, int64_t> count_rows() = 0;
  // How many stored secrets each sealing key id seals (read from the envelopes' headers).
  virtual std::map<uint32_t, int64_t> count_secrets_by_key() = 0;

  // A counter the database moves on every change to API keys or OAuth apps, by whoever makes
  // it: what the host keeps of those in memory is good while it stays the same.
  virtual int64_t cache_generation() = 0;
};

// How a job that throws is undone inside its batch.
enum class JobUndo {
  // The job runs in its own savepoint, which is rolled back alone if the job throws.
  savepoint,
  // The job writes with one statement at most, as its last act (a single INSERT), so a
  // throw leaves nothing of it behind where a failed statement undoes only itself (SQLite).
  // This saves the savepoint's two extra statements and page copies on the store thread,
  // which every write waits for (bench/README.md has what that is worth to authorize). If
  // such a job does throw after it changed rows, the whole batch is rolled back and each of
  // its jobs fails: a wrong declaration can fail callers, but it never commits half a job. A
  // backend where a failed statement spoils the whole transaction (PostgreSQL) treats these
  // jobs like the others (see TransactionalStore::use_job_savepoints).
  statement,
};

// What a backend offers StoreExecutor to group jobs into transactions: one write transaction
// a batch, and inside it a savepoint a job.
//
// A backend whose savepoints cost round trips (PostgreSQL) may run a batch's jobs without them
// while none fails: end_job then throws BatchNeedsSavepoints for a failed job, and the executor
// runs the batch again after use_job_savepoints(true), which lasts until
// use_job_savepoints(false). Jobs are therefore written to be run again: what they return, and
// what they set outside themselves, comes from their last run.
class TransactionalStore : public Store {
public:
  virtual void use_job_savepoints(bool /*always*/) {}
  virtual void begin_batch() = 0;  // a write transaction (SQLite: BEGIN IMMEDIATE)
  virtual void commit_batch() = 0; // throws on failure
  // Commits, and returns the cache generation (cache_generation()) the batch's transaction saw
  // just before: every commit before it and the batch's own changes. A backend may do both in
  // one round trip.
  virtual int64_t commit_batch_reading_generation() {
    const int64_t generation = cache_generation();
    commit_batch();
    return generation;
  }
  virtual void rollback_batch() noexcept = 0;
  virtual void begin_job(JobUndo undo) = 0; // a savepoint, for JobUndo::savepoint
  // RELEASE, or ROLLBACK TO + RELEASE; for a JobUndo::statement job that failed after it
  // changed rows, throws, so that the executor rolls the batch back.
  virtual void end_job(bool keep) = 0;
};

} // namespace connector::core
