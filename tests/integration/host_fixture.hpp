// What every integration test stands on: the test CA, a TLS provider double (Google and
// GitHub at once) and the real connector-host binary with the real plugins, each a process
// on loopback. Tests use their own organization ids, so one host serves a whole suite.
#pragma once

#include "support/child_process.hpp"
#include "support/test_http.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace connector::testing {

std::filesystem::path source_dir();  // the repository
std::filesystem::path tls_dir();     // the test CA and certificates (made on first use)
std::filesystem::path host_binary(); // connector-host

// node tests/peers/provider-double.js over TLS with the test CA's server certificate.
class ProviderDouble {
public:
  explicit ProviderDouble(const std::filesystem::path& log_dir, const std::vector<std::string>& extra_args = {},
                          const std::string& certificate = "server");
  std::string base_url() const { return "https://127.0.0.1:" + std::to_string(port_); }
  unsigned short port() const { return port_; }
  nlohmann::json control(const std::string& method, const std::string& path, const nlohmann::json& body = {}) const;
  nlohmann::json stats() const { return control("GET", "/__control/stats"); }

private:
  std::unique_ptr<ChildProcess> process_;
  unsigned short port_ = 0;
};

struct HostOptions {
  std::map<std::string, std::string> environment; // added to the defaults below
  std::filesystem::path data_dir;                 // empty: a fresh folder
  std::string listen = "127.0.0.1:0";             // --listen; a fixed port when a peer must know it first
  std::filesystem::path plugins_dir{};            // --plugins-dir; empty: the build's plugins folder
  // CONNECTOR_DATABASE_URL; empty: the backend the run tests (test_backend_is_postgres()).
  std::string database_url{};
};

// The integration suite runs on both backends. CTest registers it twice, the second time with
// CONNECTOR_TEST_BACKEND=postgres: then each host stores in a PostgreSQL database of its own,
// on one server for the test process; otherwise in SQLite in its data folder.
bool test_backend_is_postgres();

// connector-host serve on `options.listen`, both plugins configured against `provider`; with
// no provider, the tests set the plugins' endpoints through `options.environment` themselves.
class HostProcess {
public:
  HostProcess(const std::filesystem::path& work_dir, const ProviderDouble* provider, HostOptions options = {});

  std::string base_url() const { return base_url_; }
  // The port the host listens on, from base_url(): for tests that speak raw HTTP to it.
  unsigned short port() const {
    return static_cast<unsigned short>(std::stoi(base_url_.substr(base_url_.rfind(':') + 1)));
  }
  std::string api(const std::string& org) const {
    return base_url_ + "/v1/organizations/" + org + "/knowledge/connectors";
  }
  const std::filesystem::path& data_dir() const { return data_dir_; }
  const std::string& database_url() const { return database_url_; } // empty on SQLite
  // A CLI command's argv with the options that point it at this host's store appended.
  std::vector<std::string> command(std::vector<std::string> argv) const;
  // Everything the host has stored, as text, for tests that check that a refused request
  // changed nothing: SQLite's .dump, or each PostgreSQL table's rows in order.
  std::string dump() const;
  ChildProcess& process() { return *process_; }

  // connector-host keys create --org ORG: the key printed on the last line.
  std::string create_key(const std::string& org, const std::string& permissions = "") const;
  // Makes a workspace through the API and returns its id.
  std::string create_workspace(const std::string& org, const std::string& key) const;

private:
  std::filesystem::path data_dir_;
  std::string database_url_;
  std::unique_ptr<ChildProcess> process_;
  std::string base_url_;
};

// The redirect the test clients use; allowed host-wide through CONNECTOR_ALLOWED_REDIRECTS.
inline constexpr const char* client_redirect = "https://app.example.com/callback";

// Query parameter `name` of `url` (decoded), or empty.
std::string query_param(const std::string& url, const std::string& name);
// Counts rows of a table in the host's SQLite file (read-only, through the sqlite3 CLI).
std::string sqlite_dump(const std::filesystem::path& data_dir);

// Polls `condition` every 20 ms until it holds or `timeout` passes; whether it held.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout = std::chrono::seconds(5));

} // namespace connector::testing
