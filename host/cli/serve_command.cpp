// `connector-host serve`: opens the store and key ring, loads the plugins, binds, and serves
// until SIGINT/SIGTERM, then lets accepted requests finish.
#include "api/routes.hpp"
#include "auth/api_keys.hpp"
#include "cli/arguments.hpp"
#include "cli/commands.hpp"
#include "cli/descriptor_limit.hpp"
#include "cli/sealing_keys.hpp"
#include "cli/store_opening.hpp"
#include "config/host_config.hpp"
#include "crypto/sealer.hpp"
#include "http/server.hpp"
#include "logging/logger.hpp"
#include "metrics/host_metrics.hpp"
#include "net/https_client.hpp"
#include "oauth/flow_purge.hpp"
#include "oauth/flow_service.hpp"
#include "oauth/oauth_apps.hpp"
#include "oauth/redirect_policy.hpp"
#include "oauth/source_operations.hpp"
#include "oauth/token_service.hpp"
#include "plugins/plugin_catalog.hpp"
#include "plugins/plugin_watcher.hpp"
#include "store/store_executor.hpp"
#include "store/store_readers.hpp"
#include "threads/thread_name.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <systemd/sd-daemon.h>

#include <exception>
#include <functional>
#include <future>
#include <iostream>
#include <optional>
#include <thread>

