// The host's settings. Precedence, lowest first: embedded defaults, the configuration file
// (JSON), environment variables (CONNECTOR_*), command-line flags. Provider settings live
// under "providers" in the file and in CONNECTOR_<SLUG>_<SETTING> variables (merged later,
// once the plugins' settings schemas are known).
#pragma once

#include "oauth/provider_directory.hpp"
#include "oauth/token_settings.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace connector::host {

// 2 x the cores std::thread reports, at least 2.
int default_io_threads();

struct HostConfig {
  std::string listen = "127.0.0.1:8080";
  std::string public_url; // empty: http://<the bound address>
  std::filesystem::path data_dir = "data";
  // A PostgreSQL URL (postgresql://USER:PASSWORD@HOST:PORT/DATABASE) that replicas share;
  // empty: SQLite in data_dir. Holds a password: show it only through redacted_database_url.
  std::string database_url;
  // Connections to the store: one writes, the rest read. 0: the writer and one reader per
  // I/O thread that reads at once.
  int database_pool_size = 0;
  std::filesystem::path plugins_dir;
  std::filesystem::path key_file; // empty: <data_dir>/encryption.keys
  std::string ca_file;
  std::string tls_cert_file; // both set: serve HTTPS (PEM certificate chain and private key)
  std::string tls_key_file;
  std::vector<std::string> allowed_redirects;
  std::chrono::seconds state_ttl{600};
  // Flows: retention and limits (see oauth/flow_purge.hpp and oauth/rate_limiter.hpp).
  std::chrono::seconds authorized_ttl{3600};          // an authorized flow waits this long for completion
  std::chrono::seconds flow_purge_interval{60};       // 0: no background purge
  std::chrono::seconds flow_retention{7 * 24 * 3600}; // an ended flow's row is deleted after this
  int64_t authorize_per_minute = 120;                 // per organization and process; 0: no limit
  int64_t max_pending_flows = 1000;                   // per organization and process; 0: no cap
  std::chrono::milliseconds provider_connect_timeout{5000};
  std::chrono::milliseconds provider_total_timeout{15000};
  std::size_t max_body_bytes = std::size_t{64} * 1024;
  std::size_t max_header_bytes = std::size_t{16} * 1024;
  std::chrono::seconds header_timeout{10}; // a new connection's first request header
  std::chrono::seconds body_timeout{30};   // a request body, once its header is in
  std::size_t max_connections = 4096;      // open at once; lowered to fit the descriptor limit
  std::size_t max_connections_per_client = 256;
  // Two I/O threads per core (at least 2): a request's lookups read SQLite on its I/O thread
  // and can wait briefly for a file lock or a page, and another thread then runs meanwhile.
  int threads = default_io_threads();
  std::chrono::seconds shutdown_grace{10}; // SIGTERM: how long accepted requests may take to finish
  std::string log_level = "info";
  std::string plugin_watch = "inotify"; // how a running host notices plugin files: inotify, poll or off
  std::chrono::milliseconds plugin_poll_interval{1000};
  core::TokenSettings tokens; // token_refresh_*: margin, lead, scan (0 = no background refresh), ...
  std::map<std::string, nlohmann::json> providers; // slug -> settings from the file

  std::filesystem::path database_file() const { return data_dir / "connector-host.sqlite3"; }
  std::filesystem::path effective_key_file() const {
    return key_file.empty() ? data_dir / "encryption.keys" : key_file;
  }
};

// Command-line values that override everything else (empty: not given).
struct ConfigOverrides {
  std::string config_file;
  std::string listen;
  std::string data_dir;
  std::string plugins_dir;
  std::string database_url;
};

// Throws std::runtime_error with a message naming the setting on any invalid value.
HostConfig load_config(const ConfigOverrides& overrides, const core::EnvironmentLookup& env,
                       const std::filesystem::path& default_plugins_dir);

// Every setting's file key, environment variable, meaning and default, for --help.
std::string settings_help();

// Splits "host:port" / "[v6]:port"; throws std::runtime_error when malformed.
std::pair<std::string, unsigned short> split_listen_address(const std::string& listen);

} // namespace connector::host
