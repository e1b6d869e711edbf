// A token bucket per key (the organization starting flows), held in this process's memory:
// `per_minute` requests a minute on average, and up to that many at once after a quiet
// minute. Processes sharing one database each keep their own buckets, so N processes let an
// organization through up to N times as fast (as with the cap on pending flows,
// pending_flow_cap.hpp).
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

namespace connector::core {

class RateLimiter {
public:
  using Clock = std::chrono::steady_clock;

  explicit RateLimiter(int64_t per_minute); // 0 or less: no limit

  // Takes one request from `key`'s bucket: 0 when it may go ahead, else the whole seconds
  // until a request would be let through (and nothing is taken).
  int64_t acquire(const std::string& key, Clock::time_point now = Clock::now());

  bool enabled() const { return per_minute_ > 0; }

private:
  struct Bucket {
    double tokens = 0;
    Clock::time_point updated;
  };
  void forget_full_buckets(Clock::time_point now);

  const int64_t per_minute_;
  std::mutex mutex_;
  std::unordered_map<std::string, Bucket> buckets_;
};

} // namespace connector::core
