// Notices changes in the plugins folder: inotify on Linux (a file finished writing, moved in,
// moved out, deleted), or polling the folder's listing when inotify is unavailable or asked
// for. Changes are debounced, so a burst of events (a copy, a rename) makes one rescan.
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>

namespace connector::host {

enum class WatchMode { inotify, poll, off };
const char* to_string(WatchMode mode);

struct WatchOptions {
  WatchMode mode = WatchMode::inotify;
  std::chrono::milliseconds poll_interval{1000};
  std::chrono::milliseconds debounce{150};
};

class PluginWatcher {
public:
  // `on_change` runs on the watcher's strand, never twice at once.
  PluginWatcher(const boost::asio::any_io_executor& executor, std::filesystem::path folder, WatchOptions options,
                std::function<void()> on_change);
  ~PluginWatcher();
  PluginWatcher(const PluginWatcher&) = delete;
  PluginWatcher& operator=(const PluginWatcher&) = delete;

  // Starts watching; returns the mode in use (inotify falls back to poll when the folder
  // cannot be watched, e.g. it does not exist yet).
  WatchMode start();
  void stop();

private:
  struct State;
  std::shared_ptr<State> state_;
};

} // namespace connector::host
