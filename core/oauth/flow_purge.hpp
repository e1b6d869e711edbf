// Keeps flows from holding secrets or rows past their use. A flow that fails or is completed
// loses its sealed verifier and tokens at once (FlowService); this background pass, run in the
// host process like the token refresher, handles the flows that simply ran out of time:
// pending flows whose state expired and authorized flows nobody completed become expired and
// lose their sealed material, and flows that ended are deleted once they are older than the
// retention setting. Rows from older versions are cleaned by the same pass.
//
// Work goes to the store in small jobs (`batch` rows each), so requests' writes interleave.
#pragma once

#include "oauth/event_sink.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>

namespace connector::core {

class StoreExecutor;

struct PurgeSettings {
  std::chrono::seconds interval{60};                // 0: no background purge
  std::chrono::seconds retention{7 * 24 * 60 * 60}; // how long an ended flow's row is kept
  int batch = 500;                                  // rows per store job
};

struct PurgeCounts {
  int64_t expired = 0; // flows that ran out of time and lost their sealed material
  int64_t deleted = 0; // rows removed after the retention
};

class FlowPurge {
public:
  FlowPurge(StoreExecutor& store, PurgeSettings settings, EventSink events = {});

  // One whole pass at `now` (Unix seconds).
  boost::asio::awaitable<PurgeCounts> run_once(int64_t now);

  // Starts the background pass on `executor`, every settings.interval, until stop().
  void start(const boost::asio::any_io_executor& executor);
  void stop();

  const PurgeSettings& settings() const { return settings_; }

private:
  boost::asio::awaitable<void> loop();

  StoreExecutor& store_executor_;
  PurgeSettings settings_;
  EventSink events_;
  std::atomic<bool> stopping_{false};
  // Where the walk over pending flows resumes (Store::expire_lapsed_pending_flows);
  // from the first flow when the process starts. Used by one pass at a time.
  int64_t pending_resume_at_ = 0;
};

} // namespace connector::core
