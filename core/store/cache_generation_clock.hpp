// The database's cache generation (Store::cache_generation) as this process last saw it, and
// when. The host keeps API keys and OAuth apps in memory (GenerationCache) and trusts an entry
// while the generation it was read under is still the latest: StoreExecutor publishes what
// each committed batch saw, and StoreReaders reads it again when it is older than a caller
// allows, so another process's changes are seen within that age.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>

namespace connector::core {

class CacheGenerationClock {
public:
  // Keeps the highest generation seen (a read from before a commit must not undo the commit's)
  // and stamps the time.
  void publish(int64_t generation);
  // The latest generation, if it was seen less than `max_age` ago.
  std::optional<int64_t> fresh(std::chrono::milliseconds max_age) const;
  int64_t latest() const { return generation_.load(std::memory_order_acquire); }

private:
  std::atomic<int64_t> generation_{-1};
  std::atomic<int64_t> seen_ns_{0}; // steady clock; 0: never
};

} // namespace connector::core
