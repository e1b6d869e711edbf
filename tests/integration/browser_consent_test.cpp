// The consent flow as a user goes through it, in a real browser: headless Chromium (Debian's
// `chromium`, driven over the DevTools protocol by tests/peers/drive-browser-consent.js with
// puppeteer-core) opens the consent URL the host made, signs in and consents on the pages of a
// real authorization server (oidc-provider, tests/peers/oidc-server.js), is sent to the host's
// callback, and from there to the client's redirect URL: a loopback listener of this test, which
// records the query the browser brought. The client then turns the connection into a source.
//
// The browser trusts the test CA the way a user's browser trusts a public one: through the NSS
// certificate database Chromium reads on Linux ($HOME/.pki/nssdb), made for this test with
// certutil. Nothing is switched off: Chromium checks the authorization server's chain and host
// name itself, and a server the CA did not certify fails the test.
//
// The test starts every process it needs (authorization server, host, browser, driver) and
// stops them all; at the end no process of the browser's profile is left running.
#include "integration/oidc_server.hpp"
#include "support/watchdog.hpp"

#include <gmock/gmock.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iterator>
#include <mutex>
#include <stdexcept>
#include <thread>

using namespace connector::testing;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

namespace {

constexpr const char* kSheetsDefinitionId = "71607ba1-c0ac-4799-8049-7f4b90dd50f7";
constexpr const char* kClientId = "browser-e2e-client";
constexpr const char* kClientSecret = "browser-e2e-secret";
constexpr const char* kRedirectPath = "/client/oauth-done";
// Chromium's start and the flow take a few seconds; far beyond that, and within CTest's 120 s.
constexpr std::chrono::seconds kTestDeadline{90};

// The client application's redirect URL: a plain HTTP listener on 127.0.0.1 that answers every
// request with a small page and keeps each request's target (path and query).
class ClientRedirectListener {
public:
  ClientRedirectListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket() failed");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0 || ::listen(fd_, 16) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ::close(fd_);
      throw std::runtime_error("the client's listener cannot bind 127.0.0.1");
    }
    port_ = ntohs(address.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~ClientRedirectListener() {
    stopping_ = true;
    thread_.join();
    ::close(fd_);
  }
  ClientRedirectListener(const ClientRedirectListener&) = delete;
  ClientRedirectListener& operator=(const ClientRedirectListener&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + kRedirectPath; }
  std::vector<std::string> targets() const {
    std::lock_guard lock(mutex_);
    return targets_;
  }

private:
  void serve() {
    while (!stopping_) {
      pollfd waiting{fd_, POLLIN, 0};
      if (::poll(&waiting, 1, 50) <= 0) continue;
      const int client = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (client < 0) continue;
      answer(client);
      ::close(client);
    }
  }

  void answer(int client) {
    std::string request;
    char buffer[4096];
    while (request.find("\r\n\r\n") == std::string::npos && request.size() < 65536) {
      pollfd readable{client, POLLIN, 0};
      if (::poll(&readable, 1, 5000) <= 0) return;
      const ssize_t got = ::recv(client, buffer, sizeof buffer, 0);
      if (got <= 0) return;
      request.append(buffer, static_cast<std::size_t>(got));
    }
    // "GET /client/oauth-done?connection_id=...&status=success HTTP/1.1"
    const auto first_space = request.find(' ');
    const auto second_space = request.find(' ', first_space + 1);
    if (first_space == std::string::npos || second_space == std::string::npos) return;
    {
      std::lock_guard lock(mutex_);
      targets_.push_back(request.substr(first_space + 1, second_space - first_space - 1));
    }
    const std::string page = "<!DOCTYPE html><html><head><title>Connected</title></head>"
                             "<body><p>Back at the client application.</p></body></html>";
    const std::string response =
        "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: " + std::to_string(page.size()) +
        "\r\nConnection: close\r\n\r\n" + page;
    (void)::send(client, response.data(), response.size(), MSG_NOSIGNAL);
  }

  int fd_ = -1;
  unsigned short port_ = 0;
  std::atomic<bool> stopping_ = false;
  mutable std::mutex mutex_;
  std::vector<std::string> targets_;
  std::thread thread_;
};

// A home folder whose NSS database trusts the test CA for TLS servers, as Chromium reads it.
std::filesystem::path browser_home_trusting_test_ca(const std::filesystem::path& home) {
  const auto database = home / ".pki" / "nssdb";
  std::filesystem::create_directories(database);
  const std::string where = "sql:" + database.string();
  const auto created = run_command({"/usr/bin/certutil", "-d", where, "-N", "--empty-password"}, {});
  if (created.exit_code != 0) {
    throw std::runtime_error("certutil -N failed (exit " + std::to_string(created.exit_code) +
                             "; Debian package libnss3-tools): " + created.output);
  }
  const auto added = run_command({"/usr/bin/certutil", "-d", where, "-A", "-t", "C,,", "-n", "connector-test-ca", "-i",
                                  (tls_dir() / "ca.pem").string()},
                                 {});
  if (added.exit_code != 0) throw std::runtime_error("certutil -A failed: " + added.output);
  return home;
}

// Headless Chromium with a fresh profile, listening for DevTools on a loopback port it picks.
class HeadlessChromium {
public:
  HeadlessChromium(const std::filesystem::path& work, const std::filesystem::path& home)
      : profile_(work / "chromium-profile") {
    process_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{"/usr/bin/chromium", "--headless=new", "--no-sandbox", "--disable-gpu",
                                 // Its own background connections would fail against the closed network.
                                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                                 "--no-first-run", "--user-data-dir=" + profile_.string(), "--remote-debugging-port=0",
                                 "about:blank"},
        std::map<std::string, std::string>{{"HOME", home.string()}}, work, "chromium");
    const auto line = process_->wait_for_stderr("DevTools listening on ws://", std::chrono::seconds(30));
    if (!line) throw std::runtime_error("chromium did not start: " + process_->stderr_text());
    endpoint_ = line->substr(line->find("ws://"));
    while (!endpoint_.empty() && (endpoint_.back() == '\r' || endpoint_.back() == ' '))
      endpoint_.pop_back();
  }

