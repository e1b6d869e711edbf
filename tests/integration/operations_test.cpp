// Running the host as an operator does: /metrics in the Prometheus text format with counters
// that follow the traffic, SIGHUP re-reading the configuration, and the database command.
#include "integration/flow_driver.hpp"
#include "integration/host_fixture.hpp"
#include "store/sqlite_store.hpp"

#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

using namespace connector::testing;

namespace {

// Every sample of an exposition by its full name with labels; fails the test on a line that
// is not a comment, blank, or `name{labels} value`.
std::map<std::string, double> parse_exposition(const std::string& text) {
  static const std::regex sample(
      R"(^([a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})?) (-?[0-9.eE+-]+|\+Inf|NaN)$)");
  std::map<std::string, double> samples;
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) continue;
    std::smatch match;
    EXPECT_TRUE(std::regex_match(line, match, sample)) << "not Prometheus text: " << line;
    if (!match.empty()) samples[match[1]] = std::stod(match[5]);
  }
  return samples;
}

std::map<std::string, double> scrape(const HostProcess& host) {
  const auto answer = http_request("GET", host.base_url() + "/metrics");
  EXPECT_EQ(answer.status, 200);
  EXPECT_EQ(answer.header("content-type").rfind("text/plain; version=0.0.4", 0), 0U) << answer.header("content-type");
  return parse_exposition(answer.body);
}

double value(const std::map<std::string, double>& samples, const std::string& name) {
  const auto found = samples.find(name);
  return found == samples.end() ? 0.0 : found->second;
}

void write_file(const std::filesystem::path& file, const std::string& text) {
  std::ofstream(file, std::ios::trunc) << text;
}

} // namespace

TEST(Operations, MetricsParseAndFollowTheTraffic) {
  TempDir work("connector-metrics");
  ProviderDouble provider(work.path());
  HostProcess host(work.path(), &provider);
  const std::string org = "org_metrics";
  const std::string key = host.create_key(org);

  const auto before = scrape(host);
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(http_request("GET", host.base_url() + "/healthz").status, 200);
  const auto started =
      api_post(host.api(org) + "/sources/authorize", key, {{"slug", "github"}, {"redirect_url", client_redirect}});
  ASSERT_EQ(started.status, 200) << started.body;
  const auto refused =
      api_post(host.api(org) + "/sources/authorize", key, {{"slug", "no-such"}, {"redirect_url", client_redirect}});
  ASSERT_EQ(refused.status, 404);
  // Made-up methods are answered and counted, under one label.
  for (const char* method : {"FROBNICATE", "XYZZY"})
    EXPECT_GE(http_request(method, host.base_url() + "/healthz").status, 400);
  const auto after = scrape(host);

  const std::string healthz = R"(connector_http_requests_total{method="GET",route="/healthz",status="200"})";
  EXPECT_EQ(value(after, healthz) - value(before, healthz), 3);
  const std::string authorize_route = "/v1/organizations/{org_id}/knowledge/connectors/sources/authorize";
  EXPECT_EQ(
      value(after, R"(connector_http_requests_total{method="POST",route=")" + authorize_route + R"(",status="404"})"),
      1);
  EXPECT_EQ(value(after, R"(connector_flows_total{event="started",reason="",slug="github"})") -
                value(before, R"(connector_flows_total{event="started",reason="",slug="github"})"),
            1);
  EXPECT_GE(value(after, R"(connector_http_request_duration_seconds_count{route="/healthz"})"), 3);
  int plugins = 0; // the build's plugins folder: the native modules and the catalogue's definitions
  for (const auto& entry : std::filesystem::directory_iterator(CONNECTOR_TEST_PLUGIN_DIR))
    plugins += entry.path().extension() == ".so" || entry.path().extension() == ".json" ? 1 : 0;
  EXPECT_GE(plugins, 3);
  EXPECT_EQ(value(after, R"(connector_plugins{state="loaded"})"), plugins);
  EXPECT_EQ(after.count(R"(connector_http_requests_total{method="GET",route="/metrics",status="200"})"), 1U)
      << "the first scrape is counted by the second";
  EXPECT_EQ(value(after, R"(connector_http_requests_total{method="OTHER",route="unmatched",status="405"})") -
                value(before, R"(connector_http_requests_total{method="OTHER",route="unmatched",status="405"})"),
            2);
  for (const auto& [name, sample] : after) {
    EXPECT_EQ(name.find("FROBNICATE"), std::string::npos) << "a made-up method is no label";
    EXPECT_EQ(name.find(org), std::string::npos) << "labels carry route patterns, never a request's values";
    EXPECT_EQ(name.find(key), std::string::npos);
  }
}

