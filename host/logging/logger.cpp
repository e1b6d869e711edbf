#include "logging/logger.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace connector::host {

namespace {

std::atomic<LogLevel> minimum{LogLevel::info};
std::mutex output_mutex;

const char* level_name(LogLevel level) {
  switch (level) {
  case LogLevel::debug: return "debug";
  case LogLevel::info: return "info";
  case LogLevel::warning: return "warning";
  case LogLevel::error: return "error";
  }
  return "info";
}

std::string now_rfc3339_millis() {
  const auto now = std::chrono::system_clock::now();
  const auto t = std::chrono::system_clock::to_time_t(now);
  const auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm utc{};
  gmtime_r(&t, &utc);
  char text[40];
  const std::size_t n = std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &utc);
  std::snprintf(text + n, sizeof text - n, ".%03dZ", static_cast<int>(millis));
  return text;
}

} // namespace

void set_minimum_log_level(LogLevel level) { minimum.store(level); }

bool log_enabled(LogLevel level) { return level >= minimum.load(std::memory_order_relaxed); }

void log(LogLevel level, std::string_view message, nlohmann::json fields) {
  if (level < minimum.load()) return;
  nlohmann::json line = {{"time", now_rfc3339_millis()}, {"level", level_name(level)}, {"message", message}};
  if (fields.is_object()) {
    for (auto& [key, value] : fields.items())
      line[key] = std::move(value);
  }
  const std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  std::lock_guard lock(output_mutex);
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
}

} // namespace connector::host
