#include "support/fuzz_host.hpp"

#include "api/routes.hpp"
#include "auth/api_keys.hpp"
#include "crypto/digest.hpp"
#include "crypto/sealer.hpp"
#include "logging/logger.hpp"
#include "net/https_client.hpp"
#include "oauth/flow_service.hpp"
#include "oauth/oauth_apps.hpp"
#include "oauth/redirect_policy.hpp"
#include "oauth/source_operations.hpp"
#include "oauth/token_service.hpp"
#include "plugins/plugin_catalog.hpp"
#include "store/sqlite_store.hpp"
#include "store/store_executor.hpp"
#include "store/store_readers.hpp"

#include <connector/encoding.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <stdexcept>

namespace connector::fuzz {

namespace {

namespace asio = boost::asio;
using nlohmann::json;

// Every provider endpoint on a port where nothing listens.
constexpr const char* kClosedOrigin = "https://127.0.0.1:9";

std::filesystem::path make_data_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "connector-fuzz-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  return pattern;
}

std::map<std::string, json> provider_settings() {
  return {{"github",
           {{"client_id", "fuzz-client"},
            {"client_secret", "fuzz-secret"},
            {"base_url", kClosedOrigin},
            {"api_url", kClosedOrigin}}},
          {"google-sheets",
           {{"client_id", "fuzz-client.apps.googleusercontent.com"},
            {"client_secret", "fuzz-secret"},
            {"auth_uri", std::string(kClosedOrigin) + "/o/oauth2/v2/auth"},
            {"token_uri", std::string(kClosedOrigin) + "/token"},
            {"revoke_uri", std::string(kClosedOrigin) + "/revoke"},
            {"api_base_url", kClosedOrigin},
            {"drive_api_url", kClosedOrigin}}}};
}

std::unique_ptr<core::SqliteStore> store_with_key(const std::filesystem::path& file) {
  auto store = std::make_unique<core::SqliteStore>(file);
  core::ApiKeyRecord key;
  key.id = "key_fuzz";
  key.organization_id = kOrganization;
  key.name = "fuzz";
  key.key_hash = core::sha256_hex(kApiKey);
  key.permissions = "sources credentials:read admin";
  key.created_at = 1;
  store->insert_api_key(key);
  return store;
}

} // namespace

// Members in the order serve_command.cpp makes them; destroyed in reverse.
struct FuzzHost::Parts {
  std::filesystem::path data_dir = make_data_dir();
  core::Sealer sealer = core::Sealer::from_key_file(data_dir / "keys", /*create_if_missing=*/true);
  core::CacheGenerationClock generations;
  core::StoreExecutor store{store_with_key(data_dir / "connector.db"), &generations};
  core::StoreReaders readers{store, generations,
                             [file = data_dir / "connector.db"] { return core::SqliteStore::open_reader(file); }};
  host::PluginCatalog catalog{{CONNECTOR_PLUGIN_DIR, data_dir / "plugin-loads", provider_settings(),
                               [](const std::string&) -> std::optional<std::string> { return std::nullopt; }, nullptr}};
  asio::io_context io{1};
  core::HttpsClient https{io.get_executor(), [] {
                            core::HttpsClientOptions options;
                            options.connect_timeout = std::chrono::milliseconds(200);
                            options.total_timeout = std::chrono::milliseconds(500);
                            return options;
                          }()};
  host::ApiKeyAuthenticator keys{readers};
  host::Router router{[this](const host::Request& request) { return keys.authenticate(request); }};
  core::OAuthApps apps{readers, sealer};
  core::FlowService flows{store, catalog.providers(), apps, sealer, https, [] {
                            core::FlowSettings settings;
                            settings.callback_uri = "http://127.0.0.1:8080/v1/oauth/callback";
                            settings.host_allowed_redirects =
                                core::HostRedirectAllowList::from_urls({kAllowedRedirect}).value();
                            // Millions of flows a run: the per-minute limit and the pending
                            // cap would soon answer 429 to everything.
                            settings.authorize_per_minute = 0;
                            settings.max_pending_flows = 0;
                            return settings;
                          }()};
  core::TokenService tokens{store, [this] { return flows.providers(); }, apps, sealer, https, core::TokenSettings{}};
  core::SourceOperations sources{store, [this] { return flows.providers(); }, apps, tokens, sealer, https};
  host::ApiContext api{flows,
                       store,
                       tokens,
                       sources,
                       sealer,
                       [] { return true; },
                       [this] { return catalog.report(); },
                       [] { return std::string("# metrics\n"); }};