// A HEAD answer has the GET answer's headers and no body: a body there would be read by a
// kept-alive client as the start of its next answer.
TEST(Operations, HeadIsAnsweredWithoutABodyOnAKeptAliveConnection) {
  TempDir work("connector-head");
  HostProcess host(work.path(), nullptr);
  const std::string base = host.base_url();
  const std::string get = http_request("GET", base + "/healthz").body;
  ASSERT_EQ(get, R"({"status":"ok"})");

  const std::string answers = raw_exchange("127.0.0.1", host.port(),
                                           "HEAD /healthz HTTP/1.1\r\nHost: test\r\n\r\n"
                                           "GET /healthz HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
  const std::size_t head_end = answers.find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos) << answers;
  const std::string head_answer = answers.substr(0, head_end + 4);
  EXPECT_EQ(head_answer.rfind("HTTP/1.1 200 OK\r\n", 0), 0U) << head_answer;
  EXPECT_NE(head_answer.find("Content-Length: " + std::to_string(get.size()) + "\r\n"), std::string::npos)
      << head_answer;
  // What follows at once is the GET's whole answer, ending with its body.
  const std::string rest = answers.substr(head_end + 4);
  EXPECT_EQ(rest.rfind("HTTP/1.1 200 OK\r\n", 0), 0U) << rest;
  EXPECT_EQ(rest.substr(rest.find("\r\n\r\n") + 4), get) << rest;
}

namespace {

// Sends `requests` on one connection from a socket with a small receive buffer, waits before
// reading so that the host finds the connection full, then reads until the host closes it.
std::string exchange_with_a_slow_reader(unsigned short port, const std::string& requests) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  EXPECT_GE(fd, 0);
  const int small = 4096;
  ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
  EXPECT_EQ(::send(fd, requests.data(), requests.size(), 0), static_cast<ssize_t>(requests.size()));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::string answers;
  std::array<char, 4096> chunk{};
  for (ssize_t n; (n = ::recv(fd, chunk.data(), chunk.size(), 0)) > 0;)
    answers.append(chunk.data(), static_cast<std::size_t>(n));
  ::close(fd);
  return answers;
}

} // namespace

// An answer the socket cannot take at once is sent in parts as room appears: each of many
// large answers to one slow reader arrives whole, once, and in order.
TEST(Operations, AnswersLargerThanTheSocketTakesArriveWholeAndInOrder) {
  TempDir work("connector-large-answers");
  HostProcess host(work.path(), nullptr);
  const std::string base = host.base_url();
  const std::string document = http_request("GET", base + "/openapi.json").body;
  ASSERT_GT(document.size(), 100000U) << "the test needs an answer larger than a socket buffer";

  constexpr int count = 24;
  std::string requests;
  for (int i = 1; i <= count; ++i)
    requests += std::string("GET /openapi.json HTTP/1.1\r\nHost: test\r\n") +
                (i == count ? "Connection: close\r\n" : "") + "\r\n";
  const std::string answers = exchange_with_a_slow_reader(host.port(), requests);

  int whole = 0;
  std::size_t at = 0;
  while (at < answers.size()) {
    const std::size_t head_end = answers.find("\r\n\r\n", at);
    ASSERT_NE(head_end, std::string::npos) << "answer " << whole + 1 << " has no end of header";
    const std::string head = answers.substr(at, head_end - at);
    ASSERT_EQ(head.rfind("HTTP/1.1 200 OK\r\n", 0), 0U) << "answer " << whole + 1 << ": " << head;
    const std::size_t length_at = head.find("Content-Length: ");
    ASSERT_NE(length_at, std::string::npos) << head;
    const std::size_t length = std::stoul(head.substr(length_at + 16));
    ASSERT_EQ(length, document.size()) << "answer " << whole + 1;
    ASSERT_TRUE(answers.compare(head_end + 4, length, document) == 0) << "answer " << whole + 1 << " differs";
    at = head_end + 4 + length;
    ++whole;
  }
  EXPECT_EQ(whole, count);
}