  const std::string& endpoint() const { return endpoint_; }
  int pid() const { return process_->pid(); }
  // SIGTERM: the browser closes its pages and its helper processes with it.
  int stop() { return process_->stop(SIGTERM, std::chrono::seconds(10)); }
  std::string log() const { return process_->stderr_text(); }

  // Processes whose command line names this browser's profile (the browser and its helpers).
  std::vector<int> processes_left() const {
    std::vector<int> left;
    for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
      const std::string name = entry.path().filename().string();
      if (name.find_first_not_of("0123456789") != std::string::npos) continue;
      std::ifstream in(entry.path() / "cmdline", std::ios::binary);
      const std::string command_line{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
      if (command_line.find(profile_.string()) != std::string::npos) left.push_back(std::stoi(name));
    }
    return left;
  }

private:
  std::filesystem::path profile_;
  std::unique_ptr<ChildProcess> process_;
  std::string endpoint_;
};

TEST(BrowserConsentFlow, AUserSignsInAndConsentsInChromiumAndTheClientGetsItsSource) {
  TempDir work("connector-browser");
  ClientRedirectListener client;

  // The server must know the host's callback when it starts, and the host the server's issuer.
  std::unique_ptr<OidcServer> server;
  std::unique_ptr<HostProcess> host;
  std::string failure;
  for (int attempt = 1; attempt <= 3 && !host; ++attempt) {
    const unsigned short port = free_loopback_port();
    server.reset();
    server = std::make_unique<OidcServer>(work.path(), "google", kClientId, kClientSecret,
                                          "http://127.0.0.1:" + std::to_string(port) + "/v1/oauth/callback");
    const std::string& issuer = server->issuer();
    HostOptions options;
    options.listen = "127.0.0.1:" + std::to_string(port);
    options.data_dir = work.path() / ("data-" + std::to_string(attempt));
    options.environment = google_sheets_settings_at(issuer, kClientId, kClientSecret);
    options.environment["CONNECTOR_ALLOWED_REDIRECTS"] = client.url();
    try {
      host = std::make_unique<HostProcess>(work.path(), nullptr, options);
    } catch (const std::exception& error) {
      failure = error.what();
      if (failure.find("in use") == std::string::npos) break; // only a lost race for the port is retried
    }
  }
  ASSERT_TRUE(host) << failure;

  HeadlessChromium browser(work.path(), browser_home_trusting_test_ca(work.path() / "home"));
  const Watchdog watchdog(kTestDeadline, {host->process().pid(), server->pid(), browser.pid()});

  const std::string org = "org_browser_flow";
  const std::string key = host->create_key(org);
  const auto started =
      api_post(host->api(org) + "/sources/authorize", key, {{"slug", "google-sheets"}, {"redirect_url", client.url()}});
  ASSERT_EQ(started.status, 200) << started.body;
  const std::string connection_id = started.json().value("connection_id", "");
  const std::string authorization_url = started.json().value("authorization_url", "");
  ASSERT_THAT(authorization_url, StartsWith(server->issuer() + "/o/oauth2/v2/auth?"));

  ChildProcess driver({"/usr/bin/node", (source_dir() / "tests/peers/drive-browser-consent.js").string(), "--browser",
                       browser.endpoint(), "--url", authorization_url, "--until", client.url()},
                      {}, work.path(), "drive-browser-consent");
  const int driver_exit = driver.stop(0, std::chrono::seconds(60)); // signal 0: only wait, killed at the deadline
  ASSERT_EQ(driver_exit, 0) << "drive-browser-consent.js: " << driver.stderr_text() << "\noidc-server.js:\n"
                            << server->log();
  const auto walk = nlohmann::json::parse(driver.stdout_text());

  // The browser was shown the server's own sign-in and consent pages, and was sent through the
  // host's callback with the code, the state and the server's issuer.
  const auto went_to = [&](const char* list, const std::string& prefix) {
    std::vector<std::string> urls;
    for (const auto& url : walk.at(list)) {
      if (url.get<std::string>().rfind(prefix, 0) == 0) urls.push_back(url.get<std::string>());
    }
    return urls;
  };
  EXPECT_EQ(went_to("pages", server->issuer() + "/interaction/").size(), 2u)
      << "sign-in, then consent: " << walk.dump(2);
  const auto callbacks = went_to("navigations", host->base_url() + "/v1/oauth/callback?");
  ASSERT_EQ(callbacks.size(), 1u) << walk.dump(2);
  EXPECT_FALSE(query_param(callbacks.front(), "code").empty()) << callbacks.front();
  EXPECT_EQ(query_param(callbacks.front(), "state"), query_param(authorization_url, "state"));
  EXPECT_EQ(query_param(callbacks.front(), "iss"), server->issuer());
  EXPECT_THAT(walk.at("final_url").get<std::string>(), StartsWith(client.url() + "?"));
  EXPECT_THAT(walk.at("body").get<std::string>(), HasSubstr("Back at the client application."));

  // What the client's redirect URL received from the browser: the host's verdict, not the code.
  std::vector<std::string> arrivals;
  for (const auto& target : client.targets()) {
    if (target.rfind(kRedirectPath, 0) == 0) arrivals.push_back(target);
  }
  ASSERT_EQ(arrivals.size(), 1u) << "the client was visited " << arrivals.size() << " times";
  const std::string arrival = "http://127.0.0.1" + arrivals.front();
  EXPECT_EQ(query_param(arrival, "status"), "success") << arrival;
  EXPECT_EQ(query_param(arrival, "connection_id"), connection_id) << arrival;
  EXPECT_THAT(arrival, Not(HasSubstr("code="))) << "the authorization code never reaches the client";
  EXPECT_THAT(arrival, Not(HasSubstr("state="))) << arrival;

  // The host redeemed the code once, with the client secret and the PKCE verifier.
  const auto stats = server->stats();
  EXPECT_EQ(stats["token_calls"]["authorization_code"], 1) << stats.dump();
  EXPECT_EQ(stats["token_errors"], 0) << stats.dump();

  const auto connection = api_get(host->api(org) + "/connections/" + connection_id, key);
  ASSERT_EQ(connection.status, 200) << connection.body;
  EXPECT_EQ(connection.json()["status"], "authorized") << connection.body;

  const std::string workspace = host->create_workspace(org, key);
  const auto created = api_post(host->api(org) + "/sources/oauth/callback", key,
                                {{"connection_id", connection_id},
                                 {"workspace_id", workspace},
                                 {"source_definition_id", kSheetsDefinitionId},
                                 {"source_name", "Sheets consented in a browser"}});
  ASSERT_EQ(created.status, 200) << created.body;
  const auto source = created.json();
  EXPECT_EQ(source["source_type"], "google-sheets");
  EXPECT_EQ(source["status"], "active");
  EXPECT_EQ(source["connection_id"], connection_id);
  const auto stored = api_get(host->api(org) + "/sources/" + source.value("source_id", ""), key);
  ASSERT_EQ(stored.status, 200) << stored.body;
  EXPECT_EQ(stored.json()["name"], "Sheets consented in a browser");

  // Every process of the browser ends with it.
  EXPECT_EQ(browser.stop(), 0) << browser.log();
  std::vector<int> left = browser.processes_left();
  for (int waited = 0; !left.empty() && waited < 50; ++waited) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    left = browser.processes_left();
  }
  EXPECT_TRUE(left.empty()) << left.size() << " browser processes still run, e.g. pid " << left.front();
  EXPECT_FALSE(watchdog.fired()) << "the test ran past " << kTestDeadline.count() << " s; its processes were killed";
}

} // namespace
