// Stopping and reloading under traffic, as an operator does: SIGTERM in the middle of a burst
// answers everything the host had accepted, exits 0 within the grace period and loses nothing
// a restart cannot find; SIGHUP keeps live connections open.
#include "integration/flow_driver.hpp"
#include "integration/host_fixture.hpp"

#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <fstream>
#include <mutex>
#include <thread>

using namespace connector::testing;

namespace {

constexpr int slow_callbacks = 6; // provider-facing callbacks whose code exchange is in flight at SIGTERM
constexpr int burst_clients = 8;  // keep-alive connections sending authorize without pause
constexpr int exchange_delay_ms = 1500;

// What one burst client saw: the connection ids it was answered, and anything but a 200.
struct BurstOutcome {
  std::vector<std::string> connection_ids;
  std::vector<std::string> unexpected;
};

// Sends authorize requests on keep-alive connections until the host stops taking new ones. A
// connection the host closes (idle at the stop, or after its answer said `Connection: close`)
// is reopened; a refused connect ends the client.
void burst(const HostProcess& host, const std::string& org, const std::string& key, BurstOutcome& outcome) {
  const std::string target = "/v1/organizations/" + org + "/knowledge/connectors/sources/authorize";
  const std::string body = nlohmann::json{{"slug", "github"}, {"redirect_url", client_redirect}}.dump();
  const std::map<std::string, std::string> headers{{"Authorization", "Bearer " + key},
                                                   {"Content-Type", "application/json"}};
  for (;;) {
    std::unique_ptr<KeepAliveConnection> connection;
    try {
      connection = std::make_unique<KeepAliveConnection>("127.0.0.1", host.port());
    } catch (const std::exception&) {
      return; // no longer accepting
    }
    for (;;) {
      HttpResult answer;
      try {
        answer = connection->request("POST", target, headers, body);
      } catch (const std::exception&) {
        break; // closed before answering: the host had not accepted this request
      }
      if (answer.status == 200) {
        outcome.connection_ids.push_back(answer.json().value("connection_id", ""));
      } else {
        outcome.unexpected.push_back(std::to_string(answer.status) + " " + answer.body);
      }
      if (answer.header("connection") == "close") break;
    }
  }
}

// Waits until `needle` has been logged `count` times.
bool wait_for_count(HostProcess& host, const std::string& needle, int count) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    const std::string log = host.process().stderr_text();
    int seen = 0;
    for (auto at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1))
      ++seen;
    if (seen >= count) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

} // namespace

