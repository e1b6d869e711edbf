// Runs store jobs on the store's own thread so that no I/O thread ever waits for a write,
// and commits them in groups: every job that queued while the previous commit was
// running goes into the next transaction, each inside its own savepoint (unless it writes
// with a single statement, see JobUndo), so one failing job rolls back alone. Callers
// co_await run(job) and resume on their own executor after the commit that made their job
// durable.
#pragma once

#include "store/store.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace connector::core {

// How a job that throws is undone inside its batch.
enum class JobUndo {
  // The job runs in its own savepoint, which is rolled back alone if the job throws.
  savepoint,
  // The job writes with one statement at most, as its last act (a single INSERT), so a
  // throw leaves nothing of it behind: SQLite undoes a failed statement by itself. This
  // saves the savepoint's two extra statements and page copies on the store thread, which
  // every write waits for (bench/README.md has what that is worth to authorize). If such a
  // job does throw after it changed rows, the whole batch is rolled back and each of its
  // jobs fails: a wrong declaration can fail callers, but it never commits half a job.
  statement,
};

// What a backend offers the executor to group jobs into transactions.
class TransactionalStore : public Store {
public:
  virtual void begin_batch() = 0;  // BEGIN IMMEDIATE
  virtual void commit_batch() = 0; // COMMIT; throws on failure
  virtual void rollback_batch() noexcept = 0;
  virtual void begin_job(JobUndo undo) = 0; // SAVEPOINT (JobUndo::savepoint)
  // RELEASE, or ROLLBACK TO + RELEASE; for a JobUndo::statement job that failed after it
  // changed rows, throws, so that the executor rolls the batch back.
  virtual void end_job(bool keep) = 0;
};

class StoreExecutor {
public:
  // Opens another connection for reads (SqliteStore::open_reader); called as readers are needed.
  using ReaderFactory = std::function<std::unique_ptr<Store>()>;

  explicit StoreExecutor(std::unique_ptr<TransactionalStore> store, ReaderFactory open_reader = {});
  ~StoreExecutor(); // stop()
  // Finishes every queued job, then stops the thread; jobs given later fail at once. Called
  // before the io_contexts the jobs' callers run on are destroyed: a finished job releases
  // its caller's executor (work counts, a strand) from the store thread.
  void stop();
  StoreExecutor(const StoreExecutor&) = delete;
  StoreExecutor& operator=(const StoreExecutor&) = delete;

  // Runs `job(Store&)` atomically on the store thread; resumes the caller with its result
  // after the commit, or rethrows what the job (or the commit) threw. `undo` says how a
  // throwing job is undone (JobUndo::statement is for single-statement writes).
  // Coroutines pass jobs that capture by reference ([&]): the caller is suspended until the
  // job is done, so its locals outlive the job, and g++ 12 destroys a temporary lambda with
  // owning captures (a std::string by value, say) twice inside a co_await expression.
  template <typename Job>
  boost::asio::awaitable<std::invoke_result_t<Job&, Store&>> run(Job job, JobUndo undo = JobUndo::savepoint);

  // Runs a job that only reads, at once, on the caller's thread, with a reader connection
  // from a pool, and returns its result. A request then needs no trip to the store thread and
  // back for its lookups (a key, an OAuth app): in WAL mode a reader sees the last commit and
  // never waits for the writer. What it reads is committed, but not in the same transaction as
  // a later run(): checks that must hold at a write belong in it. Without a reader factory the
  // job runs on the store thread and the caller blocks meanwhile (CLI, tests).
  template <typename Job> std::invoke_result_t<Job&, Store&> read_now(Job job);

  // The database's cache generation (Store::cache_generation): what the last committed batch
  // read inside its transaction (so this process's own changes count from their commit), or,
  // when nothing newer than `max_age` was seen, what a reader finds now. Changes made by
  // another process are therefore seen within `max_age`, or at the next batch if sooner.
  int64_t cache_generation(std::chrono::milliseconds max_age);

  // The same for code that is not a coroutine (CLI, start-up, tests): blocks the caller.
  template <typename Job> std::invoke_result_t<Job&, Store&> run_sync(Job job);

  // Figures for metrics and benchmarks.
  uint64_t batches_committed() const;
  uint64_t jobs_run() const;

private:
  // A queued job: `execute` runs it (inside its savepoint unless `undo` says otherwise) and
  // says whether it succeeded (a job that throws keeps its exception for its caller and is
  // rolled back alone); `complete` answers the caller once the batch is over, with the
  // batch's exception if the batch could not begin or commit (then the job may never have run).
  using Completion = std::function<void(std::exception_ptr batch_error)>;
  struct Work {
    std::function<bool(Store&)> execute;
    Completion complete;
    JobUndo undo = JobUndo::savepoint;
  };

  void enqueue(Work work);
  void loop();
  void publish_cache_generation(int64_t generation); // keeps the highest; stamps the time

  // A reader taken from the pool for one read_now() and given back after it, even on a throw.
  class ReaderLease {
  public:
    explicit ReaderLease(StoreExecutor& owner);
    ~ReaderLease();
    ReaderLease(const ReaderLease&) = delete;
    ReaderLease& operator=(const ReaderLease&) = delete;
    Store& store() { return *reader_; }

  private:
    StoreExecutor& owner_;
    std::unique_ptr<Store> reader_;
  };

  std::unique_ptr<TransactionalStore> store_;
  // Guards queue_, stopping_ and store_waiting_ only: every connection thread takes it for
  // each job it queues, so nothing slow (no allocation once warm, no wake-up) runs under it.
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<Work> queue_; // swapped with the store thread's batch: both keep their capacity
  bool stopping_ = false;
  bool store_waiting_ = false; // the store thread sleeps on wake_ (a job must wake it)
  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> jobs_{0};
  ReaderFactory open_reader_;
  std::mutex readers_mutex_;
  std::vector<std::unique_ptr<Store>> idle_readers_;
  std::atomic<int64_t> cache_generation_{-1};
  std::atomic<int64_t> cache_generation_seen_ns_{0}; // steady clock, when it was last read
  std::thread thread_;                               // last: started after everything above exists
};

} // namespace connector::core

#include "store/store_executor_impl.hpp" // the templates' bodies
