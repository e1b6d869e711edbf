// A real PostgreSQL server for a test: a cluster made by initdb in a temporary folder and run
// by pg_ctl on a free loopback port, from Debian's postgresql package. Passwords are checked
// (SCRAM), and the host's role owns its database without being a superuser, as the operator's
// guide asks. As root (CI may run as root), the server runs as the package's `postgres` user.
// Stopped, and its folder removed, at the end.
#pragma once

#include "support/temp_dir.hpp"

#include <string>

namespace connector::testing {

class PostgresServer {
public:
  PostgresServer(); // initdb, start, then the host's role and database
  ~PostgresServer();
  PostgresServer(const PostgresServer&) = delete;
  PostgresServer& operator=(const PostgresServer&) = delete;

  // postgresql://connector_host:PASSWORD@127.0.0.1:PORT/connector
  std::string url() const;
  // The same server, as its superuser (for tests that look behind the host's back).
  std::string admin_url() const;
  const std::string& host_password() const { return host_password_; }
  // A new, empty database owned by the host's role, and the URL the host reaches it at: tests
  // that share one server each take a database of their own.
  std::string create_database(const std::string& name);
  void drop_database(const std::string& name); // ends the sessions still on it
  int port() const { return port_; }

  void stop();  // a fast shutdown: sessions are ended, the data is kept
  void crash(); // an immediate shutdown, as a crash: recovery runs at the next start
  void start(); // again, on the same port and data
  std::string log() const;

private:
  void pg_ctl(const std::string& action, const std::string& mode);

  TempDir folder_{"connector-postgres"};
  std::string bin_dir_;
  std::string data_dir_;
  std::string admin_password_;
  std::string host_password_;
  int port_ = 0;
  bool running_ = false;
};

} // namespace connector::testing
