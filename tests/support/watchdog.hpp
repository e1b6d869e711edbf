// Ends a test that hangs: the test HTTP client has no deadline of its own, so a process that
// stops answering would block a test forever. Past `limit` the watchdog kills the given
// processes (SIGKILL), which ends any blocked read with an error, and the test fails instead.
#pragma once

#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

namespace connector::testing {

class Watchdog {
public:
  Watchdog(std::chrono::seconds limit, std::vector<int> pids)
      : thread_([this, limit, pids = std::move(pids)] {
          std::unique_lock lock(mutex_);
          if (finished_.wait_for(lock, limit, [this] { return done_; })) return;
          fired_ = true;
          for (const int pid : pids)
            ::kill(pid, SIGKILL);
        }) {}
  ~Watchdog() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    finished_.notify_all();
    thread_.join();
  }
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;

  bool fired() const { return fired_; }

private:
  std::mutex mutex_;
  std::condition_variable finished_;
  bool done_ = false;
  std::atomic<bool> fired_ = false;
  std::thread thread_;
};

} // namespace connector::testing