TEST(Operations, SighupRereadsTheConfigurationWithoutStopping) {
  TempDir work("connector-sighup");
  const auto config_file = work.path() / "connector.json";
  write_file(config_file, R"({"log_level": "info"})");
  HostProcess host(work.path(), nullptr, {{{"CONNECTOR_CONFIG", config_file.string()}}, {}});

  ASSERT_EQ(http_request("GET", host.base_url() + "/healthz").status, 200);
  ASSERT_TRUE(host.process().wait_for_stderr("\"path\":\"/healthz\"", std::chrono::seconds(5)));
  write_file(config_file, R"({"log_level": "warning"})");
  ASSERT_EQ(::kill(host.process().pid(), SIGHUP), 0);
  ASSERT_TRUE(host.process().wait_for_stderr("configuration reloaded", std::chrono::seconds(10)))
      << host.process().stderr_text();
  ASSERT_EQ(http_request("GET", host.base_url() + "/readyz").status, 200);

  // A broken file is refused (an error, so it shows at any level) and the host keeps serving.
  write_file(config_file, R"({"log_level": )");
  ASSERT_EQ(::kill(host.process().pid(), SIGHUP), 0);
  ASSERT_TRUE(host.process().wait_for_stderr("configuration reload failed", std::chrono::seconds(10)));
  EXPECT_EQ(http_request("GET", host.base_url() + "/healthz").status, 200);
  EXPECT_EQ(host.process().stop(SIGTERM), 0);

  // The request after the first reload ran at the new level: not logged.
  const std::string log = host.process().stderr_text();
  EXPECT_NE(log.find("\"path\":\"/healthz\""), std::string::npos);
  EXPECT_EQ(log.find("\"path\":\"/readyz\""), std::string::npos) << log;
}

TEST(Operations, DatabaseCheckAndMigrate) {
  TempDir work("connector-database");
  const auto data = (work.path() / "data").string();
  const auto fresh = run_command({host_binary().string(), "database", "check", "--data-dir", data}, {});
  EXPECT_EQ(fresh.exit_code, 3) << fresh.output;
  EXPECT_NE(fresh.output.find("not created yet"), std::string::npos) << fresh.output;
  const auto migrated = run_command({host_binary().string(), "database", "migrate", "--data-dir", data}, {});
  EXPECT_EQ(migrated.exit_code, 0) << migrated.output;
  // Not a terminal: a plain line as each step starts, then the summary.
  const std::string steps = std::to_string(connector::core::SqliteStore::latest_schema_version());
  EXPECT_NE(migrated.errors.find("migrate: 0 of " + steps + " (0 %): version 1, "), std::string::npos)
      << migrated.errors;
  EXPECT_NE(migrated.errors.find("migrate: " + steps + " steps ("), std::string::npos) << migrated.errors;
  EXPECT_EQ(migrated.errors.find('\r'), std::string::npos) << "no terminal control in a log";
  const auto checked = run_command({host_binary().string(), "database", "check", "--data-dir", data}, {});
  EXPECT_EQ(checked.exit_code, 0) << checked.output;
  EXPECT_NE(checked.output.find("up to date"), std::string::npos) << checked.output;
  const auto again = run_command({host_binary().string(), "database", "migrate", "--data-dir", data}, {});
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_NE(again.errors.find("migrate: 0 steps ("), std::string::npos) << again.errors;
}

TEST(Operations, NoSecretReachesTheLogDuringWholeFlowsAndRefreshes) {
  TempDir work("connector-log-secrets");
  ProviderDouble provider(work.path(), {"--github-expiring"});
  HostProcess host(work.path(), &provider, {{{"CONNECTOR_LOG_LEVEL", "debug"}}, {}});
  const std::string org = "org_log_secrets";
  const std::string key = host.create_key(org, "sources credentials:read");
  const std::string workspace = host.create_workspace(org, key);

  std::vector<std::string> secrets = {key, "test-client-secret"};
  const auto flow = run_flow(host, org, key, workspace, github_definition);
  for (bool force : {false, true, true}) {
    const auto token = request_access_token(host, org, key, flow.source_id(), force);
    ASSERT_EQ(token.status, 200) << token.body;
    secrets.push_back(token.json()["access_token"]);
  }
  // A token the caller holds, on a source without OAuth.
  const std::string own_token = mint_github_token(provider);
  secrets.push_back(own_token);
  const auto created = api_call("POST", host.api(org) + "/sources", key,
                                nlohmann::json{{"name", "own token"},
                                               {"source_definition_id", github_definition},
                                               {"workspace_id", workspace},
                                               {"configuration", {{"credentials", {{"access_token", own_token}}}}}});
  ASSERT_EQ(created.status, 201) << created.body;
  ASSERT_EQ(api_call("DELETE", host.api(org) + "/sources/" + flow.source_id(), key).status, 204);
  EXPECT_EQ(host.process().stop(SIGTERM), 0);

  const std::string log = host.process().stderr_text();
  ASSERT_NE(log.find("\"message\":\"token refreshed\""), std::string::npos) << "the test must see refreshes";
  for (const auto& secret : secrets) {
    ASSERT_GE(secret.size(), 8U);
    EXPECT_EQ(log.find(secret), std::string::npos) << "a secret reached the log: " << secret.substr(0, 6) << "...";
  }
  // Nor the provider-facing callback's code or state: the access log keeps the path only.
  EXPECT_EQ(log.find("code="), std::string::npos);
  EXPECT_EQ(log.find("state="), std::string::npos);
}

