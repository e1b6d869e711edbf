// Crash safety under load: the host is killed with SIGKILL in the middle of a burst of writes
// through its API (flows started, workspaces made, sources created from authorized flows, from
// many connections at once), ten times in a row, and started again on the same data folder each
// time. Whatever the host acknowledged with a 2xx before the kill must be there afterwards, in
// the SQLite file and through the API, no write may be half done (a source exists exactly when
// its flow is consumed by it), and SQLite's integrity check must pass after every kill.
#include "integration/flow_driver.hpp"
#include "support/watchdog.hpp"

#include <gmock/gmock.h>

#include <signal.h>

#include <atomic>
#include <deque>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <thread>

using namespace connector::testing;

namespace {

constexpr int kRounds = 10;
// Writers per kind of write; with three kinds, this many connections are open at once times three.
constexpr int kWritersPerKind = 4;
// Flows authorized before each burst, for the burst's source creations.
constexpr int kAuthorizedFlowsPerRound = 30;
// The kill comes after a random number of acknowledged writes of the round, at least this many.
constexpr int kWritesBeforeKill = 10;
constexpr std::chrono::seconds kTestDeadline{110};

// What the host acknowledged (2xx) and so promised to keep, with the organization it belongs to.
struct Acknowledged {
  std::mutex mutex;
  std::map<std::string, std::string> connections; // started flows (sources/authorize) -> org
  std::map<std::string, std::string> workspaces;  // -> org
  std::map<std::string, std::string> sources;     // -> org
  std::map<std::string, std::string> consumed;    // source -> the connection it was made from
  std::atomic<int> this_round = 0;
  std::atomic<int> in_flight = 0;     // writes sent and not yet answered
  std::vector<std::string> surprises; // answers that were neither a 2xx nor an expected refusal

  void add(std::map<std::string, std::string>& to, const std::string& id, const std::string& org) {
    std::lock_guard lock(mutex);
    to[id] = org;
    ++this_round;
  }
};

std::set<std::string> lines(const std::string& text) {
  std::set<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.insert(line);
  }
  return out;
}

// Authorizes `count` GitHub flows through the double's consent and the host's callback: the
// connections a burst turns into sources.
std::deque<std::string> authorized_flows(const HostProcess& host, const std::string& org, const std::string& key,
                                         int count, Acknowledged& acknowledged) {
  std::deque<std::string> ready;
  for (int i = 0; i < count; ++i) {
    const auto started =
        api_post(host.api(org) + "/sources/authorize", key, {{"slug", "github"}, {"redirect_url", client_redirect}});
    if (started.status != 200) throw std::runtime_error("authorize answered " + started.body);
    const std::string id = started.json().value("connection_id", "");
    acknowledged.add(acknowledged.connections, id, org);
    const std::string back = consent_and_callback(started.json().value("authorization_url", ""));
    if (query_param(back, "status") != "success") throw std::runtime_error("the flow ended with " + back);
    ready.push_back(id);
  }
  return ready;
}

