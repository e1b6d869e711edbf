#include "integration/host_fixture.hpp"

#include "support/postgres_server.hpp"

#include "store/postgres_support.hpp"

#include <connector/encoding.hpp>

#include <boost/url/parse.hpp>

#include <unistd.h>

#include <cstdlib>
#include <map>
#include <mutex>
#include <thread>

namespace connector::testing {

std::filesystem::path source_dir() { return CONNECTOR_SOURCE_DIR; }
std::filesystem::path host_binary() { return CONNECTOR_HOST_BINARY; }

std::filesystem::path tls_dir() {
  static std::once_flag made;
  const std::filesystem::path dir = CONNECTOR_TEST_TLS_DIR;
  std::call_once(made, [&] {
    const auto result =
        run_command({"/bin/bash", (source_dir() / "tests/tls/make-test-ca.sh").string(), dir.string()}, {});
    if (result.exit_code != 0) throw std::runtime_error("make-test-ca.sh failed");
  });
  return dir;
}

ProviderDouble::ProviderDouble(const std::filesystem::path& log_dir, const std::vector<std::string>& extra_args,
                               const std::string& certificate) {
  const auto tls = tls_dir();
  std::vector<std::string> argv = {"/usr/bin/node", (source_dir() / "tests/peers/provider-double.js").string(),
                                   "--cert",        (tls / (certificate + ".pem")).string(),
                                   "--key",         (tls / (certificate + "-key.pem")).string(),
                                   "--port",        "0"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  process_ = std::make_unique<ChildProcess>(argv, std::map<std::string, std::string>{}, log_dir, "provider-double");
  const auto line = process_->wait_for_stdout("\"port\"", std::chrono::seconds(20));
  if (!line) throw std::runtime_error("the provider double did not start: " + process_->stderr_text());
  port_ = nlohmann::json::parse(*line).at("port").get<unsigned short>();
}

nlohmann::json ProviderDouble::control(const std::string& method, const std::string& path,
                                       const nlohmann::json& body) const {
  const auto result = http_request(method, base_url() + path, {{"Content-Type", "application/json"}},
                                   body.is_null() ? std::string() : body.dump(), (tls_dir() / "ca.pem").string());
  return result.json();
}

bool test_backend_is_postgres() {
  const char* backend = std::getenv("CONNECTOR_TEST_BACKEND");
  return backend != nullptr && std::string(backend) == "postgres";
}

namespace {

PostgresServer& shared_postgres() {
  static PostgresServer server;
  return server;
}

// A database of its own for each data folder the test process starts hosts on: hosts that
// share a data folder (a restart, two processes on one store) share the database too.
std::string host_database_for(const std::filesystem::path& data_dir) {
  static std::mutex mutex;
  static std::map<std::filesystem::path, std::string> databases;
  const std::lock_guard lock(mutex);
  std::string& url = databases[std::filesystem::weakly_canonical(data_dir)];
  if (url.empty()) {
    url = shared_postgres().create_database("host_" + std::to_string(::getpid()) + "_" +
                                            std::to_string(databases.size()));
  }
  return url;
}

// The tables the host writes, each as its rows in text, sorted.
std::string postgres_dump(const std::string& url) {
  core::pg::Connection db = core::pg::Connection::open(url);
  std::string text;
  for (const char* table : {"api_keys", "allowed_redirects", "workspaces", "sources", "oauth_apps", "connections"}) {
    const std::string sql =
        std::string("SELECT coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), '') FROM ") + table + " t";
    text += std::string(table) + ":\n" + db.run(sql, core::pg::Params()).text(0, 0) + "\n";
  }
  return text;
}

} // namespace

std::string HostProcess::dump() const {
  return database_url_.empty() ? sqlite_dump(data_dir_) : postgres_dump(database_url_);
}

HostProcess::HostProcess(const std::filesystem::path& work_dir, const ProviderDouble* provider, HostOptions options)
    : data_dir_(options.data_dir.empty() ? work_dir / "data" : options.data_dir),
      database_url_(!options.database_url.empty() ? options.database_url
                    : test_backend_is_postgres()  ? host_database_for(data_dir_)
                                                  : std::string()) {
  std::map<std::string, std::string> env = {
      {"CONNECTOR_ALLOWED_REDIRECTS", client_redirect},
      {"CONNECTOR_CA_FILE", (tls_dir() / "ca.pem").string()},
      {"CONNECTOR_PROVIDER_TOTAL_TIMEOUT_MS", "3000"},
      {"CONNECTOR_GITHUB_CLIENT_ID", "test-client-id"},
      {"CONNECTOR_GITHUB_CLIENT_SECRET", "test-client-secret"},
      {"CONNECTOR_GOOGLE_SHEETS_CLIENT_ID", "test-client-id"},
      {"CONNECTOR_GOOGLE_SHEETS_CLIENT_SECRET", "test-client-secret"},
  };
  if (provider != nullptr) {
    const std::string base = provider->base_url();
    env["CONNECTOR_GITHUB_BASE_URL"] = base;
    env["CONNECTOR_GITHUB_API_URL"] = base;
    env["CONNECTOR_GOOGLE_SHEETS_AUTH_URI"] = base + "/o/oauth2/v2/auth";
    env["CONNECTOR_GOOGLE_SHEETS_TOKEN_URI"] = base + "/token";
    env["CONNECTOR_GOOGLE_SHEETS_REVOKE_URI"] = base + "/revoke";
    env["CONNECTOR_GOOGLE_SHEETS_DRIVE_API_URL"] = base;
    env["CONNECTOR_GOOGLE_SHEETS_API_BASE_URL"] = base;
  }
  if (!database_url_.empty()) env["CONNECTOR_DATABASE_URL"] = database_url_;
  for (const auto& [key, value] : options.environment)
    env[key] = value;
  const std::filesystem::path plugins_dir =
      options.plugins_dir.empty() ? std::filesystem::path(CONNECTOR_TEST_PLUGIN_DIR) : options.plugins_dir;
  process_ = std::make_unique<ChildProcess>(std::vector<std::string>{host_binary().string(), "serve", "--listen",
                                                                     options.listen, "--data-dir", data_dir_.string(),
                                                                     "--plugins-dir", plugins_dir.string()},
                                            env, work_dir, "host");
  const auto line = process_->wait_for_stderr("\"listening\"", std::chrono::seconds(20));
  if (!line) throw std::runtime_error("the host did not start: " + process_->stderr_text());
  base_url_ = nlohmann::json::parse(*line).at("url").get<std::string>();
}

std::vector<std::string> HostProcess::command(std::vector<std::string> argv) const {
  argv.insert(argv.end(), {"--data-dir", data_dir_.string()});
  if (!database_url_.empty()) argv.insert(argv.end(), {"--database", database_url_});
  return argv;
}

std::string HostProcess::create_key(const std::string& org, const std::string& permissions) const {
  std::vector<std::string> argv = command({host_binary().string(), "keys", "create", "--org", org});
  if (!permissions.empty()) {
    argv.push_back("--permissions");
    argv.push_back(permissions);
  }
  const auto result = run_command(argv, {});
  if (result.exit_code != 0) throw std::runtime_error("keys create failed: " + result.output);
  std::string output = result.output;
  while (!output.empty() && output.back() == '\n')
    output.pop_back();
  return output.substr(output.rfind('\n') + 1);
}

std::string HostProcess::create_workspace(const std::string& org, const std::string& key) const {
  const auto created = api_post(api(org) + "/workspaces", key, {{"name", "Test workspace"}});
  if (created.status != 201) throw std::runtime_error("workspace creation failed: " + created.body);
  return created.json().at("workspace_id").get<std::string>();
}

std::string query_param(const std::string& url, const std::string& name) {
  const auto parsed = boost::urls::parse_uri_reference(url);
  if (!parsed) return {};
  for (const auto& [key, value] : sdk::form_decode(std::string(parsed->encoded_query()))) {
    if (key == name) return value;
  }
  return {};
}

std::string sqlite_dump(const std::filesystem::path& data_dir) {
  const auto result =
      run_command({"/usr/bin/sqlite3", "-readonly", (data_dir / "connector-host.sqlite3").string(), ".dump"}, {});
  return result.output;
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

} // namespace connector::testing