TEST(Operations, ServesHttpsWithTheConfiguredCertificate) {
  TempDir work("connector-https");
  const std::string ca = (tls_dir() / "ca.pem").string();
  HostProcess host(work.path(), nullptr,
                   {{{"CONNECTOR_TLS_CERT_FILE", (tls_dir() / "server.pem").string()},
                     {"CONNECTOR_TLS_KEY_FILE", (tls_dir() / "server-key.pem").string()}},
                    {}});
  ASSERT_EQ(host.base_url().rfind("https://127.0.0.1:", 0), 0U) << host.base_url();
  const std::string key = host.create_key("org_https");
  const auto health = http_request("GET", host.base_url() + "/healthz", {}, {}, ca);
  EXPECT_EQ(health.status, 200);
  const auto listed =
      http_request("GET", host.api("org_https") + "/workspaces", {{"authorization", "Bearer " + key}}, {}, ca);
  EXPECT_EQ(listed.status, 200) << listed.body;
  // Plain HTTP on the TLS port gets no answer, and a client that does not trust the CA is refused.
  const std::string plain = "http://" + host.base_url().substr(std::string("https://").size()) + "/healthz";
  EXPECT_ANY_THROW(http_request("GET", plain));
  EXPECT_ANY_THROW(http_request("GET", host.base_url() + "/healthz", {}, {}, (tls_dir() / "untrusted.pem").string()));
  EXPECT_EQ(host.process().stop(SIGTERM), 0);
}

TEST(Operations, HalfATlsConfigurationIsRefusedAtStart) {
  TempDir work("connector-https-half");
  const auto started = run_command(
      {host_binary().string(), "serve", "--listen", "127.0.0.1:0", "--data-dir", (work.path() / "data").string()},
      {{"CONNECTOR_TLS_CERT_FILE", (tls_dir() / "server.pem").string()}});
  EXPECT_NE(started.exit_code, 0);
}

// A refresh lease must outlast the longest wait on the provider, or a second replica could
// refresh a single-use token its holder is still refreshing.
TEST(Operations, ALeaseShorterThanAProviderCallCanTakeIsRefusedAtStart) {
  TempDir work("connector-short-lease");
  const std::vector<std::string> serve = {host_binary().string(), "serve",      "--listen",
                                          "127.0.0.1:0",          "--data-dir", (work.path() / "data").string()};
  const auto refused = run_command(serve, {{"CONNECTOR_TOKEN_REFRESH_LEASE_SECONDS", "20"}});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.errors.find("token_refresh_lease_seconds (20) must be longer than a refresh can wait on the "
                                "provider (46250 ms"),
            std::string::npos)
      << refused.errors;
  // With provider calls that give up sooner, the same lease is long enough.
  ChildProcess accepted(
      serve, {{"CONNECTOR_TOKEN_REFRESH_LEASE_SECONDS", "20"}, {"CONNECTOR_PROVIDER_TOTAL_TIMEOUT_MS", "5000"}},
      work.path(), "host");
  EXPECT_TRUE(accepted.wait_for_stderr("\"listening\"", std::chrono::seconds(20))) << accepted.stderr_text();
}

