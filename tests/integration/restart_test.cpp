// A restart loses nothing: a flow started before it completes after it, and sources stay.
#include "integration/host_fixture.hpp"

#include <gmock/gmock.h>

#include <signal.h>

using namespace connector::testing;

namespace {

// The same path and query on another host address (the port changes across restarts).
std::string rebase(const std::string& url, const std::string& new_base) {
  const auto path_start = url.find('/', url.find("://") + 3);
  return new_base + url.substr(path_start);
}

} // namespace

TEST(HostRestart, PendingFlowsResumeAndSourcesStay) {
  TempDir work("connector-restart");
  ProviderDouble provider(work.path());
  const auto data_dir = work.path() / "data";
  const std::string org = "org_restart";

  std::string key;
  std::string connection_id;
  std::string callback_url;
  {
    HostProcess host(work.path(), &provider, {{}, data_dir});
    key = host.create_key(org);
    const auto started =
        api_post(host.api(org) + "/sources/authorize", key, {{"slug", "github"}, {"redirect_url", client_redirect}});
    ASSERT_EQ(started.status, 200) << started.body;
    connection_id = started.json()["connection_id"];
    const auto consent =
        http_request("GET", started.json()["authorization_url"], {}, {}, (tls_dir() / "ca.pem").string());
    ASSERT_EQ(consent.status, 302);
    callback_url = consent.header("location");
    EXPECT_EQ(host.process().stop(SIGTERM), 0) << "a clean stop exits 0";
  }

  std::string source_id;
  {
    HostProcess host(work.path(), &provider, {{}, data_dir});
    const auto back = http_request("GET", rebase(callback_url, host.base_url()));
    ASSERT_EQ(back.status, 302) << back.body;
    EXPECT_EQ(query_param(back.header("location"), "status"), "success");
    const std::string workspace = host.create_workspace(org, key);
    const auto created = api_post(host.api(org) + "/sources/oauth/callback", key,
                                  {{"connection_id", connection_id},
                                   {"workspace_id", workspace},
                                   {"source_definition_id", "ef69ef6e-aa7f-4af1-a01d-ef775033524e"},
                                   {"source_name", "survives restarts"}});
    ASSERT_EQ(created.status, 200) << created.body;
    source_id = created.json()["source_id"];
    EXPECT_EQ(host.process().stop(SIGTERM), 0);
  }

  HostProcess host(work.path(), &provider, {{}, data_dir});
  const auto fetched = api_get(host.api(org) + "/sources/" + source_id, key);
  ASSERT_EQ(fetched.status, 200) << fetched.body;
  EXPECT_EQ(fetched.json()["name"], "survives restarts");
}
