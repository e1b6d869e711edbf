// What the host keeps in memory of rows every request reads but that rarely change (an API
// key, an OAuth app), so that a request reads nothing from SQLite before its write. Entries
// stay good while the database's cache generation (Store::cache_generation, moved by
// triggers on every change to those tables, by any process) is the one they were read at;
// a new generation empties the cache. Bounded: when full, it starts over.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

namespace connector::core {

// How long a cache generation that was read is trusted before it is read again: a key revoked
// or an app changed by another process (the CLI) is noticed within this (at once by this
// process's own changes, and at the next write batch under traffic).
inline constexpr std::chrono::milliseconds cache_generation_max_age{100};

template <typename Value> class GenerationCache {
public:
  explicit GenerationCache(std::size_t capacity) : capacity_(capacity) {}

  std::optional<Value> find(const std::string& key, int64_t generation) {
    const std::lock_guard lock(mutex_);
    if (!follow(generation)) return std::nullopt;
    const auto found = entries_.find(key);
    if (found == entries_.end()) return std::nullopt;
    return found->second;
  }

  // `value` must have been read after `generation` was, so that it is at least that new.
  void put(const std::string& key, Value value, int64_t generation) {
    const std::lock_guard lock(mutex_);
    if (!follow(generation)) return;
    if (entries_.size() >= capacity_) entries_.clear();
    entries_.insert_or_assign(key, std::move(value));
  }

  std::size_t size() const {
    const std::lock_guard lock(mutex_);
    return entries_.size();
  }

private:
  // Moves to a newer generation (forgetting everything); false for an older one, whose
  // caller saw the counter before someone else saw it move and must not be served or kept.
  bool follow(int64_t generation) {
    if (generation < generation_) return false;
    if (generation > generation_) {
      entries_.clear();
      generation_ = generation;
    }
    return true;
  }

  mutable std::mutex mutex_;
  const std::size_t capacity_;
  int64_t generation_ = -1;
  std::unordered_map<std::string, Value> entries_;
};

} // namespace connector::core