  Parts() {
    catalog.attach(flows);
    host::register_api_routes(router, api);
    for (const char* slug : {"github", "google-sheets"}) {
      const auto provider = flows.providers()->find(slug);
      if (!provider || !provider->instance) {
        std::fprintf(stderr, "fuzz host: plugin %s is not loaded or not configured (built? %s)\n", slug,
                     CONNECTOR_PLUGIN_DIR);
        std::abort();
      }
    }
  }

  ~Parts() {
    std::error_code ignored;
    std::filesystem::remove_all(data_dir, ignored);
  }

  // Runs one coroutine to its end on `io`; handlers it left behind (timers being cancelled)
  // run on the next call.
  template <typename T> T run(asio::awaitable<T> work) {
    std::optional<T> result;
    std::exception_ptr failure;
    auto guard = asio::make_work_guard(io);
    asio::co_spawn(io, std::move(work), [&](std::exception_ptr error, T value) {
      failure = error;
      if (!error) result = std::move(value);
    });
    while (!result && !failure) {
      // run_one() stops the context when it finds nothing to do; a stopped context returns
      // at once until restarted.
      if (io.stopped()) io.restart();
      io.run_one();
    }
    if (failure) std::rethrow_exception(failure);
    return std::move(*result);
  }
};

FuzzHost& FuzzHost::instance() {
  // Reachable until exit on purpose: destroying the host while libFuzzer exits its process
  // from inside a callback would race the store thread.
  static FuzzHost* host = [] {
    host::set_minimum_log_level(host::LogLevel::error); // a request's access log is noise here
    return new FuzzHost();
  }();
  return *host;
}

FuzzHost::FuzzHost() : parts_(std::make_unique<Parts>()) {}
FuzzHost::~FuzzHost() = default;

host::Response FuzzHost::dispatch(const host::Request& request) {
  std::string route;
  return parts_->run(parts_->router.dispatch(request, "trace_fuzz", route));
}

std::string FuzzHost::start_flow(const std::string& slug) {
  core::AuthorizeRequest request;
  request.organization_id = kOrganization;
  request.slug = slug;
  request.client_redirect_url = kAllowedRedirect;
  auto started = parts_->run(parts_->flows.authorize(std::move(request)));
  if (!started) {
    std::fprintf(stderr, "fuzz host: authorize failed: %s\n", started.error().message.c_str());
    std::abort();
  }
  const std::string url = started->authorization_url;
  const std::size_t question = url.find('?');
  const auto state = sdk::find_param(sdk::form_decode(url.substr(question + 1)), "state");
  if (!state) std::abort();
  return *state;
}

void check_answer(const host::Response& response) {
  const unsigned status = response.result_int();
  if (status == 500) {
    std::fprintf(stderr, "fuzz: answered 500: %s\n", response.body().c_str());
    std::abort();
  }
  if (status < 400) return;
  const auto type = response.find(host::http::field::content_type);
  if (type == response.end() || type->value() != "application/json") return; // the callback's page
  const json envelope = json::parse(response.body(), nullptr, /*allow_exceptions=*/false);
  if (!envelope.is_object() || envelope.value("success", true) || !envelope.contains("error") ||
      !envelope["error"].is_object() || !envelope["error"].contains("code") || !envelope["error"]["code"].is_string()) {
    std::fprintf(stderr, "fuzz: %u without the error envelope: %s\n", status, response.body().c_str());
    std::abort();
  }
}

} // namespace connector::fuzz