// One connection cannot both write and read: a pool of one is refused, a pool of two serves.
TEST(Operations, AStorePoolOfOneIsRefusedAtStartAndOfTwoServes) {
  TempDir work("connector-pool-size");
  const std::vector<std::string> serve = {host_binary().string(), "serve",      "--listen",
                                          "127.0.0.1:0",          "--data-dir", (work.path() / "data").string()};
  const auto refused = run_command(serve, {{"CONNECTOR_DATABASE_POOL_SIZE", "1"}});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_NE(refused.errors.find("database_pool_size must be 0, or from 2 to 1000"), std::string::npos)
      << refused.errors;
  HostOptions options;
  options.environment = {{"CONNECTOR_DATABASE_POOL_SIZE", "2"}};
  HostProcess host(work.path() / "two", nullptr, options);
  const std::string key = host.create_key("org_pool");
  run_concurrently(8, [&](int) {
    for (int i = 0; i < 10; ++i)
      EXPECT_EQ(api_call("GET", host.api("org_pool") + "/workspaces", key).status, 200);
  });
}

TEST(Operations, AnyHostSettingCanComeFromAFile) {
  TempDir work("connector-setting-files");
  const auto limit_file = work.path() / "max-body";
  write_file(limit_file, "200\n"); // as container platforms mount them: with a line end
  HostProcess host(work.path(), nullptr, {{{"CONNECTOR_MAX_BODY_BYTES_FILE", limit_file.string()}}, {}});
  const std::string key = host.create_key("org_setting_files");
  const auto refused = api_post(host.api("org_setting_files") + "/workspaces", key, {{"name", std::string(300, 'w')}});
  EXPECT_EQ(refused.status, 413) << refused.body;
  const auto accepted = api_post(host.api("org_setting_files") + "/workspaces", key, {{"name", "small"}});
  EXPECT_EQ(accepted.status, 201) << accepted.body;
  EXPECT_EQ(host.process().stop(SIGTERM), 0);

  // A file that cannot be read stops the start instead of being skipped.
  const auto missing = run_command(
      {host_binary().string(), "serve", "--listen", "127.0.0.1:0", "--data-dir", (work.path() / "data").string()},
      {{"CONNECTOR_MAX_BODY_BYTES_FILE", (work.path() / "absent").string()}});
  EXPECT_NE(missing.exit_code, 0);
}

