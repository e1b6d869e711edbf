#include "oauth/flow_purge.hpp"

#include "oauth/flow_service.hpp"
#include "store/store_executor.hpp"
#include "time/unix_time.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace connector::core {

namespace asio = boost::asio;

FlowPurge::FlowPurge(StoreExecutor& store, PurgeSettings settings, EventSink events)
    : store_executor_(store), settings_(settings), events_(std::move(events)) {
  settings_.batch = std::max(settings_.batch, 1);
}

asio::awaitable<PurgeCounts> FlowPurge::run_once(int64_t now) {
  PurgeCounts counts;
  const int batch = settings_.batch;
  // The walk over pending flows goes on from where the last pass stopped (the first flow that
  // was still good then), one step of `batch` rows per store job, until it catches up.
  for (bool caught_up = false; !caught_up && !stopping_.load();) {
    const PendingSweep sweep = co_await store_executor_.run(
        [&](Store& store) { return store.expire_lapsed_pending_flows(pending_resume_at_, now, batch); });
    pending_resume_at_ = sweep.resume_at;
    counts.expired += sweep.expired;
    caught_up = sweep.caught_up;
  }
  // A batch that comes back full may have left more behind: go on until one is not.
  for (int64_t done = batch; done == batch && !stopping_.load();) {
    done = co_await store_executor_.run([&](Store& store) { return store.expire_lapsed_authorized_flows(now, batch); });
    counts.expired += done;
  }
  const int64_t created_before = now - settings_.retention.count();
  for (int64_t done = batch; done == batch && !stopping_.load();) {
    done = co_await store_executor_.run(
        [&](Store& store) { return store.delete_flows_created_before(created_before, batch); });
    counts.deleted += done;
  }
  co_return counts;
}

void FlowPurge::start(const asio::any_io_executor& executor) {
  if (settings_.interval.count() <= 0) return;
  asio::co_spawn(asio::make_strand(executor), loop(), asio::detached);
}

void FlowPurge::stop() { stopping_.store(true); }

asio::awaitable<void> FlowPurge::loop() {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (!stopping_.load()) {
    try {
      const PurgeCounts counts = co_await run_once(unix_now());
      if (events_ && (counts.expired > 0 || counts.deleted > 0)) {
        events_("flows purged", {{"expired", counts.expired}, {"deleted", counts.deleted}});
      }
    } catch (const std::exception& error) {
      // The store may be busy or full for a while; the next pass tries again.
      if (events_) events_("flow purge failed", {{"error", error.what()}});
    }
    timer.expires_after(settings_.interval);
    boost::system::error_code ignored;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }
}

} // namespace connector::core
