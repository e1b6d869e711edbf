// The disk fills up under the running host: every request that must write is refused with 503
// STORAGE_FULL in the error envelope, no write is half done, the file stays intact, reads go on,
// the host stays up, and once there is room again the same writes succeed without a restart.
//
// Two ways to fill the disk, each a test:
// - the host's file size limit (RLIMIT_FSIZE) is lowered to 0 while it runs (prlimit(2), no
//   privilege needed for one's own processes): every write fails with EFBIG, and the signal that
//   would otherwise kill the host (SIGXFSZ) is ignored by it. Runs anywhere.
// - the data folder is on a small tmpfs this test mounts, then filled with a file: SQLite's
//   appends fail with ENOSPC, as on a real full disk. Mounting needs CAP_SYS_ADMIN (root on a
//   machine or a privileged container); without it that test is skipped and says why.
#include "integration/flow_driver.hpp"
#include "support/watchdog.hpp"

#include <gmock/gmock.h>

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <mutex>
#include <system_error>
#include <thread>

using namespace connector::testing;

namespace {

constexpr std::chrono::seconds kTestDeadline{100};

std::string error_text(int error) { return std::error_code(error, std::generic_category()).message(); }
constexpr int kWriters = 8;
constexpr int kWritesPerWriter = 6;

// What the store holds, row by row (the columns a write would change), for before/after checks.
std::string stored_rows(const std::filesystem::path& data_dir) {
  return sqlite_query(data_dir, "SELECT 'connection', id, status, source_id, version FROM connections "
                                "UNION ALL SELECT 'workspace', id, name, '', updated_at FROM workspaces "
                                "UNION ALL SELECT 'source', id, status, connection_id, version FROM sources "
                                "UNION ALL SELECT 'key', id, organization_id, '', 0 FROM api_keys ORDER BY 1, 2");
}

class DiskFullTest : public ::testing::Test {
protected:
  // Starts the host on `data_dir` and makes what the test reads and writes while the disk is
  // full: a workspace, a source, and flows authorized but not yet turned into sources.
  void start(const std::filesystem::path& data_dir) {
    provider_ = std::make_unique<ProviderDouble>(work_.path());
    host_ = std::make_unique<HostProcess>(work_.path(), provider_.get(), HostOptions{{}, data_dir});
    watchdog_ = std::make_unique<Watchdog>(kTestDeadline, std::vector<int>{host_->process().pid()});
    key_ = host_->create_key(org_);
    workspace_ = host_->create_workspace(org_, key_);
    source_ = run_flow(*host_, org_, key_, workspace_, github_definition, "made before the disk filled").source_id();
    ASSERT_FALSE(source_.empty());
    for (int i = 0; i < kWriters; ++i)
      authorized_.push_back(authorized_flow());
  }

  void TearDown() override {
    if (watchdog_) {
      EXPECT_FALSE(watchdog_->fired()) << "the test hung; the host was killed";
    }
    watchdog_.reset();
    if (HasFailure() && host_) std::cerr << "host log:\n" << host_->process().stderr_text() << "\n";
  }

  std::string authorized_flow() const {
    const auto started = api_post(host_->api(org_) + "/sources/authorize", key_,
                                  {{"slug", "github"}, {"redirect_url", client_redirect}});
    EXPECT_EQ(started.status, 200) << started.body;
    const std::string back = consent_and_callback(started.json().value("authorization_url", ""));
    EXPECT_EQ(query_param(back, "status"), "success") << back;
    return started.json().value("connection_id", "");
  }

  // Writer `writer`'s n-th write: each kind of write the API has, in turn.
  HttpResult write(int writer, int n) const {
    switch ((writer + n) % 4) {
    case 0:
      return api_post(host_->api(org_) + "/sources/authorize", key_,
                      {{"slug", "github"}, {"redirect_url", client_redirect}});
    case 1: return api_post(host_->api(org_) + "/workspaces", key_, {{"name", "new " + std::to_string(writer)}});
    case 2: return api_call("PATCH", host_->api(org_) + "/workspaces/" + workspace_, key_, {{"name", "renamed"}});
    default:
      return api_post(host_->api(org_) + "/sources/oauth/callback", key_,
                      {{"connection_id", authorized_[static_cast<std::size_t>(writer)]},
                       {"workspace_id", workspace_},
                       {"source_definition_id", github_definition},
                       {"source_name", "made while the disk was full"}});
    }
  }