// --help is printed from the settings table; the README's table and the sample configuration
// must not name a setting the host does not have.
// The settings named in the README's and docs/operating.md's configuration sections, the
// ones --help lists and the sample configuration's keys agree: operating.md documents every
// setting --help has, and neither document names one --help does not.
TEST(Operations, HelpListsEverySettingTheDocumentationNames) {
  const auto help = run_command({host_binary().string(), "--help"}, {});
  ASSERT_EQ(help.exit_code, 0);
  const std::regex variable(R"((CONNECTOR_[A-Z_]+))");
  const auto host_settings_in = [&](const std::string& text) {
    std::set<std::string> names;
    for (auto it = std::sregex_iterator(text.begin(), text.end(), variable); it != std::sregex_iterator(); ++it) {
      std::string name = (*it)[1];
      if (name.size() > 5 && name.compare(name.size() - 5, 5, "_FILE") == 0 && name != "CONNECTOR_KEY_FILE" &&
          name != "CONNECTOR_ENCRYPTION_KEYS_FILE" && name != "CONNECTOR_CA_FILE" &&
          name.find("_TLS_") == std::string::npos) {
        name.resize(name.size() - 5); // CONNECTOR_X_FILE is CONNECTOR_X read from a file
      }
      if (name.rfind("CONNECTOR_GITHUB_", 0) == 0 || name.rfind("CONNECTOR_GOOGLE_SHEETS_", 0) == 0) continue;
      if (name == "CONNECTOR_NOT_CONFIGURED" || name == "CONNECTOR_NOT_FOUND") continue; // error codes
      names.insert(name);
    }
    return names;
  };
  const auto configuration_section = [](const std::filesystem::path& file) {
    std::ifstream in(file);
    const std::string whole((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const auto section = whole.find("\n## Configuration");
    EXPECT_NE(section, std::string::npos) << file;
    if (section == std::string::npos) return std::string();
    return whole.substr(section, whole.find("\n## ", section + 1) - section);
  };
  const std::set<std::string> in_help = host_settings_in(help.output);
  const std::set<std::string> in_readme = host_settings_in(configuration_section(source_dir() / "README.md"));
  const std::set<std::string> in_operating =
      host_settings_in(configuration_section(source_dir() / "docs" / "operating.md"));
  EXPECT_GT(in_help.size(), 25U);
  EXPECT_GT(in_readme.size(), 5U);
  for (const std::string& name : in_readme)
    EXPECT_TRUE(in_help.count(name)) << "README names " << name << ", --help does not";
  for (const std::string& name : in_operating)
    EXPECT_TRUE(in_help.count(name)) << "docs/operating.md names " << name << ", --help does not";
  for (const std::string& name : in_help)
    EXPECT_TRUE(in_operating.count(name)) << "--help lists " << name << ", docs/operating.md does not";

  std::ifstream sample_file(source_dir() / "packaging" / "connector-host.example.json");
  const auto sample = nlohmann::json::parse(sample_file, nullptr, false, /*ignore_comments=*/true);
  ASSERT_TRUE(sample.is_object());
  for (const auto& [key, value] : sample.items()) {
    if (key == "providers") continue;
    EXPECT_NE(help.output.find("  " + key + " / "), std::string::npos) << "the sample sets " << key;
  }
}

// Each of the host's threads carries the name docs/architecture.md gives it, so that top -H
// and perf tell them apart.
TEST(Operations, ThreadsAreNamedForWhatTheyRun) {
  TempDir work("connector-thread-names");
  HostOptions options;
  options.environment["CONNECTOR_THREADS"] = "2";
  HostProcess host(work.path(), nullptr, options);
  ASSERT_EQ(http_request("GET", host.base_url() + "/healthz").status, 200);
  const std::filesystem::path tasks = "/proc/" + std::to_string(host.process().pid()) + "/task";
  const auto thread_names = [&] {
    std::multiset<std::string> names;
    for (const auto& task : std::filesystem::directory_iterator(tasks)) {
      std::ifstream comm(task.path() / "comm");
      std::string name;
      std::getline(comm, name);
      names.insert(name);
    }
    return names;
  };
  std::vector<std::string> expected = {"main", "connection-1", "connection-2", "store"};
  if (host.database_url().empty()) expected.push_back("checkpointer"); // SQLite's WAL checkpoints
  const auto all_named = [&](const std::multiset<std::string>& names) {
    return std::all_of(expected.begin(), expected.end(),
                       [&](const std::string& name) { return names.count(name) == 1; });
  };
  // A thread names itself once it runs, which on a busy machine can come after the host
  // answers: until then it has its creator's name.
  std::multiset<std::string> names = thread_names();
  for (int attempt = 0; attempt < 100 && !all_named(names); ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    names = thread_names();
  }
  for (const std::string& name : expected)
    EXPECT_EQ(names.count(name), 1U) << name;
}

// The host keeps keys in memory (GenerationCache); a key revoked with the CLI while it runs
// must still be refused within core::cache_generation_max_age (100 ms), and a key created
// meanwhile must work at once.
TEST(Operations, KeysChangedWithTheCliWhileServingTakeEffect) {
  TempDir work("connector-key-cache");
  HostProcess host(work.path(), nullptr);
  const std::string org = "org_keys";
  const std::string key = host.create_key(org);
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(api_call("GET", host.api(org) + "/sources", key).status, 200);

  const std::string second = host.create_key(org);
  EXPECT_EQ(api_call("GET", host.api(org) + "/sources", second).status, 200);

  const auto listed = run_command(host.command({host_binary().string(), "keys", "list", "--org", org}), {});
  ASSERT_EQ(listed.exit_code, 0) << listed.output;
  const std::string first_id = listed.output.substr(0, listed.output.find('\t'));
  const auto revoked = run_command(host.command({host_binary().string(), "keys", "revoke", "--id", first_id}), {});
  ASSERT_EQ(revoked.exit_code, 0) << revoked.output;

  const auto revoked_at = std::chrono::steady_clock::now();
  int status = 0;
  while (std::chrono::steady_clock::now() - revoked_at < std::chrono::seconds(5)) {
    status = api_call("GET", host.api(org) + "/sources", key).status;
    if (status == 401) break;
  }
  const auto took =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - revoked_at);
  EXPECT_EQ(status, 401);
  // 100 ms by design; the rest is room for a busy machine, far below "never".
  EXPECT_LT(took.count(), 1500);
  EXPECT_EQ(api_call("GET", host.api(org) + "/sources", key).status, 401);
  EXPECT_EQ(api_call("GET", host.api(org) + "/sources", second).status, 200);

  // Revoking it again, or a key that never was, says so and fails.
  const auto again = run_command(host.command({host_binary().string(), "keys", "revoke", "--id", first_id}), {});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.errors.find("was already revoked"), std::string::npos) << again.errors;
  const auto unknown = run_command(host.command({host_binary().string(), "keys", "revoke", "--id", "key_nope"}), {});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.errors.find("no key key_nope"), std::string::npos) << unknown.errors;
}
