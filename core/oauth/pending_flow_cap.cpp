#include "oauth/pending_flow_cap.hpp"

#include <algorithm>
#include <iterator>

namespace connector::core {

namespace {

// Keys whose flows all expired are dropped at most this often, so the map stays as small as
// the set of organizations with flows pending now.
constexpr int64_t sweep_interval_seconds = 60;

} // namespace

PendingFlowCap::PendingFlowCap(int64_t cap) : cap_(cap) {}

int64_t PendingFlowCap::try_start(const std::string& key, int64_t now, int64_t expires_at) {
  if (cap_ <= 0) return 0;
  const std::lock_guard lock(mutex_);
  if (now - swept_at_ >= sweep_interval_seconds) forget_expired(now);
  std::multiset<int64_t>& expiries = pending_[key];
  expiries.erase(expiries.begin(), expiries.upper_bound(now));
  if (static_cast<int64_t>(expiries.size()) >= cap_) return std::max<int64_t>(1, *expiries.begin() - now);
  expiries.insert(expires_at);
  return 0;
}

void PendingFlowCap::ended(const std::string& key, int64_t expires_at) {
  if (cap_ <= 0) return;
  const std::lock_guard lock(mutex_);
  const auto found = pending_.find(key);
  if (found == pending_.end()) return;
  if (const auto one = found->second.find(expires_at); one != found->second.end()) found->second.erase(one);
  if (found->second.empty()) pending_.erase(found);
}

void PendingFlowCap::forget_expired(int64_t now) {
  swept_at_ = now;
  for (auto it = pending_.begin(); it != pending_.end();) {
    it->second.erase(it->second.begin(), it->second.upper_bound(now));
    it = it->second.empty() ? pending_.erase(it) : std::next(it);
  }
}

} // namespace connector::core
