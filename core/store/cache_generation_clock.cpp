#include "store/cache_generation_clock.hpp"

namespace connector::core {

namespace {

int64_t steady_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

} // namespace

void CacheGenerationClock::publish(int64_t generation) {
  int64_t known = generation_.load(std::memory_order_relaxed);
  while (generation > known && !generation_.compare_exchange_weak(known, generation)) {
  }
  seen_ns_.store(steady_ns(), std::memory_order_release);
}

std::optional<int64_t> CacheGenerationClock::fresh(std::chrono::milliseconds max_age) const {
  const int64_t seen = seen_ns_.load(std::memory_order_acquire);
  if (seen == 0 || steady_ns() - seen >= std::chrono::nanoseconds(max_age).count()) return std::nullopt;
  return latest();
}

} // namespace connector::core
