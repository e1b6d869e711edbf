// Keeps sources' tokens usable: hands out an access token, refreshed first when it is due,
// with exactly one refresh per source at a time, in this process (single-flight) and across
// processes sharing the database (a refresh lease on the source row, taken and released with
// compare-and-swap). A rotated single-use refresh token is written back in the same store job
// that reads the newest row, so it is never lost. Also refreshes proactively in the
// background, shortly before expiry, with jitter and bounded concurrency.
//
// Failures are recorded on the source: a refused grant (invalid_grant, bad_refresh_token)
// marks it needs_reauth and stops refreshing; transient failures are retried with backoff,
// then cool down (doubling) before the next attempt.
#pragma once

#include "crypto/sealer.hpp"
#include "errors/expected.hpp"
#include "net/https_client.hpp"
#include "oauth/credentials.hpp"
#include "oauth/event_sink.hpp"
#include "oauth/provider_directory.hpp"
#include "oauth/token_settings.hpp"
#include "store/records.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace connector::core {

class OAuthApps;
class Store;
class StoreExecutor;

struct AccessToken {
  Credentials credentials;
  bool refreshed = false;
};

class TokenService {
public:
  TokenService(StoreExecutor& store, std::function<std::shared_ptr<const ProviderDirectory>()> providers,
               OAuthApps& apps, const Sealer& sealer, HttpsClient& https, TokenSettings settings,
               EventSink events = {});

  // The source's access token, refreshed first when it expires within the margin (or when
  // `force_refresh`). Concurrent callers for one source share one refresh.
  boost::asio::awaitable<Expected<AccessToken>> access_token(const std::string& organization_id,
                                                             const std::string& source_id, bool force_refresh = false);

  // Starts the background refresher on `executor`; it runs until stop().
  void start_background_refresh(const boost::asio::any_io_executor& executor);
  void stop();

  const TokenSettings& settings() const { return settings_; }

private:
  struct Flight;
  struct RefreshOutcome;
  boost::asio::awaitable<Expected<AccessToken>> shared_refresh(const std::string& organization_id,
                                                               const std::string& source_id, bool force,
                                                               std::chrono::seconds margin);
  boost::asio::awaitable<Expected<AccessToken>> wait_for(const std::shared_ptr<Flight>& flight);
  boost::asio::awaitable<Expected<AccessToken>> refresh_or_read(const std::string& organization_id,
                                                                const std::string& source_id, bool force,
                                                                std::chrono::seconds margin);
  boost::asio::awaitable<Expected<AccessToken>> refresh_with_lease(SourceRecord leased, Credentials credentials);
  Expected<AccessToken> write_back(Store& store, const RefreshOutcome& outcome) const;
  boost::asio::awaitable<void> background_loop();
  boost::asio::awaitable<void> background_refresh_one(std::string organization_id, std::string source_id);
  void emit(const std::string& event, const nlohmann::json& fields) const;

  StoreExecutor& store_executor_;
  std::function<std::shared_ptr<const ProviderDirectory>()> providers_;
  OAuthApps& apps_;
  const Sealer& sealer_;
  HttpsClient& https_;
  TokenSettings settings_;
  EventSink events_;
  const std::string lease_owner_; // this process, for refresh leases

  std::mutex flights_mutex_;
  std::map<std::string, std::shared_ptr<Flight>> flights_; // by organization/source

  std::atomic<bool> stopping_{false};
  std::atomic<int> background_in_flight_{0};
};

} // namespace connector::core