// One writer: the same kind of write again and again until the host is gone (the connection
// is refused or cut) or the round is over.
void write_until_the_host_dies(const HostProcess& host, const std::string& org, const std::string& key,
                               const std::string& workspace, int kind, int writer, std::deque<std::string>& flows,
                               std::mutex& flows_mutex, Acknowledged& acknowledged, const std::atomic<bool>& over) {
  for (int n = 0; !over; ++n) {
    // Counts this write until its answer (or the end of its connection) is in.
    struct InFlight {
      std::atomic<int>& count;
      explicit InFlight(std::atomic<int>& c) : count(c) { ++count; }
      ~InFlight() { --count; }
    } in_flight(acknowledged.in_flight);
    try {
      if (kind == 0) {
        const auto answer = api_post(host.api(org) + "/sources/authorize", key,
                                     {{"slug", "github"}, {"redirect_url", client_redirect}});
        if (answer.status == 200) {
          acknowledged.add(acknowledged.connections, answer.json().value("connection_id", ""), org);
        } else if (answer.status != 429) { // a rate limit refuses a write; it does not lose one
          std::lock_guard lock(acknowledged.mutex);
          acknowledged.surprises.push_back("authorize: " + answer.body);
        }
      } else if (kind == 1) {
        const auto answer = api_post(host.api(org) + "/workspaces", key,
                                     {{"name", "burst " + std::to_string(writer) + "-" + std::to_string(n)}});
        if (answer.status == 201) {
          acknowledged.add(acknowledged.workspaces, answer.json().value("workspace_id", ""), org);
        } else {
          std::lock_guard lock(acknowledged.mutex);
          acknowledged.surprises.push_back("workspace: " + answer.body);
        }
      } else {
        std::string connection;
        {
          std::lock_guard lock(flows_mutex);
          if (flows.empty()) return;
          connection = flows.front();
          flows.pop_front();
        }
        const auto answer = api_post(host.api(org) + "/sources/oauth/callback", key,
                                     {{"connection_id", connection},
                                      {"workspace_id", workspace},
                                      {"source_definition_id", github_definition},
                                      {"source_name", "from " + connection}});
        if (answer.status == 200) {
          const std::string source = answer.json().value("source_id", "");
          std::lock_guard lock(acknowledged.mutex);
          acknowledged.sources[source] = org;
          acknowledged.consumed[source] = connection;
          ++acknowledged.this_round;
        } else {
          std::lock_guard lock(acknowledged.mutex);
          acknowledged.surprises.push_back("source: " + answer.body);
        }
      }
    } catch (const std::exception&) {
      return; // the host was killed: refused or cut connections end this writer
    }
  }
}

// The SQLite file after a kill, before the next start: intact, holding every acknowledged write,
// and no source without the flow it consumed.
void expect_the_file_holds_everything(const std::filesystem::path& data_dir, Acknowledged& acknowledged, int round) {
  EXPECT_EQ(sqlite_query(data_dir, "PRAGMA integrity_check"), "ok") << "round " << round;
  const auto connections = lines(sqlite_query(data_dir, "SELECT id FROM connections"));
  const auto workspaces = lines(sqlite_query(data_dir, "SELECT id FROM workspaces"));
  const auto sources = lines(sqlite_query(data_dir, "SELECT id || ' ' || connection_id FROM sources"));
  std::lock_guard lock(acknowledged.mutex);
  for (const auto& [id, org] : acknowledged.connections)
    EXPECT_EQ(connections.count(id), 1u) << "round " << round << ": acknowledged flow lost: " << id;
  for (const auto& [id, org] : acknowledged.workspaces)
    EXPECT_EQ(workspaces.count(id), 1u) << "round " << round << ": acknowledged workspace lost: " << id;
  for (const auto& [id, connection] : acknowledged.consumed)
    EXPECT_EQ(sources.count(std::string(id).append(" ").append(connection)), 1u)
        << "round " << round << ": acknowledged source lost: " << id;
  // A source and the consumption of its flow are one write: never one without the other.
  EXPECT_EQ(sqlite_query(data_dir, "SELECT count(*) FROM sources s LEFT JOIN connections c ON c.id = s.connection_id "
                                   "WHERE c.id IS NULL OR c.status != 'consumed' OR c.source_id != s.id"),
            "0")
      << "round " << round;
  EXPECT_EQ(sqlite_query(data_dir, "SELECT count(*) FROM connections c LEFT JOIN sources s ON s.id = c.source_id "
                                   "WHERE c.status = 'consumed' AND s.id IS NULL"),
            "0")
      << "round " << round;
}

