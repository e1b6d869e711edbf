#include "store/store_executor.hpp"

#include "store/cache_generation_clock.hpp"
#include "threads/thread_name.hpp"

#include <optional>
#include <stdexcept>
#include <utility>

namespace connector::core {
namespace {

std::unique_ptr<TransactionalStore> require_store(std::unique_ptr<TransactionalStore> store) {
  if (!store) throw std::invalid_argument("StoreExecutor needs a store");
  return store;
}

} // namespace

StoreExecutor::StoreExecutor(std::unique_ptr<TransactionalStore> store, CacheGenerationClock* generations)
    : store_(require_store(std::move(store))), generations_(generations), thread_([this] {
        name_this_thread("store");
        loop();
      }) {}

StoreExecutor::~StoreExecutor() { stop(); }

void StoreExecutor::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join(); // the loop leaves only once the queue is empty
}

uint64_t StoreExecutor::batches_committed() const { return batches_.load(std::memory_order_relaxed); }

uint64_t StoreExecutor::jobs_run() const { return jobs_.load(std::memory_order_relaxed); }

void StoreExecutor::enqueue(Work work) {
  std::unique_lock lock(mutex_);
  if (stopping_) {
    lock.unlock();
    // Too late to run: answer through the completion rather than throwing out of the caller's
    // initiation, so a coroutine is resumed with the error instead of being torn down.
    work.complete(std::make_exception_ptr(std::logic_error("StoreExecutor is shutting down")));
    return;
  }
  queue_.push_back(std::move(work));
  // Only a sleeping store thread needs waking, and only once: a busy one takes this job with
  // its next batch. The wake-up (a system call) happens after the lock is released, so the
  // woken thread does not find it held, and no other thread waits behind it.
  const bool wake = std::exchange(store_waiting_, false);
  lock.unlock();
  if (wake) wake_.notify_one();
}

// Group commit: every job that queued while the previous batch ran goes into the next
// transaction, so one commit (one WAL append) makes many jobs durable at once.
void StoreExecutor::loop() {
  std::vector<Work> batch;
  for (;;) {
    batch.clear();
    {
      std::unique_lock lock(mutex_);
      while (!stopping_ && queue_.empty()) {
        store_waiting_ = true;
        wake_.wait(lock);
      }
      store_waiting_ = false;
      if (queue_.empty()) return; // stopping, and nothing left to drain
      batch.swap(queue_);
    }

    // Any failure of the batch itself (begin, a savepoint, commit) undoes every job in it, so
    // every caller hears of it; a job's own exception only undoes its savepoint. A backend that
    // ran the jobs without savepoints asks for the batch again with them when one failed.
    std::exception_ptr batch_error;
    uint64_t executed = 0;
    bool with_savepoints = false;
    for (;;) {
      executed = 0;
      try {
        store_->begin_batch();
        for (Work& work : batch) {
          store_->begin_job(work.undo);
          const bool succeeded = work.execute(*store_);
          ++executed;
          store_->end_job(succeeded);
        }
        // Read in the write transaction, which sees every commit before it (another process's
        // too) and this batch's own changes; published before any caller hears of its commit.
        if (generations_ != nullptr) {
          generations_->publish(store_->commit_batch_reading_generation());
        } else {
          store_->commit_batch();
        }
      } catch (const BatchNeedsSavepoints&) {
        store_->rollback_batch();
        if (!with_savepoints) {
          with_savepoints = true;
          store_->use_job_savepoints(true);
          continue;
        }
        batch_error = std::current_exception(); // a backend that asks twice: no endless loop
      } catch (...) {
        batch_error = std::current_exception();
        store_->rollback_batch();
      }
      break;
    }
    if (with_savepoints) store_->use_job_savepoints(false);
    jobs_.fetch_add(executed, std::memory_order_relaxed);
    if (!batch_error) batches_.fetch_add(1, std::memory_order_relaxed);
    for (Work& work : batch) {
      try {
        work.complete(batch_error);
      } catch (...) {
        // Only posting the answer can throw (out of memory); the other callers still get theirs.
      }
    }
  }
}

} // namespace connector::core
