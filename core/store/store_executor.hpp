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
#include <condition_variable>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <type_traits>
#include <vector>

namespace connector::core {

class CacheGenerationClock;

class StoreExecutor {
public:
  // With a clock, each committed batch publishes the cache generation its transaction saw
  // (before any caller hears of the commit), so this process's own changes count at once.
  explicit StoreExecutor(std::unique_ptr<TransactionalStore> store, CacheGenerationClock* generations = nullptr);
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

  std::unique_ptr<TransactionalStore> store_;
  CacheGenerationClock* generations_; // may be null
  // Guards queue_, stopping_ and store_waiting_ only: every connection thread takes it for
  // each job it queues, so nothing slow (no allocation once warm, no wake-up) runs under it.
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<Work> queue_; // swapped with the store thread's batch: both keep their capacity
  bool stopping_ = false;
  bool store_waiting_ = false; // the store thread sleeps on wake_ (a job must wake it)
  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> jobs_{0};
  std::thread thread_; // last: started after everything above exists
};

} // namespace connector::core

#include "store/store_executor_impl.hpp" // the templates' bodies
