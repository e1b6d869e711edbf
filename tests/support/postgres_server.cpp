#include "support/postgres_server.hpp"

#include "support/child_process.hpp"

#include "crypto/random.hpp"
#include "store/postgres_support.hpp"
#include "text/hex.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <vector>

namespace connector::testing {

namespace {

namespace fs = std::filesystem;

// A loopback port nobody listens on now (the kernel's choice for a socket bound to port 0).
int free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("postgres test server: no socket");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                     ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  ::close(fd);
  if (!bound) throw std::runtime_error("postgres test server: no free loopback port");
  return ntohs(address.sin_port);
}

std::string random_password() { return core::hex_encode(core::random_bytes(16)); }

// Debian installs the server's programs outside PATH; pg_config (libpq-dev) says where.
std::string server_bin_dir() {
  const CommandResult found = run_command({"/usr/bin/pg_config", "--bindir"}, {});
  std::string dir = found.output;
  while (!dir.empty() && (dir.back() == '\n' || dir.back() == ' '))
    dir.pop_back();
  if (found.exit_code != 0 || !fs::exists(fs::path(dir) / "initdb")) {
    throw std::runtime_error("postgres test server: initdb not found (scripts/install-deps.sh --test installs it)");
  }
  return dir;
}

bool running_as_root() { return ::geteuid() == 0; }

// The server refuses to run as root: as root, files it owns go to the package's user, and
// its programs run as that user.
void give_to_server_user(const fs::path& path) {
  if (!running_as_root()) return;
  passwd entry{};
  passwd* user = nullptr;
  std::array<char, 4096> buffer{};
  if (::getpwnam_r("postgres", &entry, buffer.data(), buffer.size(), &user) != 0 || user == nullptr) {
    throw std::runtime_error("postgres test server: no 'postgres' user (is postgresql installed?)");
  }
  if (::chown(path.c_str(), user->pw_uid, user->pw_gid) != 0) {
    throw std::runtime_error("postgres test server: cannot chown " + path.string());
  }
}

CommandResult run_as_server_user(std::vector<std::string> argv) {
  if (running_as_root()) argv.insert(argv.begin(), {"/usr/sbin/runuser", "-u", "postgres", "--"});
  return run_command(argv, {{"LC_ALL", "C"}});
}

} // namespace

PostgresServer::PostgresServer()
    : bin_dir_(server_bin_dir()), admin_password_(random_password()), host_password_(random_password()),
      port_(free_loopback_port()) {
  give_to_server_user(folder_.path()); // the server writes its socket and log here
  data_dir_ = (folder_.path() / "data").string();
  const fs::path password_file = folder_.path() / "admin-password";
  std::ofstream(password_file) << admin_password_ << '\n';
  give_to_server_user(password_file);
  const CommandResult made = run_as_server_user({bin_dir_ + "/initdb", "--pgdata=" + data_dir_, "--username=postgres",
                                                 "--pwfile=" + password_file.string(), "--auth=scram-sha-256",
                                                 "--encoding=UTF8", "--locale=C", "--no-sync"});
  if (made.exit_code != 0) throw std::runtime_error("postgres test server: initdb failed: " + made.errors);
  fs::remove(password_file);
  // Loopback TCP only, and the socket file in this folder rather than /var/run/postgresql.
  const fs::path settings = fs::path(data_dir_) / "postgresql.conf";
  std::ofstream(settings, std::ios::app) << "listen_addresses = '127.0.0.1'\nunix_socket_directories = '"
                                         << folder_.path().string() << "'\n";
  // The free port can be taken by another test before the server binds it: then another port.
  // A later "port =" line in the file wins over an earlier one.
  for (int attempt = 1;; ++attempt) {
    std::ofstream(settings, std::ios::app) << "port = " << port_ << "\n";
    try {
      start();
      break;
    } catch (const std::runtime_error&) {
      if (attempt == 3) throw;
      port_ = free_loopback_port();
    }
  }
  try {
    core::pg::Connection admin = core::pg::Connection::open(admin_url());
    // The password is ours, random hex: nothing in it needs quoting.
    admin.execute_script(("CREATE ROLE connector_host LOGIN PASSWORD '" + host_password_ + "'").c_str());
    admin.execute_script("CREATE DATABASE connector OWNER connector_host");
  } catch (...) {
    crash(); // no destructor runs for a constructor that throws: the server must not outlive it
    throw;
  }
}

PostgresServer::~PostgresServer() {
  try {
    if (running_) pg_ctl("stop", "immediate");
  } catch (...) { // a destructor must not throw; the folder goes anyway
  }
}

std::string PostgresServer::url() const {
  return "postgresql://connector_host:" + host_password_ + "@127.0.0.1:" + std::to_string(port_) + "/connector";
}

std::string PostgresServer::create_database(const std::string& name) {
  core::pg::Connection admin = core::pg::Connection::open(admin_url());
  // Names are the tests' own identifiers: quoted, with nothing in them that needs escaping.
  admin.execute_script(("CREATE DATABASE \"" + name + "\" OWNER connector_host").c_str());
  return "postgresql://connector_host:" + host_password_ + "@127.0.0.1:" + std::to_string(port_) + "/" + name;
}

void PostgresServer::drop_database(const std::string& name) {
  core::pg::Connection admin = core::pg::Connection::open(admin_url());
  admin.execute_script(("DROP DATABASE IF EXISTS \"" + name + "\" WITH (FORCE)").c_str());
}

std::string PostgresServer::admin_url() const {
  return "postgresql://postgres:" + admin_password_ + "@127.0.0.1:" + std::to_string(port_) + "/postgres";
}

void PostgresServer::pg_ctl(const std::string& action, const std::string& mode) {
  std::vector<std::string> argv = {bin_dir_ + "/pg_ctl", action, "--pgdata=" + data_dir_, "--wait"};
  if (action == "start") argv.push_back("--log=" + (folder_.path() / "server.log").string());
  if (!mode.empty()) argv.push_back("--mode=" + mode);
  const CommandResult done = run_as_server_user(argv);
  if (done.exit_code != 0) {
    throw std::runtime_error("postgres test server: pg_ctl " + action + " failed: " + done.errors + log());
  }
  running_ = action == "start";
}

void PostgresServer::start() { pg_ctl("start", ""); }

void PostgresServer::stop() { pg_ctl("stop", "fast"); }

void PostgresServer::crash() { pg_ctl("stop", "immediate"); }

std::string PostgresServer::log() const {
  std::ifstream file(folder_.path() / "server.log");
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

} // namespace connector::testing
