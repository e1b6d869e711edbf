#include "config/host_config.hpp"

#include <algorithm>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace connector::host {

namespace {

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::string current;
  for (const char c : text + ",") {
    if (c == ',' || c == ' ' || c == '\n') {
      if (!current.empty()) items.push_back(current);
      current.clear();
    } else {
      current.push_back(c);
    }
  }
  return items;
}

int64_t positive_integer(const std::string& name, const std::string& text) {
  if (text.empty() || text.size() > 12 || text.find_first_not_of("0123456789") != std::string::npos) {
    throw std::runtime_error(name + " must be a positive whole number");
  }
  const int64_t value = std::stoll(text);
  if (value <= 0) throw std::runtime_error(name + " must be a positive whole number");
  return value;
}

int64_t whole_number(const std::string& name, const std::string& text) {
  if (text.empty() || text.size() > 12 || text.find_first_not_of("0123456789") != std::string::npos) {
    throw std::runtime_error(name + " must be a whole number (0 or more)");
  }
  return std::stoll(text);
}

std::string as_text(const nlohmann::json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_integer()) return std::to_string(value.get<int64_t>());
  return value.dump();
}

// One setting: its file key, its environment variable, its line in --help (what it does, and
// its default in parentheses) and how to apply a textual value. --help is printed from this
// table, so the list cannot fall behind the settings.
struct Setting {
  const char* file_key;
  const char* env_name;
  const char* help;
  void (*apply)(HostConfig&, const std::string& value);
};

