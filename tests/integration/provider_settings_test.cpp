// Provider settings given as CONNECTOR_<SLUG>_<NAME>_FILE, through the real host (issue 17,
// finding 7): a file that cannot be read stops the start with a message naming the variable
// and the file (never a setting's value); a readable one configures the provider. The README:
// "a file that cannot be read stops the start".
#include "integration/host_fixture.hpp"

#include <gmock/gmock.h>

#include <chrono>
#include <csignal>
#include <fstream>
#include <thread>

using namespace connector::testing;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

namespace fs = std::filesystem;

namespace {

class ProviderSettingFiles : public ::testing::Test {
protected:
  void SetUp() override { work_ = std::make_unique<TempDir>("connector-setting-files"); }

  // Runs `connector-host serve` with `environment` until it exits (or 20 s pass); its exit code.
  int serve_until_exit(const std::map<std::string, std::string>& environment, std::string& log) const {
    ChildProcess host({host_binary().string(), "serve", "--listen", "127.0.0.1:0", "--data-dir",
                       (work_->path() / "data").string(), "--plugins-dir", CONNECTOR_TEST_PLUGIN_DIR},
                      environment, work_->path(), "host");
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (host.running() && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(20ms);
    const bool listened = host.wait_for_stderr("\"listening\"", 0ms).has_value();
    const int code = host.stop(SIGTERM);
    log = host.stderr_text();
    return listened ? -1 : code;
  }

  std::unique_ptr<TempDir> work_;
};

TEST_F(ProviderSettingFiles, AFileThatCannotBeReadStopsTheStart) {
  const fs::path readable = work_->path() / "google-secret";
  std::ofstream(readable) << "google-secret-value-7d1f\n";
  fs::create_directories(work_->path() / "a-folder");
  for (const fs::path& unreadable : {work_->path() / "missing-secret", work_->path() / "a-folder"}) {
    SCOPED_TRACE(unreadable);
    std::string log;
    const int code = serve_until_exit({{"CONNECTOR_GITHUB_CLIENT_ID", "id"},
                                       {"CONNECTOR_GITHUB_CLIENT_SECRET_FILE", unreadable.string()},
                                       {"CONNECTOR_GOOGLE_SHEETS_CLIENT_ID", "id"},
                                       {"CONNECTOR_GOOGLE_SHEETS_CLIENT_SECRET_FILE", readable.string()}},
                                      log);
    EXPECT_EQ(code, 1) << "the host started (or hung) with an unreadable setting file:\n" << log;
    EXPECT_THAT(log, HasSubstr("CONNECTOR_GITHUB_CLIENT_SECRET_FILE: cannot read " + unreadable.string()));
    EXPECT_THAT(log, Not(HasSubstr("google-secret-value-7d1f"))) << "a setting's value reached the log";
  }
}

TEST_F(ProviderSettingFiles, AReadableFileConfiguresTheProvider) {
  const fs::path secret = work_->path() / "github-secret";
  std::ofstream(secret) << "github-secret-value-93ac\n";
  ChildProcess host({host_binary().string(), "serve", "--listen", "127.0.0.1:0", "--data-dir",
                     (work_->path() / "data").string(), "--plugins-dir", CONNECTOR_TEST_PLUGIN_DIR},
                    {{"CONNECTOR_GITHUB_CLIENT_ID", "id"}, {"CONNECTOR_GITHUB_CLIENT_SECRET_FILE", secret.string()}},
                    work_->path(), "host");
  ASSERT_TRUE(host.wait_for_stderr("\"listening\"", 20s)) << host.stderr_text();
  const auto ready = host.wait_for_stderr("\"plugin ready\"", 0ms);
  ASSERT_TRUE(ready) << host.stderr_text();
  EXPECT_THAT(*ready, HasSubstr("\"github\"")) << host.stderr_text();
  EXPECT_THAT(host.stderr_text(), Not(HasSubstr("github-secret-value-93ac")));
}

} // namespace
