// How the token service refreshes (see token_service.hpp); the operator sets them as
// token_refresh_* (host/config/host_config.hpp).
#pragma once

#include <chrono>

namespace connector::core {

struct TokenSettings {
  std::chrono::seconds margin{300}; // refresh when the token expires within this
  std::chrono::seconds lease{90};   // longest a process may hold a source's refresh
  int transient_attempts = 3;       // provider calls per refresh before cooling down
  std::chrono::milliseconds retry_backoff{250};
  std::chrono::seconds cooldown_base{30};
  std::chrono::seconds cooldown_max{900};
  std::chrono::milliseconds lease_poll{100}; // how often a process waiting on another's lease looks
  // Proactive refresh
  std::chrono::seconds scan_interval{30}; // 0: no background refresh
  std::chrono::seconds lead{600};         // refresh in the background when expiring within this
  int concurrency = 4;
  std::chrono::milliseconds jitter{5000};
};

// The longest one refresh under the lease can wait on the provider: every attempt taking the
// whole `provider_timeout`, with the backoff (and its jitter) between attempts. The lease must
// be longer, or it could end while its holder is still waiting for the answer.
inline std::chrono::milliseconds longest_refresh(const TokenSettings& settings,
                                                 std::chrono::milliseconds provider_timeout) {
  std::chrono::milliseconds total = provider_timeout * settings.transient_attempts;
  for (int attempt = 1; attempt < settings.transient_attempts; ++attempt)
    total += settings.retry_backoff * (1 << (attempt - 1)) + settings.retry_backoff;
  return total;
}

} // namespace connector::core
