// The cap on an organization's pending flows: flows this process started that are neither
// past their expiry nor taken by a callback here. Held in memory, like RateLimiter: processes
// sharing one database each count their own flows, so N processes let an organization keep up
// to N times the cap pending (a callback that reaches another process leaves its flow counted
// here until it expires). A flow is known by its organization and expiry second, so a
// callback here for another process's flow can free one of this process's that expires in the
// same second. Counting in the store would need an index of live flows by organization, which
// every authorize would pay for (bench/README.md).
#pragma once

#include <cstdint>
#include <mutex>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>

namespace connector::core {

class PendingFlowCap {
public:
  explicit PendingFlowCap(int64_t cap); // 0 or less: no cap

  // Counts a new flow of `key` that expires at `expires_at` (Unix seconds), unless `key`
  // already has `cap` pending at `now`: then nothing is counted and the answer is the seconds
  // until its soonest one expires (at least 1). 0 when the flow was counted.
  int64_t try_start(const std::string& key, int64_t now, int64_t expires_at);

  // A flow counted by try_start() ended before its expiry (a callback took it, or it was
  // never stored).
  void ended(const std::string& key, int64_t expires_at);

  bool enabled() const { return cap_ > 0; }

  // A flow try_start() counted, uncounted again when this goes unless keep() was called: a
  // flow that is not stored in the end (refused, or the store failed) is not pending.
  class Reservation {
  public:
    Reservation(PendingFlowCap& cap, std::string key, int64_t expires_at)
        : cap_(cap), key_(std::move(key)), expires_at_(expires_at) {}
    ~Reservation() {
      if (!kept_) cap_.ended(key_, expires_at_);
    }
    Reservation(const Reservation&) = delete;
    Reservation& operator=(const Reservation&) = delete;
    void keep() { kept_ = true; }

  private:
    PendingFlowCap& cap_;
    std::string key_;
    int64_t expires_at_;
    bool kept_ = false;
  };

private:
  void forget_expired(int64_t now);

  const int64_t cap_;
  std::mutex mutex_;
  std::unordered_map<std::string, std::multiset<int64_t>> pending_; // expiries, by key
  int64_t swept_at_ = 0;
};

} // namespace connector::core
