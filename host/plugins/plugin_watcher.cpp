#include "plugins/plugin_watcher.hpp"

#include "plugins/loaded_plugin.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <sys/inotify.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <map>

namespace connector::host {

namespace asio = boost::asio;

const char* to_string(WatchMode mode) {
  switch (mode) {
  case WatchMode::inotify: return "inotify";
  case WatchMode::poll: return "poll";
  case WatchMode::off: return "off";
  }
  return "off";
}

struct PluginWatcher::State {
  State(const asio::any_io_executor& executor, std::filesystem::path watched, WatchOptions watch_options,
        std::function<void()> callback)
      : strand(asio::make_strand(executor)), folder(std::move(watched)), options(watch_options),
        on_change(std::move(callback)), timer(strand), descriptor(strand) {}

  asio::strand<asio::any_io_executor> strand;
  std::filesystem::path folder;
  WatchOptions options;
  std::function<void()> on_change;
  asio::steady_timer timer;
  asio::posix::stream_descriptor descriptor;
  std::atomic<bool> stopped{false};
  // The folder as start() saw it: polling compares against this, so a change made after
  // start() returns is seen even if it lands before the loop first runs.
  std::map<std::filesystem::path, std::optional<core::FileSignature>> started_with;

  // Every file's signature, and the folder's own (its owner and mode decide whether anything
  // in it loads): what polling compares.
  std::map<std::filesystem::path, std::optional<core::FileSignature>> snapshot() const {
    std::map<std::filesystem::path, std::optional<core::FileSignature>> files;
    files.emplace(folder, core::file_signature(folder));
    std::error_code error;
    for (const auto& entry : std::filesystem::directory_iterator(folder, error))
      files.emplace(entry.path(), core::file_signature(entry.path()));
    return files;
  }

  asio::awaitable<void> sleep(std::chrono::milliseconds duration) {
    timer.expires_after(duration);
    boost::system::error_code ignored;
    co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }

  // Reads whatever events are queued; true when there were any. The events themselves do not
  // matter: any change means "look at the folder again".
  bool drain_events() {
    bool any = false;
    std::array<char, 16 * 1024> buffer{};
    for (;;) {
      const ssize_t n = ::read(descriptor.native_handle(), buffer.data(), buffer.size());
      if (n <= 0) return any;
      any = true;
    }
  }

  void notify() {
    if (stopped.load()) return;
    try {
      on_change();
    } catch (...) { // a reload problem is reported by the callback; the watch goes on
    }
  }

  // The loops own the state through `self`, so it lives as long as they run.
  static asio::awaitable<void> inotify_loop(std::shared_ptr<State> self) {
    while (!self->stopped.load()) {
      boost::system::error_code error;
      co_await self->descriptor.async_wait(asio::posix::stream_descriptor::wait_read,
                                           asio::redirect_error(asio::use_awaitable, error));
      if (error || self->stopped.load()) co_return;
      if (!self->drain_events()) continue;
      // Quiet for a moment first: a copy or a rename is a burst of events.
      do {
        co_await self->sleep(self->options.debounce);
      } while (!self->stopped.load() && self->drain_events());
      self->notify();
    }
  }

  static asio::awaitable<void> poll_loop(std::shared_ptr<State> self) {
    auto last = std::move(self->started_with);
    while (!self->stopped.load()) {
      co_await self->sleep(self->options.poll_interval);
      if (self->stopped.load()) co_return;
      auto now = self->snapshot();
      if (now != last) {
        last = std::move(now);
        self->notify();
      }
    }
  }
};

PluginWatcher::PluginWatcher(const asio::any_io_executor& executor, std::filesystem::path folder, WatchOptions options,
                             std::function<void()> on_change)
    : state_(std::make_shared<State>(executor, std::move(folder), options, std::move(on_change))) {}

PluginWatcher::~PluginWatcher() { stop(); }

WatchMode PluginWatcher::start() {
  WatchMode mode = state_->options.mode;
  if (mode == WatchMode::off) return mode;
  if (mode == WatchMode::inotify) {
    const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    const bool watching =
        fd >= 0 && ::inotify_add_watch(fd, state_->folder.c_str(),
                                       IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE |
                                           IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF) >= 0;
    if (watching) {
      state_->descriptor.assign(fd);
    } else {
      if (fd >= 0) ::close(fd);
      mode = WatchMode::poll;
    }
  }
  const std::shared_ptr<State> state = state_;
  if (mode == WatchMode::poll) state->started_with = state->snapshot();
  asio::co_spawn(state->strand, mode == WatchMode::inotify ? State::inotify_loop(state) : State::poll_loop(state),
                 asio::detached);
  return mode;
}

void PluginWatcher::stop() {
  if (state_->stopped.exchange(true)) return;
  auto state = state_;
  asio::post(state->strand, [state] {
    boost::system::error_code ignored;
    state->timer.cancel();
    state->descriptor.close(ignored);
  });
}

} // namespace connector::host