const Setting settings[] = {
    {"listen", "CONNECTOR_LISTEN", "address to bind, HOST:PORT (127.0.0.1:8080; port 0 picks one)",
     [](HostConfig& c, const std::string& v) { c.listen = v; }},
    {"public_url", "CONNECTOR_PUBLIC_URL",
     "base of the provider-facing callback behind a proxy (http://<listen address>)",
     [](HostConfig& c, const std::string& v) { c.public_url = v; }},
    {"data_dir", "CONNECTOR_DATA_DIR", "SQLite database, key ring and plugin load copies (./data)",
     [](HostConfig& c, const std::string& v) { c.data_dir = v; }},
    {"database", "CONNECTOR_DATABASE_URL",
     "PostgreSQL that several replicas share, postgresql://USER:PASSWORD@HOST:PORT/DB (none: SQLite in data_dir)",
     [](HostConfig& c, const std::string& v) { c.database_url = v; }},
    {"database_pool_size", "CONNECTOR_DATABASE_POOL_SIZE",
     "connections each replica keeps to its store, one of which writes; 2 or more (0: the writer and a reader per "
     "I/O thread)",
     [](HostConfig& c, const std::string& v) {
       const int64_t size = whole_number("database_pool_size", v);
       if (size == 1 || size > 1000) throw std::runtime_error("database_pool_size must be 0, or from 2 to 1000");
       c.database_pool_size = static_cast<int>(size);
     }},
    {"plugins_dir", "CONNECTOR_PLUGINS_DIR", "provider plugins to load (lib/connector-host/plugins beside the binary)",
     [](HostConfig& c, const std::string& v) { c.plugins_dir = v; }},
    {"encryption_keys_file", "CONNECTOR_ENCRYPTION_KEYS_FILE",
     "the sealing keys, one file that every replica shares; made with mode 0600 on first run "
     "(<data_dir>/encryption.keys)",
     [](HostConfig& c, const std::string& v) { c.key_file = v; }},
    {"key_file", "CONNECTOR_KEY_FILE", "the earlier name of encryption_keys_file",
     [](HostConfig& c, const std::string& v) { c.key_file = v; }},
    {"ca_file", "CONNECTOR_CA_FILE", "an extra CA bundle for outgoing TLS, beside the system's (none)",
     [](HostConfig& c, const std::string& v) { c.ca_file = v; }},
    {"tls_cert_file", "CONNECTOR_TLS_CERT_FILE",
     "PEM certificate chain; with tls_key_file the host serves HTTPS itself (none)",
     [](HostConfig& c, const std::string& v) { c.tls_cert_file = v; }},
    {"tls_key_file", "CONNECTOR_TLS_KEY_FILE", "PEM private key for tls_cert_file (none)",
     [](HostConfig& c, const std::string& v) { c.tls_key_file = v; }},
    {"allowed_redirects", "CONNECTOR_ALLOWED_REDIRECTS",
     "client redirect URLs allowed host-wide, comma-separated (none)",
     [](HostConfig& c, const std::string& v) { c.allowed_redirects = split_list(v); }},
    {"state_ttl_seconds", "CONNECTOR_STATE_TTL_SECONDS", "how long a flow waits for its callback (600)",
     [](HostConfig& c, const std::string& v) {
       c.state_ttl = std::chrono::seconds(positive_integer("state_ttl_seconds", v));
     }},
    {"authorized_ttl_seconds", "CONNECTOR_AUTHORIZED_TTL_SECONDS",
     "how long an authorized flow waits for sources/oauth/callback before it expires with its tokens (3600)",
     [](HostConfig& c, const std::string& v) {
       c.authorized_ttl = std::chrono::seconds(positive_integer("authorized_ttl_seconds", v));
     }},
    {"flow_purge_seconds", "CONNECTOR_FLOW_PURGE_SECONDS",
     "how often expired flows lose their sealed verifier and tokens and old flows are deleted; 0 turns it off (60)",
     [](HostConfig& c, const std::string& v) {
       c.flow_purge_interval = std::chrono::seconds(whole_number("flow_purge_seconds", v));
     }},
    {"flow_retention_seconds", "CONNECTOR_FLOW_RETENTION_SECONDS",
     "how long the row of a flow that ended (failed, expired, completed) is kept (604800: 7 days)",
     [](HostConfig& c, const std::string& v) {
       c.flow_retention = std::chrono::seconds(positive_integer("flow_retention_seconds", v));
     }},
    {"authorize_rate_per_minute", "CONNECTOR_AUTHORIZE_RATE_PER_MINUTE",
     "flows one organization may start a minute, in bursts of as many, counted by each host process; more answer 429; "
     "0 turns it off (120)",
     [](HostConfig& c, const std::string& v) {
       c.authorize_per_minute = whole_number("authorize_rate_per_minute", v);
     }},
    {"max_pending_flows", "CONNECTOR_MAX_PENDING_FLOWS",
     "flows one organization may have waiting for their callback, counted in the database across host processes; more "
     "answer 429; 0 turns it off (1000)",
     [](HostConfig& c, const std::string& v) { c.max_pending_flows = whole_number("max_pending_flows", v); }},
    {"provider_connect_timeout_ms", "CONNECTOR_PROVIDER_CONNECT_TIMEOUT_MS", "connecting to a provider (5000)",
     [](HostConfig& c, const std::string& v) {
       c.provider_connect_timeout = std::chrono::milliseconds(positive_integer("provider_connect_timeout_ms", v));
     }},
    {"provider_total_timeout_ms", "CONNECTOR_PROVIDER_TOTAL_TIMEOUT_MS", "a whole provider request (15000)",
     [](HostConfig& c, const std::string& v) {
       c.provider_total_timeout = std::chrono::milliseconds(positive_integer("provider_total_timeout_ms", v));
     }},
    {"max_body_bytes", "CONNECTOR_MAX_BODY_BYTES", "largest request body; more answers 413 (65536)",
     [](HostConfig& c, const std::string& v) {
       c.max_body_bytes = static_cast<std::size_t>(positive_integer("max_body_bytes", v));
     }},
    {"max_header_bytes", "CONNECTOR_MAX_HEADER_BYTES", "largest request header block; more answers 431 (16384)",
     [](HostConfig& c, const std::string& v) {
       c.max_header_bytes = static_cast<std::size_t>(positive_integer("max_header_bytes", v));
     }},
    {"header_timeout_seconds", "CONNECTOR_HEADER_TIMEOUT_SECONDS",
     "a new connection's first request header must arrive within this (10)",
     [](HostConfig& c, const std::string& v) {
       c.header_timeout = std::chrono::seconds(positive_integer("header_timeout_seconds", v));
     }},
    {"body_timeout_seconds", "CONNECTOR_BODY_TIMEOUT_SECONDS", "a request body must arrive within this (30)",
     [](HostConfig& c, const std::string& v) {
       c.body_timeout = std::chrono::seconds(positive_integer("body_timeout_seconds", v));
     }},
    {"max_connections", "CONNECTOR_MAX_CONNECTIONS",
     "connections open at once; more are answered 503 and closed; lowered to fit the open-file limit (4096)",
     [](HostConfig& c, const std::string& v) {
       c.max_connections = static_cast<std::size_t>(positive_integer("max_connections", v));
     }},
    {"max_connections_per_client", "CONNECTOR_MAX_CONNECTIONS_PER_CLIENT",
     "connections open at once from one client address (256)",
     [](HostConfig& c, const std::string& v) {
       c.max_connections_per_client = static_cast<std::size_t>(positive_integer("max_connections_per_client", v));
     }},
    {"threads", "CONNECTOR_THREADS",
     "threads serving connections, each with its own io_context (2 per core, at least 2); signals, timers and provider "
     "calls' sockets run on the main thread",
     [](HostConfig& c, const std::string& v) { c.threads = static_cast<int>(positive_integer("threads", v)); }},
    {"log_level", "CONNECTOR_LOG_LEVEL", "debug, info, warning or error (info)",
     [](HostConfig& c, const std::string& v) { c.log_level = v; }},
    {"shutdown_grace_seconds", "CONNECTOR_SHUTDOWN_GRACE_SECONDS",
     "after SIGTERM, how long accepted requests may take (10)",
     [](HostConfig& c, const std::string& v) {
       c.shutdown_grace = std::chrono::seconds(whole_number("shutdown_grace_seconds", v));
     }},
    {"plugin_watch", "CONNECTOR_PLUGIN_WATCH", "how plugin files are noticed: inotify, poll or off (inotify)",
     [](HostConfig& c, const std::string& v) {
       if (v != "inotify" && v != "poll" && v != "off") {
         throw std::runtime_error("plugin_watch must be inotify, poll or off");
       }
       c.plugin_watch = v;
     }},
    {"plugin_poll_ms", "CONNECTOR_PLUGIN_POLL_MS", "how often poll looks (1000)",
     [](HostConfig& c, const std::string& v) {
       c.plugin_poll_interval = std::chrono::milliseconds(positive_integer("plugin_poll_ms", v));
     }},
    {"token_refresh_margin_seconds", "CONNECTOR_TOKEN_REFRESH_MARGIN_SECONDS",
     "refresh before handing out a token expiring within this (300)",
     [](HostConfig& c, const std::string& v) {
       c.tokens.margin = std::chrono::seconds(whole_number("token_refresh_margin_seconds", v));
     }},
    {"token_refresh_lead_seconds", "CONNECTOR_TOKEN_REFRESH_LEAD_SECONDS",
     "background refresh of tokens expiring within this (600)",
     [](HostConfig& c, const std::string& v) {
       c.tokens.lead = std::chrono::seconds(whole_number("token_refresh_lead_seconds", v));
     }},
    {"token_refresh_scan_seconds", "CONNECTOR_TOKEN_REFRESH_SCAN_SECONDS",
     "how often the background refresh looks; 0 turns it off (30)",
     [](HostConfig& c, const std::string& v) {
       c.tokens.scan_interval = std::chrono::seconds(whole_number("token_refresh_scan_seconds", v));
     }},
    {"token_refresh_concurrency", "CONNECTOR_TOKEN_REFRESH_CONCURRENCY", "background refreshes at once (4)",
     [](HostConfig& c, const std::string& v) {
       c.tokens.concurrency = static_cast<int>(positive_integer("token_refresh_concurrency", v));
     }},
    {"token_refresh_lease_seconds", "CONNECTOR_TOKEN_REFRESH_LEASE_SECONDS",
     "longest one process may hold a source's refresh (90)",
     [](HostConfig& c, const std::string& v) {
       c.tokens.lease = std::chrono::seconds(positive_integer("token_refresh_lease_seconds", v));
     }},
    {"token_refresh_cooldown_seconds", "CONNECTOR_TOKEN_REFRESH_COOLDOWN_SECONDS",
     "first wait after failed refreshes, doubling to 15 min (30)",
     [](HostConfig& c, const std::string& v) {
       c.tokens.cooldown_base = std::chrono::seconds(positive_integer("token_refresh_cooldown_seconds", v));
     }},
};