namespace connector::host {

namespace {

LogLevel parse_level(const std::string& text) {
  if (text == "debug") return LogLevel::debug;
  if (text == "warning") return LogLevel::warning;
  if (text == "error") return LogLevel::error;
  return LogLevel::info;
}

void log_plugin_line(std::string_view file, int32_t level, std::string_view message) {
  log(level >= CONNECTOR_LOG_ERROR     ? LogLevel::error
      : level >= CONNECTOR_LOG_WARNING ? LogLevel::warning
      : level >= CONNECTOR_LOG_INFO    ? LogLevel::info
                                       : LogLevel::debug,
      message, {{"plugin_file", std::string(file)}});
}

core::HostRedirectAllowList host_redirect_allow_list(const std::vector<std::string>& urls) {
  auto list = core::HostRedirectAllowList::from_urls(urls);
  if (!list) throw std::runtime_error("CONNECTOR_ALLOWED_REDIRECTS: " + list.error().message);
  return std::move(*list);
}

std::string url_host(const boost::asio::ip::tcp::endpoint& endpoint) {
  const std::string address = endpoint.address().to_string();
  return endpoint.address().is_v6() ? "[" + address + "]" : address;
}

} // namespace

int run_serve(const std::vector<std::string>& args) {
  const Arguments arguments(args, {"listen", "data-dir", "plugins-dir", "config", "database"}, {});
  const auto env = core::process_environment();
  const ConfigOverrides overrides{arguments.get_or("config", ""), arguments.get_or("listen", ""),
                                  arguments.get_or("data-dir", ""), arguments.get_or("plugins-dir", ""),
                                  arguments.get_or("database", "")};
  const HostConfig config = load_config(overrides, env, default_plugins_dir());
  set_minimum_log_level(parse_level(config.log_level));

  // Lookups (keys, OAuth apps) read on the I/O threads through reader connections; writes
  // go through the store thread's group commits.
  core::CacheGenerationClock generations;
  core::StoreExecutor store(open_store(config, StoreUse::service), &generations);
  core::StoreReaders readers(store, generations, store_reader_factory(config),
                             config.database_pool_size > 0 ? static_cast<std::size_t>(config.database_pool_size - 1)
                                                           : 0);
  core::Sealer sealer = core::Sealer::from_key_file(config.effective_key_file(), /*create_if_missing=*/true);
  // A replica without every key the stored secrets need would fail them one by one: refuse now.
  // The count reads every sealed column, on a reader connection: the store thread, which every
  // write waits for, stays free (it matters again on SIGHUP, while serving).
  const auto stored_key_usage = [&readers] {
    return readers.read_now([](core::Store& s) { return s.count_secrets_by_key(); });
  };
  require_keys_for_stored_secrets(stored_key_usage(), sealer, config.effective_key_file());

  // Modules load from fresh copies under the data folder, so a replaced file is new code.
  PluginCatalog catalog(
      {config.plugins_dir, config.data_dir / "plugin-loads", config.providers, env, &log_plugin_line});
  const auto providers = catalog.providers();
  for (const auto& [slug, provider] : providers->all()) {
    log(provider.instance ? LogLevel::info : LogLevel::warning,
        provider.instance ? "plugin ready" : "plugin not configured",
        {{"slug", slug},
         {"version", provider.module->descriptor().version},
         {"file", provider.module->file().string()},
         {"reason", provider.configuration_error}});
  }

  // Connections run on `threads` io_contexts of one thread each (HttpServer): a session, its
  // socket and its timers share a thread and need no strand, and no lock is shared between
  // those threads. Everything else (signals, the refresher, the plugin watcher, the sockets of
  // provider calls) runs on `io`, on the main thread; the work it does is small, and the
  // completions of provider calls resume the connection's coroutine on its own thread.
  // Declared before `io`, so destroyed after it: `io` abandons its pending accept at
  // destruction, and that operation holds a socket of a connection context.
  std::vector<std::unique_ptr<boost::asio::io_context>> connection_contexts;
  std::vector<boost::asio::io_context*> connection_targets;
  boost::asio::io_context io(1);
  for (int i = 0; i < config.threads; ++i) {
    connection_contexts.push_back(std::make_unique<boost::asio::io_context>(1));
    connection_targets.push_back(connection_contexts.back().get());
  }
  core::HttpsClientOptions client_options;
  client_options.extra_ca_file = config.ca_file;
  client_options.connect_timeout = config.provider_connect_timeout;
  client_options.total_timeout = config.provider_total_timeout;
  core::HttpsClient https(io.get_executor(), client_options);

  // The router is filled below; nothing is dispatched before io.run().
  ApiKeyAuthenticator keys(readers);
  Router router([&keys](const Request& request) { return keys.authenticate(request); });
  ServerLimits limits;
  limits.body_bytes = config.max_body_bytes;
  limits.header_bytes = config.max_header_bytes;
  limits.header_timeout = config.header_timeout;
  limits.body_timeout = config.body_timeout;
  const ConnectionBudget budget = fit_connections_to_descriptors(config.max_connections);
  if (budget.lowered) {
    log(LogLevel::warning, "max_connections lowered to fit the open-file limit",
        {{"wanted", config.max_connections},
         {"max_connections", budget.max_connections},
         {"open_file_limit", budget.open_file_limit}});
  }
  limits.max_connections = budget.max_connections;
  limits.max_connections_per_client = config.max_connections_per_client;
  if (config.tls_cert_file.empty() != config.tls_key_file.empty()) {
    throw std::runtime_error("tls_cert_file and tls_key_file go together: set both to serve HTTPS, or neither");
  }
  if (!config.tls_cert_file.empty()) {
    // TLS 1.2 and newer only; the chain file may carry intermediates after the certificate.
    limits.tls = std::make_shared<boost::asio::ssl::context>(boost::asio::ssl::context::tls_server);
    limits.tls->set_options(boost::asio::ssl::context::default_workarounds | boost::asio::ssl::context::no_sslv2 |
                            boost::asio::ssl::context::no_sslv3 | boost::asio::ssl::context::no_tlsv1 |
                            boost::asio::ssl::context::no_tlsv1_1 | boost::asio::ssl::context::single_dh_use);
    limits.tls->use_certificate_chain_file(config.tls_cert_file);
    limits.tls->use_private_key_file(config.tls_key_file, boost::asio::ssl::context::pem);
  }
  HttpServer server(io, connection_targets, router, limits);
  const auto [host, port] = split_listen_address(config.listen);
  server.start({boost::asio::ip::make_address(host), port});
  const auto bound = server.local_endpoint();
  const std::string local_url =
      (limits.tls ? "https://" : "http://") + url_host(bound) + ":" + std::to_string(bound.port());
  std::string public_url = config.public_url.empty() ? local_url : config.public_url;
  while (!public_url.empty() && public_url.back() == '/')
    public_url.pop_back();

  core::FlowSettings flow_settings;
  flow_settings.callback_uri = public_url + oauth_callback_path;
  flow_settings.state_ttl = config.state_ttl;
  flow_settings.authorized_ttl = config.authorized_ttl;
  flow_settings.authorize_per_minute = config.authorize_per_minute;
  flow_settings.max_pending_flows = config.max_pending_flows;
  flow_settings.host_allowed_redirects = host_redirect_allow_list(config.allowed_redirects);
  core::OAuthApps apps(readers, sealer);
  core::FlowService flows(store, providers, apps, sealer, https, flow_settings);
  catalog.attach(flows);
  const WatchMode watch_mode = config.plugin_watch == "off"    ? WatchMode::off
                               : config.plugin_watch == "poll" ? WatchMode::poll
                                                               : WatchMode::inotify;
  PluginWatcher watcher(io.get_executor(), config.plugins_dir, {watch_mode, config.plugin_poll_interval},
                        [&catalog] { catalog.reload(); });
  const WatchMode active_watch = watcher.start(); // inotify falls back to polling when it cannot watch
  catalog.set_watch_mode(active_watch);
  const auto current_providers = [&flows] { return flows.providers(); };
  HostMetrics metrics([&catalog] { return catalog.report(); });
  router.set_observer([&metrics](const std::string& route, const std::string& method, unsigned status, double seconds) {
    metrics.request(route, method, status, seconds);
  });
  // Flow and token events go to the log and to /metrics.
  const core::EventSink events = [&metrics](const std::string& event, const nlohmann::json& fields) {
    log(LogLevel::info, event, fields);
    metrics.event(event, fields);
  };
  flows.set_event_sink(events);
  core::TokenService tokens(store, current_providers, apps, sealer, https, config.tokens, events);
  core::SourceOperations source_operations(store, current_providers, apps, tokens, sealer, https);
  if (config.tokens.scan_interval.count() > 0) tokens.start_background_refresh(io.get_executor());
  // Flows that ran out of time lose their sealed secrets; old ones are deleted.
  core::FlowPurge purge(store, {config.flow_purge_interval, config.flow_retention}, events);
  purge.start(io.get_executor());

  std::atomic<bool> ready{true};
  ApiContext api{flows,
                 store,
                 tokens,
                 source_operations,
                 sealer,
                 [&ready] { return ready.load(); },
                 [&catalog] { return catalog.report(); },
                 [&metrics] { return metrics.scrape(); }};
  register_api_routes(router, api);

  log(LogLevel::info, "listening",
      {{"address", bound.address().to_string() + ":" + std::to_string(bound.port())},
       {"url", local_url},
       {"public_url", public_url},
       {"callback_uri", flow_settings.callback_uri},
       {"data_dir", std::filesystem::absolute(config.data_dir).string()},
       {"database", store_location(config)},
       {"key_file", std::filesystem::absolute(config.effective_key_file()).string()},
       {"plugins_dir", std::filesystem::absolute(config.plugins_dir).string()},
       {"plugins", providers->all().size()},
       {"plugin_watch", to_string(active_watch)}});

  // Under systemd (Type=notify) this is where the unit becomes active; elsewhere a no-op.
  sd_notify(0, "READY=1\nSTATUS=serving");
  https.warm_up(); // the system's CAs, for the first code exchange, off the start-up path

  // SIGHUP: read the configuration again (log level, provider settings, secrets from *_FILE),
  // rescan the plugins and read the key file, without dropping a connection. A bad file keeps
  // the old settings. The check that the key file opens every stored secret reads every
  // sealed column (bench/README.md has its time on a million), so it runs on a thread of
  // its own, and the reload goes on here once it is done: accepting and provider calls on
  // `io` never wait for it. Destroyed before what it reads, so a check under way at the stop
  // finishes first.
  boost::asio::signal_set hangups(io, SIGHUP);
  std::future<void> hangup_check;
  std::function<void()> await_hangup;
  const auto apply_reload = [&](const HostConfig& reread) {
    catalog.set_provider_settings(reread.providers);
    catalog.reload();
    const auto key_ids = sealer.reload_key_file();
    // Said at the level in force until now, so a quieter new level still shows it.
    log(LogLevel::info, "configuration reloaded",
        {{"log_level", reread.log_level}, {"sealing_key", key_ids.front()}, {"sealing_keys", key_ids}});
    set_minimum_log_level(parse_level(reread.log_level));
  };
  // Only a message crosses from the check's thread: an exception_ptr's count is kept by the
  // uninstrumented libstdc++, so ThreadSanitizer would take its release on that thread for a race.
  const auto reload_checked = [&](std::optional<std::string> failure, const std::optional<HostConfig>& reread) {
    if (!failure) {
      try {
        apply_reload(*reread);
      } catch (const std::exception& reload_error) {
        failure = reload_error.what();
      }
    }
    if (failure) log(LogLevel::error, "configuration reload failed; the previous settings stay", {{"error", *failure}});
    sd_notify(0, "READY=1\nSTATUS=serving");
    await_hangup();
  };
  await_hangup = [&] {
    hangups.async_wait([&](const boost::system::error_code& error, int) {
      if (error) return;
      sd_notify(0, "RELOADING=1");
      hangup_check = std::async(std::launch::async, [&] {
        std::optional<std::string> failure;
        std::optional<HostConfig> reread;
        try {
          reread = load_config(overrides, env, default_plugins_dir());
          // The key file (a rotation or a retirement), taken only if it opens every stored secret.
          require_keys_for_stored_secrets(stored_key_usage(),
                                          core::Sealer::from_key_file(config.effective_key_file(), false),
                                          config.effective_key_file());
        } catch (const std::exception& check_error) {
          failure = check_error.what();
        } catch (...) {
          failure = "an unexpected error";
        }
        boost::asio::post(io, [&reload_checked, failure = std::move(failure), reread = std::move(reread)] {
          reload_checked(failure, reread);
        });
      });
    });
  };
  await_hangup();

  boost::asio::signal_set signals(io, SIGINT, SIGTERM);
  boost::asio::steady_timer drain_timer(io);
  std::chrono::steady_clock::time_point drain_deadline;
  // Polls until every connection has answered and closed (or the grace period ends), then
  // lets io.run() return; the connection contexts are stopped after it.
  std::function<void()> drain = [&] {
    if (server.open_connections() == 0 || std::chrono::steady_clock::now() >= drain_deadline) {
      io.stop();
      return;
    }
    drain_timer.expires_after(std::chrono::milliseconds(20));
    drain_timer.async_wait([&drain](const boost::system::error_code&) { drain(); });
  };
  signals.async_wait([&](const boost::system::error_code& error, int signal_number) {
    if (error) return;
    log(LogLevel::info, "stopping", {{"signal", signal_number}, {"grace_seconds", config.shutdown_grace.count()}});
    sd_notify(0, "STOPPING=1");
    ready.store(false);
    hangups.cancel();
    tokens.stop();
    purge.stop();
    watcher.stop();
    server.stop();
    drain_deadline = std::chrono::steady_clock::now() + config.shutdown_grace;
    drain();
  });

  // Each connection context runs until io.run() returns (after the drain above, or when io
  // runs out of work), even while it has no connection: a guard keeps its run() from
  // returning at once.
  std::vector<std::thread> workers;
  workers.reserve(connection_contexts.size());
  // The main thread runs io: accepting, signals, the plugin watcher, the background token
  // refresh and the flow purge; each connection thread serves the connections given to it.
  core::name_this_thread("main");
  for (auto& context : connection_contexts) {
    workers.emplace_back([&context, number = workers.size() + 1] {
      core::name_this_thread("connection-" + std::to_string(number));
      const auto guard = boost::asio::make_work_guard(*context);
      context->run();
    });
  }
  // Whatever ends io.run(), the connection threads are stopped and joined before the stack
  // unwinds: a thread still joinable at destruction would abort the process without a word.
  // The store's thread finishes too, before io goes: a job that finishes releases its
  // caller's executor (a strand of io, say), which must not race with io's destruction.
  const auto stop_workers = [&] {
    for (auto& context : connection_contexts)
      context->stop();
    for (auto& worker : workers)
      worker.join();
    store.stop();
  };
  try {
    io.run();
  } catch (...) {
    stop_workers();
    throw;
  }
  stop_workers();
  log(LogLevel::info, "stopped");
  return 0;
}

} // namespace connector::host
