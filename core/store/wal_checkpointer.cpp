#include "store/wal_checkpointer.hpp"

#include <sqlite3.h>

namespace connector::core {

WalCheckpointer::WalCheckpointer(const std::filesystem::path& database, int threshold_frames)
    : db_(sqlite::open_database(database.string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX)),
      threshold_frames_(threshold_frames), next_due_at_(threshold_frames), thread_([this] { loop(); }) {}

WalCheckpointer::~WalCheckpointer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void WalCheckpointer::log_grew(int frames) {
  // A log that readers keep from being copied stays long; it is asked for again only once it
  // has grown by another threshold, not after every commit.
  if (frames < threshold_frames_) {
    next_due_at_ = threshold_frames_;
    return;
  }
  if (frames < next_due_at_) return;
  next_due_at_ = frames + threshold_frames_;
  {
    std::lock_guard lock(mutex_);
    if (due_) return;
    due_ = true;
  }
  wake_.notify_one();
}

uint64_t WalCheckpointer::checkpoints_run() const {
  std::lock_guard lock(mutex_);
  return checkpoints_;
}

void WalCheckpointer::loop() {
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || due_; });
      if (stopping_) return;
      due_ = false;
    }
    // PASSIVE copies what no reader still needs and never waits for a lock; frames it could
    // not copy are taken by a later round. A busy answer is not an error here.
    sqlite3_wal_checkpoint_v2(db_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    std::lock_guard lock(mutex_);
    ++checkpoints_;
  }
}

} // namespace connector::core