TEST(Shutdown, SigtermDuringABurstAnswersEverythingAcceptedAndLosesNothing) {
  TempDir work("connector-shutdown");
  ProviderDouble provider(work.path());
  const auto data_dir = work.path() / "data";
  const std::string org = "org_shutdown";
  const int grace_seconds = 10;
  // The burst is one organization's, beyond the default flow limits: those are not tested here.
  const std::map<std::string, std::string> environment{
      {"CONNECTOR_SHUTDOWN_GRACE_SECONDS", std::to_string(grace_seconds)},
      {"CONNECTOR_AUTHORIZE_RATE_PER_MINUTE", "0"},
      {"CONNECTOR_MAX_PENDING_FLOWS", "0"}};

  auto host = std::make_unique<HostProcess>(work.path(), &provider, HostOptions{environment, data_dir});
  const std::string key = host->create_key(org);

  // Flows up to the provider's redirect; their callbacks will be in the middle of a slow code
  // exchange when the signal arrives.
  std::vector<std::string> pending_connections;
  std::vector<std::string> callback_urls;
  for (int i = 0; i < slow_callbacks; ++i) {
    const auto started =
        api_post(host->api(org) + "/sources/authorize", key, {{"slug", "github"}, {"redirect_url", client_redirect}});
    ASSERT_EQ(started.status, 200) << started.body;
    pending_connections.push_back(started.json()["connection_id"]);
    const auto consent =
        http_request("GET", started.json()["authorization_url"], {}, {}, (tls_dir() / "ca.pem").string());
    ASSERT_EQ(consent.status, 302) << consent.body;
    callback_urls.push_back(consent.header("location"));
  }
  provider.control("POST", "/__control/behaviour", {{"delay_ms", exchange_delay_ms}});

  std::vector<HttpResult> callback_answers(slow_callbacks);
  std::vector<std::thread> callers;
  for (int i = 0; i < slow_callbacks; ++i)
    callers.emplace_back([&, i] { callback_answers[i] = http_request("GET", callback_urls[i]); });
  std::vector<BurstOutcome> outcomes(burst_clients);
  for (int i = 0; i < burst_clients; ++i)
    callers.emplace_back([&, i] { burst(*host, org, key, outcomes[i]); });

  // Signal once every slow exchange has reached the provider and the burst is in full swing.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (provider.stats().value("in_flight_token_requests", 0) < slow_callbacks &&
         std::chrono::steady_clock::now() < give_up)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(provider.stats().value("in_flight_token_requests", 0), slow_callbacks);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));

  const auto signalled = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(host->process().pid(), SIGTERM), 0);
  const int exit_code = host->process().stop(0, std::chrono::seconds(grace_seconds + 5));
  const auto stop_took = std::chrono::steady_clock::now() - signalled;
  for (auto& caller : callers)
    caller.join();

  EXPECT_EQ(exit_code, 0) << host->process().stderr_text();
  EXPECT_LT(stop_took, std::chrono::seconds(grace_seconds)) << "exits within the grace period";
  EXPECT_GE(stop_took, std::chrono::milliseconds(exchange_delay_ms / 2))
      << "the host waited for the exchanges it had accepted";

  for (int i = 0; i < slow_callbacks; ++i) {
    ASSERT_EQ(callback_answers[i].status, 302) << callback_answers[i].body;
    EXPECT_EQ(query_param(callback_answers[i].header("location"), "status"), "success")
        << callback_answers[i].header("location");
  }
  std::size_t answered = 0;
  for (const auto& outcome : outcomes) {
    EXPECT_TRUE(outcome.unexpected.empty()) << outcome.unexpected.front();
    answered += outcome.connection_ids.size();
  }
  EXPECT_GT(answered, 50U) << "the burst was under way when the signal came";

  // Every authorize the host carried out was answered: the store holds exactly the flows the
  // clients were told about, no more.
  EXPECT_EQ(sqlite_query(data_dir, "SELECT count(*) FROM connections;"), std::to_string(answered + slow_callbacks));

  // A restart knows every one of them, and the exchanged grants become sources.
  host.reset();
  provider.control("POST", "/__control/behaviour", {});
  HostProcess restarted(work.path(), &provider, {environment, data_dir});
  for (const auto& outcome : outcomes) {
    for (const auto& connection_id : outcome.connection_ids) {
      const auto known = api_get(restarted.api(org) + "/connections/" + connection_id, key);
      ASSERT_EQ(known.status, 200) << connection_id << ": " << known.body;
    }
  }
  const std::string workspace = restarted.create_workspace(org, key);
  for (const auto& connection_id : pending_connections) {
    const auto created = api_post(restarted.api(org) + "/sources/oauth/callback", key,
                                  {{"connection_id", connection_id},
                                   {"workspace_id", workspace},
                                   {"source_definition_id", github_definition},
                                   {"source_name", "exchanged during the stop"}});
    EXPECT_EQ(created.status, 200) << created.body;
  }
}

TEST(Shutdown, SighupKeepsLiveConnectionsOpen) {
  TempDir work("connector-sighup-live");
  const auto config_file = work.path() / "connector.json";
  std::ofstream(config_file) << R"({"log_level": "info"})";
  HostProcess host(work.path(), nullptr, {{{"CONNECTOR_CONFIG", config_file.string()}}, {}});

  KeepAliveConnection connection("127.0.0.1", host.port());
  ASSERT_EQ(connection.request("GET", "/healthz").status, 200);
  for (int reload = 0; reload < 3; ++reload) {
    std::ofstream(config_file, std::ios::trunc)
        << R"({"log_level": "info", "state_ttl_seconds": )" << 300 + reload << "}";
    ASSERT_EQ(::kill(host.process().pid(), SIGHUP), 0);
    ASSERT_TRUE(wait_for_count(host, "configuration reloaded", reload + 1)) << host.process().stderr_text();
    const auto answer = connection.request("GET", "/readyz");
    EXPECT_EQ(answer.status, 200) << "the same connection still answers after reload " << reload;
    EXPECT_NE(answer.header("connection"), "close");
  }
  // The access log names the route pattern as well as the path.
  EXPECT_TRUE(host.process().wait_for_stderr(R"("route":"/readyz")", std::chrono::seconds(5)));
  EXPECT_EQ(host.process().stop(SIGTERM), 0);
}
