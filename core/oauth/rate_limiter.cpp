#include "oauth/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace connector::core {

namespace {

// Past this many keys, buckets that have refilled completely are dropped: a full bucket is
// what a new key starts with, so nothing is lost, and the map stays as small as the set of
// keys that were busy within the last minute.
constexpr std::size_t keys_before_sweep = 10000;

} // namespace

RateLimiter::RateLimiter(int64_t per_minute) : per_minute_(per_minute) {}

int64_t RateLimiter::acquire(const std::string& key, Clock::time_point now) {
  if (per_minute_ <= 0) return 0;
  const auto capacity = static_cast<double>(per_minute_);
  const double per_second = capacity / 60.0;
  const std::lock_guard lock(mutex_);
  if (buckets_.size() >= keys_before_sweep) forget_full_buckets(now);
  auto [it, added] = buckets_.try_emplace(key, Bucket{capacity, now});
  Bucket& bucket = it->second;
  if (!added) {
    const double elapsed = std::chrono::duration<double>(now - bucket.updated).count();
    bucket.tokens = std::min(capacity, bucket.tokens + std::max(0.0, elapsed) * per_second);
    bucket.updated = std::max(bucket.updated, now);
  }
  if (bucket.tokens >= 1.0) {
    bucket.tokens -= 1.0;
    return 0;
  }
  return std::max<int64_t>(1, static_cast<int64_t>(std::ceil((1.0 - bucket.tokens) / per_second)));
}

void RateLimiter::forget_full_buckets(Clock::time_point now) {
  const auto capacity = static_cast<double>(per_minute_);
  const double per_second = capacity / 60.0;
  std::erase_if(buckets_, [&](const auto& entry) {
    const double elapsed = std::chrono::duration<double>(now - entry.second.updated).count();
    return entry.second.tokens + elapsed * per_second >= capacity;
  });
}

} // namespace connector::core