  // The whole check, around `fill` (makes the disk full) and `make_room` (gives space back).
  void writes_refused_while_full_and_accepted_after(const std::function<void()>& fill,
                                                    const std::function<void()>& make_room) {
    const auto data_dir = host_->data_dir();
    const std::string before = stored_rows(data_dir);
    fill();

    // A burst of writes from many connections at once: each one refused, precisely.
    std::mutex mutex;
    std::vector<std::string> wrong;
    run_concurrently(kWriters, [&](int writer) {
      for (int n = 0; n < kWritesPerWriter; ++n) {
        std::string problem;
        try {
          const auto refused = is_error(write(writer, n), 503, "STORAGE_FULL");
          if (!refused) problem = refused.message();
        } catch (const std::exception& error) {
          problem = std::string("no answer (did the host die?): ") + error.what();
        }
        if (!problem.empty()) {
          std::lock_guard lock(mutex);
          wrong.push_back(problem);
        }
      }
    });
    EXPECT_TRUE(wrong.empty()) << wrong.size() << " of " << kWriters * kWritesPerWriter
                               << " writes were not refused with 503 STORAGE_FULL, e.g.: " << wrong.front();

    // Reads go on, the host is up, and nothing of the refused writes reached the file.
    EXPECT_EQ(http_request("GET", host_->base_url() + "/healthz").status, 200);
    const auto workspace = api_get(host_->api(org_) + "/workspaces/" + workspace_, key_);
    EXPECT_EQ(workspace.status, 200) << workspace.body;
    EXPECT_EQ(workspace.json()["name"], "Test workspace");
    const auto source = api_get(host_->api(org_) + "/sources/" + source_, key_);
    EXPECT_EQ(source.status, 200) << source.body;
    EXPECT_EQ(source.json()["name"], "made before the disk filled");
    const auto flow = api_get(host_->api(org_) + "/connections/" + authorized_.front(), key_);
    EXPECT_EQ(flow.status, 200) << flow.body;
    EXPECT_EQ(flow.json()["status"], "authorized") << "a refused source creation must not use up its flow";
    EXPECT_EQ(api_get(host_->api(org_) + "/workspaces", key_).status, 200);
    EXPECT_TRUE(host_->process().running()) << "the host died while the disk was full";
    EXPECT_EQ(sqlite_query(data_dir, "PRAGMA integrity_check"), "ok");
    EXPECT_EQ(stored_rows(data_dir), before) << "a refused write changed the store";

    // Room again: the same writes succeed at once, on the same running host.
    make_room();
    for (int writer = 0; writer < kWriters; ++writer) {
      const auto answer = write(writer, 3 - writer % 4); // each writer's flow becomes a source now
      EXPECT_TRUE(answer.status == 200 || answer.status == 201) << "after room came back: " << answer.body;
    }
    for (int kind = 0; kind < 3; ++kind) {
      const auto answer = write(0, kind);
      EXPECT_TRUE(answer.status == 200 || answer.status == 201) << "after room came back: " << answer.body;
    }
    EXPECT_EQ(sqlite_query(data_dir, "SELECT count(*) FROM sources WHERE name = 'made while the disk was full'"),
              std::to_string(kWriters));
    EXPECT_EQ(sqlite_query(data_dir, "PRAGMA integrity_check"), "ok");
    EXPECT_TRUE(host_->process().running());
  }

