// Reads that need no trip to the store thread: a job that only reads runs at once, on the
// caller's thread, with a reader connection from a pool. A request then waits on no writer
// for its lookups (an API key, an OAuth app): in WAL mode a reader sees the last commit and
// never waits for the writer. What it reads is committed, but not in the same transaction as
// a later StoreExecutor::run(): checks that must hold at a write belong in that job.
#pragma once

#include "store/cache_generation_clock.hpp"
#include "store/store_executor.hpp"

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <type_traits>
#include <vector>

namespace connector::core {

class StoreReaders {
public:
  // Opens another connection that only reads (SqliteStore::open_reader); called as readers
  // are needed, never more at once than callers read at once.
  using ReaderFactory = std::function<std::unique_ptr<Store>()>;

  // Without a factory (the CLI, tests), a read runs as a job on the store thread and the
  // caller blocks meanwhile.
  // At most `max_readers` are open at once (0: as many as callers read at once); a read that
  // finds them all busy waits for one. PostgreSQL's connections per replica are the writer's
  // one and these.
  StoreReaders(StoreExecutor& executor, CacheGenerationClock& generations, ReaderFactory open_reader = {},
               std::size_t max_readers = 0)
      : executor_(executor), generations_(generations), open_reader_(std::move(open_reader)),
        max_readers_(max_readers) {}
  StoreReaders(const StoreReaders&) = delete;
  StoreReaders& operator=(const StoreReaders&) = delete;

  // Runs `job(Store&)` now and returns its result.
  template <typename Job> std::invoke_result_t<Job&, Store&> read_now(Job job) {
    if (!open_reader_) return executor_.run_sync(std::move(job));
    Lease lease(*this);
    return job(lease.store());
  }

  // The database's cache generation: the one last seen, if less than `max_age` ago (every
  // committed batch publishes its own), else read now.
  int64_t cache_generation(std::chrono::milliseconds max_age);

private:
  // A reader taken from the pool for one read and given back after it, even on a throw.
  class Lease {
  public:
    explicit Lease(StoreReaders& owner);
    ~Lease();
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Store& store() { return *reader_; }

  private:
    StoreReaders& owner_;
    std::unique_ptr<Store> reader_;
  };

  StoreExecutor& executor_;
  CacheGenerationClock& generations_;
  ReaderFactory open_reader_;
  const std::size_t max_readers_;
  std::mutex mutex_; // guards idle_ and opened_
  std::condition_variable given_back_;
  std::vector<std::unique_ptr<Store>> idle_;
  std::size_t opened_ = 0;
};

} // namespace connector::core
