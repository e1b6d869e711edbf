#include "oauth/token_service.hpp"

#include "crypto/random.hpp"
#include "oauth/flow_service.hpp"
#include "oauth/oauth_apps.hpp"
#include "oauth/operation_runner.hpp"
#include "sources/source_rules.hpp"
#include "store/store_executor.hpp"
#include "time/unix_time.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <random>
#include <variant>
#include <vector>

namespace connector::core {

namespace asio = boost::asio;

struct TokenService::Flight {
  bool forced = false; // set before the flight is shared
  std::mutex mutex;
  bool done = false;
  Expected<AccessToken> result;
  std::vector<std::shared_ptr<asio::steady_timer>> waiting; // woken when done
};

namespace {

// What one look at the source row decided.
struct Ready {
  Credentials credentials;
};
struct WaitForLease {};
struct RefreshNow {
  SourceRecord leased; // as written with this process's lease
  Credentials credentials;
};
using Decision = std::variant<Ready, ApiError, WaitForLease, RefreshNow>;

} // namespace

// What a refresh under the lease learnt from the provider, to be written back.
struct TokenService::RefreshOutcome {
  SourceRecord leased; // as written with this process's lease
  Credentials credentials;
  OperationRun run;
  int64_t sent_at = 0;
};

namespace {

std::chrono::milliseconds random_delay(std::chrono::milliseconds upper) {
  if (upper.count() <= 0) return std::chrono::milliseconds(0);
  thread_local std::mt19937_64 generator{std::random_device{}()};
  return std::chrono::milliseconds(std::uniform_int_distribution<int64_t>(0, upper.count())(generator));
}

asio::awaitable<void> sleep_for(std::chrono::milliseconds duration) {
  asio::steady_timer timer(co_await asio::this_coro::executor);
  timer.expires_after(duration);
  boost::system::error_code ignored;
  co_await timer.async_wait(asio::redirect_error(asio::use_awaitable, ignored));
}

void release_lease(SourceRecord& source) {
  source.refresh_lease_owner.clear();
  source.refresh_lease_until.reset();
}

} // namespace

TokenService::TokenService(StoreExecutor& store, std::function<std::shared_ptr<const ProviderDirectory>()> providers,
                           OAuthApps& apps, const Sealer& sealer, HttpsClient& https, TokenSettings settings,
                           EventSink events)
    : store_executor_(store), providers_(std::move(providers)), apps_(apps), sealer_(sealer), https_(https),
      settings_(settings), events_(std::move(events)), lease_owner_("host_" + random_token(96)) {}

void TokenService::emit(const std::string& event, const nlohmann::json& fields) const {
  if (events_) events_(event, fields);
}

asio::awaitable<Expected<AccessToken>> TokenService::access_token(const std::string& organization_id,
                                                                  const std::string& source_id, bool force_refresh) {
  co_return co_await shared_refresh(organization_id, source_id, force_refresh, settings_.margin);
}

// In-process single-flight: the first caller for a source leads, the others wait for its
// result. A follower that asked for force_refresh is served by the leader's refresh too.
asio::awaitable<Expected<AccessToken>> TokenService::shared_refresh(const std::string& organization_id,
                                                                    const std::string& source_id, bool force,
                                                                    std::chrono::seconds margin) {
  const std::string key = organization_id + "/" + source_id;
  std::shared_ptr<Flight> flight;
  bool leader = false;
  for (;;) {
    {
      const std::lock_guard lock(flights_mutex_);
      auto& slot = flights_[key];
      if (!slot) {
        slot = std::make_shared<Flight>();
        slot->forced = force;
        leader = true;
      }
      flight = slot;
    }
    // A forced refresh must not be answered by a flight that only read the token: wait for
    // that one to end, then lead or join a forced one.
    if (leader || !force || flight->forced) break;
    co_await wait_for(flight);
  }

  if (leader) {
    Expected<AccessToken> result;
    try {
      result = co_await refresh_or_read(organization_id, source_id, force, margin);
    } catch (const StorageFull& error) {
      // The new tokens could not be kept: the client is told the disk is full (503), as on
      // every other route, not that the host failed.
      result = ApiError(ErrorCode::storage_full, {}, std::string("token refresh: ") + error.what());
    } catch (const StoreUnavailable& error) {
      // The database is away (a restart, a failover): 503 to every caller of this flight, who
      // may try again; the source is untouched, and the next flight reads it afresh.
      result = ApiError(ErrorCode::store_unavailable, {}, std::string("token refresh: ") + error.what());
    } catch (const std::exception& error) {
      result = ApiError(ErrorCode::internal_error, {}, std::string("token refresh: ") + error.what());
    }
    {
      const std::lock_guard lock(flights_mutex_);
      flights_.erase(key);
    }
    std::vector<std::shared_ptr<asio::steady_timer>> waiting;
    {
      const std::lock_guard lock(flight->mutex);
      flight->result = result;
      flight->done = true;
      waiting.swap(flight->waiting);
    }
    for (const auto& timer : waiting) {
      asio::post(timer->get_executor(), [timer] { timer->cancel(); });
    }
    co_return result;
  }

  co_return co_await wait_for(flight);
}

asio::awaitable<Expected<AccessToken>> TokenService::wait_for(const std::shared_ptr<Flight>& flight) {
  const auto timer = std::make_shared<asio::steady_timer>(co_await asio::this_coro::executor);
  bool registered = false;
  for (;;) {
    {
      const std::lock_guard lock(flight->mutex);
      if (flight->done) co_return flight->result;
      if (!registered) flight->waiting.push_back(timer);
      registered = true;
    }
    // Woken by the leader; the timeout only guards against a lost wake-up.
    timer->expires_after(std::chrono::seconds(1));
    boost::system::error_code ignored;
    co_await timer->async_wait(asio::redirect_error(asio::use_awaitable, ignored));
  }
}

asio::awaitable<Expected<AccessToken>> TokenService::refresh_or_read(const std::string& organization_id,
                                                                     const std::string& source_id, bool force,
                                                                     std::chrono::seconds margin) {
  const auto lease_limit = std::chrono::steady_clock::now() + 2 * settings_.lease;
  for (;;) {
    const int64_t now = unix_now();
    // One store job reads the row and, when a refresh is needed, takes the lease: the job
    // holds the database's write lock, so no other process decides in between.
    Decision decision = co_await store_executor_.run([&](Store& store) -> Decision {
      auto found = store.find_source(organization_id, source_id);
      if (!found) return ApiError(ErrorCode::source_not_found, {}, {}, {{"source_id", source_id}});
      SourceRecord source = std::move(*found);
      if (source.status == "needs_reauth") {
        return ApiError(ErrorCode::source_needs_reauth, {}, {},
                        {{"source_id", source.id}, {"status_detail", source.status_detail}});
      }
      auto credentials = open_source_credentials(sealer_, source);
      if (!credentials) return ApiError(ErrorCode::internal_error, {}, "a source's credentials could not be unsealed");
      if (source.auth_type != "oauth2.0") return Ready{std::move(*credentials)};

      const bool valid_now = !credentials->expires_at || *credentials->expires_at > now;
      const bool due = credentials->expires_at && *credentials->expires_at - now <= margin.count();
      if (!force && !due) return Ready{std::move(*credentials)};
      if (credentials->refresh_token.empty()) {
        if (valid_now) return Ready{std::move(*credentials)};
        source.status = "needs_reauth";
        source.status_detail = "The access token expired and the provider issued no refresh token.";
        source.updated_at = now;
        store.update_source(source);
        return ApiError(ErrorCode::source_needs_reauth, {}, {},
                        {{"source_id", source.id}, {"status_detail", source.status_detail}});
      }
      if (source.next_refresh_at && *source.next_refresh_at > now) {
        if (valid_now) return Ready{std::move(*credentials)};
        return ApiError(ErrorCode::token_refresh_unavailable, {}, {},
                        {{"source_id", source.id}, {"retry_after_seconds", *source.next_refresh_at - now}});
      }
      if (source.refresh_lease_until && *source.refresh_lease_until > now &&
          source.refresh_lease_owner != lease_owner_) {
        return WaitForLease{};
      }
      source.refresh_lease_owner = lease_owner_;
      source.refresh_lease_until = now + settings_.lease.count();
      if (!store.update_source(source)) return WaitForLease{};
      source.version += 1;
      return RefreshNow{std::move(source), std::move(*credentials)};
    });

    if (auto* ready = std::get_if<Ready>(&decision)) co_return AccessToken{std::move(ready->credentials), false};
    if (auto* error = std::get_if<ApiError>(&decision)) co_return *error;
    if (std::holds_alternative<WaitForLease>(decision)) {
      // Another process is refreshing this source: wait for its write-back and read that. A
      // forced refresh is satisfied by the other process's.
      if (std::chrono::steady_clock::now() > lease_limit) {
        co_return ApiError(ErrorCode::token_refresh_unavailable, {}, "another process holds the refresh lease",
                           {{"source_id", source_id}, {"retry_after_seconds", 5}});
      }
      force = false;
      co_await sleep_for(settings_.lease_poll);
      continue;
    }

    RefreshNow& refresh = std::get<RefreshNow>(decision);
    co_return co_await refresh_with_lease(std::move(refresh.leased), std::move(refresh.credentials));
  }
}

// Holding the lease: asks the provider (retrying transient failures with backoff), then
// writes the outcome back (write_back).
asio::awaitable<Expected<AccessToken>> TokenService::refresh_with_lease(SourceRecord leased, Credentials credentials) {
  const auto entry = providers_()->find(leased.slug);
  std::optional<Expected<ResolvedProvider>> resolved;
  if (entry) resolved = co_await apps_.for_scope(*entry, leased.organization_id, leased.oauth_app_scope);

  RefreshOutcome outcome{std::move(leased), std::move(credentials), {}, unix_now()};
  OperationRun& run = outcome.run;
  int64_t& sent_at = outcome.sent_at;
  if (!entry || !*resolved) {
    run.result.status = CONNECTOR_STATUS_CLIENT_INVALID;
    run.result.error_code = "connector_unavailable";
    run.result.error_description = "the connector or its OAuth app is not available";
  } else {
    FlowParams params;
    params.refresh_token = outcome.credentials.refresh_token;
    params.access_token = outcome.credentials.access_token;
    if (!outcome.credentials.metadata.empty()) params.metadata_json = outcome.credentials.metadata.dump();
    for (int attempt = 0; attempt < std::max(1, settings_.transient_attempts); ++attempt) {
      if (attempt > 0)
        co_await sleep_for(settings_.retry_backoff * (1 << (attempt - 1)) + random_delay(settings_.retry_backoff));
      // Expiry is measured from when the request was sent: a slow answer errs early.
      sent_at = unix_now();
      run = co_await run_operation(https_, *(*resolved)->instance, Operation::refresh, params);
      if (run.result.status != CONNECTOR_STATUS_TRANSIENT) break;
    }
  }
  // Once the provider has answered, only this process knows what it said: a single-use refresh
  // token it rotated would be lost with the answer. So a store that is away (a restart, a
  // failover) is waited for, for up to one lease more and while the host is not stopping;
  // this source's callers wait with it. Writing after the lease ended is still safe: the
  // write-back goes onto the newest row and keeps credentials newer than its own.
  const auto give_up_at = std::chrono::steady_clock::now() + settings_.lease;
  bool announced = false;
  for (std::chrono::milliseconds pause{100};; pause = std::min(2 * pause, std::chrono::milliseconds(2000))) {
    try {
      co_return co_await store_executor_.run([&](Store& store) { return write_back(store, outcome); });
    } catch (const StoreUnavailable&) {
      if (!run.result.ok() || stopping_.load() || std::chrono::steady_clock::now() + pause > give_up_at) throw;
    }
    if (!announced) {
      emit("token write-back waits for the store", {{"source_id", outcome.leased.id}, {"slug", outcome.leased.slug}});
      announced = true;
    }
    co_await sleep_for(pause);
  }
}

// Writes a refresh's outcome onto the newest row and releases the lease, in one store job.
Expected<AccessToken> TokenService::write_back(Store& store, const RefreshOutcome& outcome) const {
  const std::string& organization_id = outcome.leased.organization_id;
  const std::string& source_id = outcome.leased.id;
  const OperationRun& run = outcome.run;
  const Credentials& credentials = outcome.credentials;
  const int64_t finished = unix_now();
  auto found = store.find_source(organization_id, source_id);
  if (!found) return ApiError(ErrorCode::source_not_found, {}, {}, {{"source_id", source_id}});
  SourceRecord latest = std::move(*found);
  release_lease(latest);
  latest.updated_at = finished;
  const nlohmann::json source_detail = {{"source_id", latest.id}, {"slug", latest.slug}};

  if (run.result.ok()) {
    if (latest.sealed_credentials != outcome.leased.sealed_credentials) {
      // Re-authorized meanwhile: those credentials are newer than this refresh.
      store.update_source(latest);
      auto current = open_source_credentials(sealer_, latest);
      if (!current) return ApiError(ErrorCode::internal_error, {}, "credentials could not be unsealed");
      return AccessToken{std::move(*current), false};
    }
    Credentials fresh = Credentials::from_result(run.result, outcome.sent_at, &credentials);
    if (fresh.token_type.empty()) fresh.token_type = credentials.token_type;
    apply_refreshed_credentials(latest, fresh, sealer_, finished);
    if (!store.update_source(latest)) {
      return ApiError(ErrorCode::conflict, {}, "the source changed during the token write-back");
    }
    emit("token refreshed", source_detail);
    return AccessToken{std::move(fresh), true};
  }

  const nlohmann::json error_record = {{"code", failure_code(run.result)},
                                       {"message", short_text(run.result.error_description)},
                                       {"at", rfc3339_utc(finished)}};
  latest.last_refresh_error_json = error_record.dump();
  if (run.result.status == CONNECTOR_STATUS_GRANT_INVALID) {
    // The provider will never accept this grant again: stop and say so.
    latest.status = "needs_reauth";
    latest.status_detail = failure_text(run.result);
    store.update_source(latest);
    emit("source needs re-authorization",
         {{"source_id", latest.id}, {"slug", latest.slug}, {"reason", latest.status_detail}});
    return ApiError(ErrorCode::source_needs_reauth, {}, {},
                    {{"source_id", latest.id}, {"status_detail", latest.status_detail}});
  }
  latest.refresh_failures += 1;
  const auto doubling = std::min<int64_t>(latest.refresh_failures - 1, 20);
  const int64_t cooldown =
      std::min<int64_t>(settings_.cooldown_base.count() << doubling, settings_.cooldown_max.count());
  latest.next_refresh_at = finished + cooldown;
  store.update_source(latest);
  emit("token refresh failed",
       {{"source_id", latest.id}, {"slug", latest.slug}, {"error", error_record}, {"retry_after_seconds", cooldown}});
  const bool still_valid = !credentials.expires_at || *credentials.expires_at > finished;
  if (still_valid) return AccessToken{credentials, false};
  return ApiError(ErrorCode::token_refresh_unavailable, {}, failure_text(run.result),
                  {{"source_id", latest.id},
                   {"retry_after_seconds", cooldown},
                   {"provider_error", error_record["code"]},
                   {"provider_error_description", error_record["message"]}});
}

void TokenService::start_background_refresh(const asio::any_io_executor& executor) {
  asio::co_spawn(asio::make_strand(executor), background_loop(), asio::detached);
}

void TokenService::stop() { stopping_.store(true); }

asio::awaitable<void> TokenService::background_loop() {
  const auto executor = co_await asio::this_coro::executor;
  while (!stopping_.load()) {
    try {
      const int64_t now = unix_now();
      const int free_slots = settings_.concurrency - background_in_flight_.load();
      if (free_slots > 0) {
        const int64_t before = now + settings_.lead.count();
        auto due = co_await store_executor_.run(
            [&](Store& store) { return store.list_sources_due_for_refresh(before, now, free_slots); });
        for (auto& source : due) {
          background_in_flight_.fetch_add(1);
          asio::co_spawn(executor, background_refresh_one(source.organization_id, source.id), asio::detached);
        }
      }
    } catch (const std::exception& error) {
      emit("background refresh scan failed", {{"error", error.what()}});
    }
    co_await sleep_for(settings_.scan_interval);
  }
}

asio::awaitable<void> TokenService::background_refresh_one(std::string organization_id, std::string source_id) {
  // Jitter spreads the refreshes of sources that expire together (made in one batch).
  co_await sleep_for(random_delay(settings_.jitter));
  try {
    if (!stopping_.load()) co_await shared_refresh(organization_id, source_id, false, settings_.lead);
  } catch (const std::exception& error) {
    emit("background refresh failed", {{"source_id", source_id}, {"error", error.what()}});
  }
  background_in_flight_.fetch_sub(1);
}

} // namespace connector::core
