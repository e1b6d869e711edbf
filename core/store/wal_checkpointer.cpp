#include "store/wal_checkpointer.hpp"

#include "threads/thread_name.hpp"

#include <sqlite3.h>
#include <sys/resource.h>
#include <unistd.h>

namespace connector::core {

namespace {

// A new connection does not know the file is in WAL mode until it has read it, and until then
// a checkpoint is a silent no-op (it answers "not in WAL mode"): so read once, here.
sqlite::DatabasePtr open_for_checkpoints(const std::filesystem::path& database) {
  sqlite::DatabasePtr db = sqlite::open_database(database.string(), SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX);
  sqlite::execute_script(db.get(), "SELECT count(*) FROM sqlite_master");
  return db;
}

} // namespace

WalCheckpointer::WalCheckpointer(const std::filesystem::path& database, int threshold_frames)
    : db_(open_for_checkpoints(database)), threshold_frames_(threshold_frames), catch_up_at_(4 * threshold_frames),
      thread_([this] {
        name_this_thread("checkpointer");
        loop();
      }) {}

WalCheckpointer::~WalCheckpointer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

int WalCheckpointer::log_grew(sqlite3* writer, int frames) {
  if (frames < threshold_frames_) {
    catch_up_at_ = 4 * threshold_frames_;
    return SQLITE_OK;
  }
  // Under a steady stream of commits the thread's checkpoint never ends level with the log,
  // and SQLite starts the log over only when a write finds it wholly copied: the log would
  // grow without end. So once it reaches four times the threshold the writer copies the rest
  // itself (little, the thread did most of it), and the next write starts the log over. If
  // readers still need old frames, it tries again only after another threshold.
  if (frames >= catch_up_at_) {
    catch_up_at_ = frames + threshold_frames_;
    checkpoint_from_writer(writer, SQLITE_CHECKPOINT_PASSIVE);
    return SQLITE_OK;
  }
  {
    std::lock_guard lock(mutex_);
    if (due_) return SQLITE_OK;
    due_ = true;
  }
  wake_.notify_one();
  return SQLITE_OK;
}

void WalCheckpointer::checkpoint_from_writer(sqlite3* writer, int mode) {
  // After the thread's checkpoint, if one is running: SQLite refuses a second checkpoint at
  // once (SQLITE_BUSY) rather than waiting for the first.
  const std::lock_guard one_at_a_time(checkpoint_mutex_);
  sqlite3_wal_checkpoint_v2(writer, nullptr, mode, nullptr, nullptr);
}

void WalCheckpointer::loop() {
  // Lowest CPU priority, for this thread alone (Linux nice values are per thread). On two
  // shared cores a checkpoint that preempts the store thread or a connection thread stalls
  // every request waiting behind it: the copy is deferrable work and the writer's catch-up
  // bounds the log if this thread falls behind (the measured gain is in bench/README.md). No
  // privilege is needed to lower a priority; a refusal only leaves the default.
  setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), 19);
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || due_; });
      if (stopping_) return;
      due_ = false;
    }
    // PASSIVE copies what no reader still needs and never waits for a lock; frames it could
    // not copy are taken by a later round. A busy answer is not an error here.
    const std::lock_guard one_at_a_time(checkpoint_mutex_);
    sqlite3_wal_checkpoint_v2(db_.get(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  }
}

} // namespace connector::core
