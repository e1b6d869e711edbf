// Copies the write-ahead log back into the database file on a thread of its own. SQLite's
// automatic checkpoint runs inside the commit that crosses its threshold, so the store
// thread would stop for the page copies and the fsync that ends them, and every request
// queued behind it would wait. Here the writer only says how long the log has grown (its WAL
// hook) and this thread checkpoints PASSIVE: it never blocks the writer or any reader. The
// writer copies only the remainder, now and then, so that the log can start over.
#pragma once

#include "store/sqlite_support.hpp"

#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <thread>

namespace connector::core {

class WalCheckpointer {
public:
  // Opens its own connection to `database`; checkpoints once the log holds `threshold_frames`.
  WalCheckpointer(const std::filesystem::path& database, int threshold_frames);
  ~WalCheckpointer(); // finishes a checkpoint under way, then stops
  WalCheckpointer(const WalCheckpointer&) = delete;
  WalCheckpointer& operator=(const WalCheckpointer&) = delete;

  // From the writer's WAL hook, on its thread: the log now holds `frames` frames. Returns
  // what the hook returns to SQLite.
  int log_grew(sqlite3* writer, int frames);

  // A checkpoint on the writer's own connection (`mode`: SQLITE_CHECKPOINT_*), never at the
  // same time as the thread's.
  void checkpoint_from_writer(sqlite3* writer, int mode);

private:
  void loop();

  sqlite::DatabasePtr db_;
  const int threshold_frames_;
  int catch_up_at_;             // only the writer's thread (log_grew) touches it
  std::mutex checkpoint_mutex_; // the thread's checkpoint and the writer's catch-up, one at a time
  std::mutex mutex_;
  std::condition_variable wake_;
  bool due_ = false;
  bool stopping_ = false;
  std::thread thread_; // last: started after everything above exists
};

} // namespace connector::core