  TempDir work_{"connector-disk-full"};
  const std::string org_ = "org_disk_full";
  std::unique_ptr<ProviderDouble> provider_;
  std::unique_ptr<HostProcess> host_;
  std::unique_ptr<Watchdog> watchdog_;
  std::string key_;
  std::string workspace_;
  std::string source_;
  std::vector<std::string> authorized_; // one per writer
};

TEST_F(DiskFullTest, AtTheFileSizeLimitWritesAre503AndTheHostRecovers) {
  start(work_.path() / "data");
  if (HasFatalFailure()) return;
  const pid_t pid = host_->process().pid();
  rlimit before{};
  ASSERT_EQ(::prlimit(pid, RLIMIT_FSIZE, nullptr, &before), 0) << error_text(errno);
  writes_refused_while_full_and_accepted_after(
      [&] {
        // The soft limit alone: the host could raise it back itself, but a lowered hard limit
        // could only be raised again with CAP_SYS_RESOURCE.
        const rlimit none{0, before.rlim_max};
        ASSERT_EQ(::prlimit(pid, RLIMIT_FSIZE, &none, nullptr), 0) << error_text(errno);
      },
      [&] { ASSERT_EQ(::prlimit(pid, RLIMIT_FSIZE, &before, nullptr), 0) << error_text(errno); });
}

// The writes that are not plain API calls: a token refresh whose new tokens cannot be stored
// is refused like any other write (503 STORAGE_FULL, not a 500), and the browser that comes
// back from the provider gets a page saying so (503), not the API's JSON. Once there is room,
// the stored tokens refresh again.
TEST_F(DiskFullTest, ARefreshAndABrowserCallbackThatCannotBeStoredAre503) {
  start(work_.path() / "data");
  if (HasFatalFailure()) return;
  const std::string reader = host_->create_key(org_, credentials_read_permissions);
  // Google's refresh answers keep the refresh token, so the stored one still works afterwards.
  const auto flow = run_flow(*host_, org_, reader, workspace_, google_sheets_definition);
  ASSERT_FALSE(flow.source_id().empty());
  // A user who consented at the provider while the disk had room, and comes back once it is full.
  const auto started =
      api_post(host_->api(org_) + "/sources/authorize", key_, {{"slug", "github"}, {"redirect_url", client_redirect}});
  ASSERT_EQ(started.status, 200) << started.body;
  const auto consent =
      http_request("GET", started.json().value("authorization_url", ""), {}, {}, (tls_dir() / "ca.pem").string());
  ASSERT_EQ(consent.status, 302) << consent.body;
  const pid_t pid = host_->process().pid();
  rlimit before{};
  ASSERT_EQ(::prlimit(pid, RLIMIT_FSIZE, nullptr, &before), 0) << error_text(errno);
  const rlimit none{0, before.rlim_max};
  ASSERT_EQ(::prlimit(pid, RLIMIT_FSIZE, &none, nullptr), 0) << error_text(errno);

  EXPECT_TRUE(is_error(request_access_token(*host_, org_, reader, flow.source_id(), true), 503, "STORAGE_FULL"));
  const auto back = http_request("GET", consent.header("location"));
  EXPECT_EQ(back.status, 503) << back.body;
  EXPECT_THAT(back.header("content-type"), ::testing::HasSubstr("text/html"));
  EXPECT_THAT(back.body, ::testing::HasSubstr("out of storage"));
  EXPECT_TRUE(host_->process().running());

  ASSERT_EQ(::prlimit(pid, RLIMIT_FSIZE, &before, nullptr), 0) << error_text(errno);
  const auto refreshed = request_access_token(*host_, org_, reader, flow.source_id(), true);
  EXPECT_EQ(refreshed.status, 200) << refreshed.body;
  EXPECT_EQ(sqlite_query(host_->data_dir(), "PRAGMA integrity_check"), "ok");
}

// A tmpfs mounted for the test, unmounted (lazily, in case something still holds it) at the end.
class TmpfsMount {
public:
  explicit TmpfsMount(const std::filesystem::path& where) : where_(where) {
    std::filesystem::create_directories(where_);
    if (::mount("connector-disk-full", where_.c_str(), "tmpfs", MS_NOSUID | MS_NODEV, "size=64m,mode=0700") != 0) {
      error_ = error_text(errno);
    }
  }
  ~TmpfsMount() {
    if (error_.empty()) ::umount2(where_.c_str(), MNT_DETACH);
  }
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;
  const std::string& error() const { return error_; }

private:
  std::filesystem::path where_;
  std::string error_;
};

TEST_F(DiskFullTest, OnAFullFileSystemWritesAre503AndTheHostRecovers) {
  const auto mount_point = work_.path() / "small-fs";
  const TmpfsMount small_fs(mount_point);
  if (!small_fs.error().empty()) GTEST_SKIP() << "cannot mount a tmpfs here (" << small_fs.error() << ")";
  start(mount_point / "data");
  if (HasFatalFailure()) return;
  const auto filler = mount_point / "filler";
  writes_refused_while_full_and_accepted_after(
      [&] {
        // Whatever room is left goes to one file, as when another program fills the disk.
        const int fd = ::open(filler.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ASSERT_GE(fd, 0) << error_text(errno);
        const std::string block(1 << 16, 'x');
        ssize_t wrote = 0;
        do {
          wrote = ::write(fd, block.data(), block.size());
        } while (wrote > 0);
        const int error = errno;
        ::close(fd);
        ASSERT_EQ(error, ENOSPC) << error_text(error);
      },
      [&] { std::filesystem::remove(filler); });
  host_.reset(); // before the file system goes
}

} // namespace