nlohmann::json read_config_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read the configuration file " + path);
  nlohmann::json doc = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false, /*ignore_comments=*/true);
  if (!doc.is_object()) throw std::runtime_error("the configuration file " + path + " is not a JSON object");
  return doc;
}

} // namespace

int default_io_threads() { return std::max(2, 2 * static_cast<int>(std::thread::hardware_concurrency())); }

std::string settings_help() {
  std::string text;
  for (const auto& setting : settings) {
    std::string names = std::string("  ") + setting.file_key + " / " + setting.env_name;
    text += names + "\n      " + setting.help + "\n";
  }
  return text;
}

std::pair<std::string, unsigned short> split_listen_address(const std::string& listen) {
  const std::size_t colon = listen.rfind(':');
  if (colon == std::string::npos || colon == 0) throw std::runtime_error("listen address must be HOST:PORT");
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string port = listen.substr(colon + 1);
  if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port) > 65535) {
    throw std::runtime_error("listen address must be HOST:PORT with a port from 0 to 65535");
  }
  return {host, static_cast<unsigned short>(std::stoi(port))};
}

HostConfig load_config(const ConfigOverrides& overrides, const core::EnvironmentLookup& env,
                       const std::filesystem::path& default_plugins_dir) {
  HostConfig config;
  config.plugins_dir = default_plugins_dir;

  std::string file = overrides.config_file;
  if (file.empty()) {
    if (auto from_env = env("CONNECTOR_CONFIG")) file = *from_env;
  }
  if (!file.empty()) {
    const nlohmann::json doc = read_config_file(file);
    for (const auto& [key, value] : doc.items()) {
      bool known = key == "providers";
      for (const auto& setting : settings)
        known = known || key == setting.file_key;
      if (!known) throw std::runtime_error(file + ": unknown setting \"" + key + "\"");
    }
    for (const auto& setting : settings) {
      if (const auto it = doc.find(setting.file_key); it != doc.end()) {
        if (it->is_array()) {
          std::string joined;
          for (const auto& item : *it)
            joined += as_text(item) + ",";
          setting.apply(config, joined);
        } else {
          setting.apply(config, as_text(*it));
        }
      }
    }
    if (const auto providers = doc.find("providers"); providers != doc.end()) {
      if (!providers->is_object()) throw std::runtime_error("\"providers\" must map slugs to settings objects");
      for (const auto& [slug, provider_settings] : providers->items()) {
        if (!provider_settings.is_object()) throw std::runtime_error("providers." + slug + " must be an object");
        config.providers[slug] = provider_settings;
      }
    }
  }
  for (const auto& setting : settings) {
    std::optional<std::string> value = env(setting.env_name);
    if (!value) {
      const std::string file_variable = std::string(setting.env_name) + "_FILE";
      if (const auto path = env(file_variable)) {
        value = core::read_setting_file(*path);
        if (!value) throw std::runtime_error(file_variable + ": cannot read " + *path);
      }
    }
    if (value) setting.apply(config, *value);
  }
  if (!overrides.listen.empty()) config.listen = overrides.listen;
  if (!overrides.data_dir.empty()) config.data_dir = overrides.data_dir;
  if (!overrides.plugins_dir.empty()) config.plugins_dir = overrides.plugins_dir;
  if (!overrides.database_url.empty()) config.database_url = overrides.database_url;

  split_listen_address(config.listen); // validates
  if (config.log_level != "debug" && config.log_level != "info" && config.log_level != "warning" &&
      config.log_level != "error") {
    throw std::runtime_error("log_level must be debug, info, warning or error");
  }
  // A refresh lease that ended while its holder still waited for the provider would let a
  // second replica refresh the same single-use token.
  const auto longest = core::longest_refresh(config.tokens, config.provider_total_timeout);
  if (config.tokens.lease <= longest) {
    throw std::runtime_error("token_refresh_lease_seconds (" + std::to_string(config.tokens.lease.count()) +
                             ") must be longer than a refresh can wait on the provider (" +
                             std::to_string(longest.count()) +
                             " ms: " + std::to_string(config.tokens.transient_attempts) +
                             " attempts of provider_total_timeout_ms with backoff)");
  }
  return config;
}

} // namespace connector::host