TEST(CrashSafety, KillNineDuringWriteBurstsTenTimesLosesNoAcknowledgedWrite) {
  TempDir work("connector-crash");
  ProviderDouble provider(work.path());
  const auto data_dir = work.path() / "data";
  const unsigned seed = std::random_device{}();
  std::mt19937 random(seed);
  std::cout << "kill delays from seed " << seed << "\n";

  Acknowledged acknowledged;
  std::map<std::string, std::string> keys; // org -> its key
  for (int round = 1; round <= kRounds; ++round) {
    HostProcess host(work.path() / ("round-" + std::to_string(round)), &provider, {{}, data_dir});
    const Watchdog watchdog(kTestDeadline, {host.process().pid()});
    // An organization per round, so a per-organization cap on pending flows cannot refuse a burst.
    const std::string org = "org_crash_" + std::to_string(round);
    const std::string key = host.create_key(org);
    keys[org] = key;
    const std::string workspace = host.create_workspace(org, key);
    acknowledged.add(acknowledged.workspaces, workspace, org);
    std::deque<std::string> flows = authorized_flows(host, org, key, kAuthorizedFlowsPerRound, acknowledged);
    std::mutex flows_mutex;

    acknowledged.this_round = 0;
    std::atomic<bool> over = false;
    std::vector<std::thread> writers;
    for (int kind = 0; kind < 3; ++kind) {
      for (int w = 0; w < kWritersPerKind; ++w) {
        writers.emplace_back([&, kind, w] {
          write_until_the_host_dies(host, org, key, workspace, kind, kind * kWritersPerKind + w, flows, flows_mutex,
                                    acknowledged, over);
        });
      }
    }
    const int kill_after = std::uniform_int_distribution<int>(kWritesBeforeKill, 4 * kWritesBeforeKill)(random);
    const auto burst_deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (acknowledged.this_round < kill_after && std::chrono::steady_clock::now() < burst_deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    const int acknowledged_before_kill = acknowledged.this_round;
    const int in_flight_at_kill = acknowledged.in_flight;
    const int exit_code = host.process().stop(SIGKILL);
    over = true;
    for (auto& writer : writers)
      writer.join();
    ASSERT_EQ(exit_code, 128 + SIGKILL) << "round " << round << ": the host was not killed mid-burst";
    ASSERT_GE(acknowledged_before_kill, kWritesBeforeKill) << "round " << round << ": the burst did not get going";
    std::cout << "round " << round << ": killed after " << acknowledged_before_kill << " acknowledged writes, with "
              << in_flight_at_kill << " in flight; " << kAuthorizedFlowsPerRound - static_cast<int>(flows.size())
              << " of " << kAuthorizedFlowsPerRound << " source creations started\n";
    ASSERT_FALSE(watchdog.fired()) << "round " << round << " hung; the host was killed by the watchdog";

    expect_the_file_holds_everything(data_dir, acknowledged, round);
    if (HasFailure()) break;
  }
  {
    std::lock_guard lock(acknowledged.mutex);
    EXPECT_TRUE(acknowledged.surprises.empty())
        << acknowledged.surprises.size() << " unexpected answers, e.g. " << acknowledged.surprises.front();
    EXPECT_FALSE(acknowledged.sources.empty()) << "no source creation was acknowledged in any burst";
  }

  // After the last kill, a host started on the same folder serves every acknowledged write.
  HostProcess host(work.path() / "after", &provider, {{}, data_dir});
  const Watchdog watchdog(kTestDeadline, {host.process().pid()});
  const auto found = [&](const std::string& org, const std::string& path) {
    const auto answer = api_get(host.api(org) + path, keys.at(org));
    return answer.status == 200 ? ::testing::AssertionSuccess()
                                : ::testing::AssertionFailure() << path << ": " << answer.status << " " << answer.body;
  };
  std::lock_guard lock(acknowledged.mutex);
  for (const auto& [id, org] : acknowledged.connections)
    EXPECT_TRUE(found(org, "/connections/" + id));
  for (const auto& [id, org] : acknowledged.workspaces)
    EXPECT_TRUE(found(org, "/workspaces/" + id));
  for (const auto& [id, org] : acknowledged.sources)
    EXPECT_TRUE(found(org, "/sources/" + id));
  std::cout << "acknowledged over " << kRounds << " kills: " << acknowledged.connections.size() << " flows, "
            << acknowledged.workspaces.size() << " workspaces, " << acknowledged.sources.size() << " sources\n";
  EXPECT_EQ(sqlite_query(data_dir, "PRAGMA integrity_check"), "ok");
}

} // namespace
