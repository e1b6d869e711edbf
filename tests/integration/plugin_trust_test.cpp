// What the real host refuses to load, at start and when files are dropped in while it runs
// (issue 17, finding 5 and the descriptor of finding 7): a plugins folder or file that a user
// other than the host's or root can write, a symbolic link out of the folder, bytes that are
// not a shared library for this machine exporting the negotiation function, and a descriptor
// with a flag of the wrong type. Each refusal names the file and the reason in the log, in
// GET /v1/admin/plugins and in `connector-host plugins`, and the other plugins keep serving.
//
// The "marked" test plugins leave a trace when any of their code runs (a constructor, which
// the dynamic loader runs inside dlopen); a refused file must leave none. CI runs as root: a
// file owned by another user is made with chown to nobody (skipped when not root).
#include "integration/flow_driver.hpp"
#include "integration/host_fixture.hpp"

#include <gmock/gmock.h>

#include <elf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <thread>

using namespace connector::testing;
using namespace std::chrono_literals;
using ::testing::HasSubstr;

namespace fs = std::filesystem;

namespace {

constexpr uid_t nobody = 65534;

fs::path test_plugin(const std::string& name) { return fs::path(CONNECTOR_TEST_BAD_PLUGIN_DIR) / (name + ".so"); }

nlohmann::json plugin_in(const nlohmann::json& view, const std::string& slug) {
  if (!view.is_object() || !view.contains("plugins")) return nullptr;
  for (const auto& entry : view["plugins"]) {
    if (entry.value("slug", "") == slug) return entry;
  }
  return nullptr;
}

// The admin view's refusal of `file` (a path, compared by name), or null.
nlohmann::json refusal_in(const nlohmann::json& view, const fs::path& file) {
  if (!view.is_object() || !view.contains("refusals")) return nullptr;
  for (const auto& refusal : view["refusals"]) {
    if (fs::path(refusal.value("file", "")).filename() == file.filename()) return refusal;
  }
  return nullptr;
}

class PluginTrust : public ::testing::Test {
protected:
  void SetUp() override {
    work_ = std::make_unique<TempDir>("connector-trust");
    ::chmod(work_->path().c_str(), 0755);
    plugins_ = work_->path() / "plugins";
    staging_ = work_->path() / "staging";
    for (const auto& folder : {plugins_, staging_}) {
      fs::create_directories(folder);
      ::chmod(folder.c_str(), 0755);
    }
    for (const char* name : {"github.so", "google-sheets.so"})
      fs::copy_file(fs::path(CONNECTOR_TEST_PLUGIN_DIR) / name, plugins_ / name);
    mark_ = work_->path() / "constructor-ran";
  }
  void TearDown() override {
    if (HasFailure() && host_) std::cerr << "--- host log ---\n" << host_->process().stderr_text() << "\n";
    host_.reset();
    work_.reset();
  }

  void start_host(const std::string& watch = "inotify") {
    HostOptions options;
    options.plugins_dir = plugins_;
    options.environment["CONNECTOR_TEST_CONSTRUCTOR_MARK"] = mark_.string();
    if (watch == "poll") {
      options.environment["CONNECTOR_PLUGIN_WATCH"] = "poll";
      options.environment["CONNECTOR_PLUGIN_POLL_MS"] = "200";
    }
    host_ = std::make_unique<HostProcess>(work_->path(), nullptr, options);
    admin_key_ = host_->create_key("org_trust", "admin");
    // A key made while the host runs takes effect within 0.1 s.
    ASSERT_TRUE(eventually([&] { return admin_view().is_object(); })) << "the admin key is not accepted";
  }

  nlohmann::json admin_view() const {
    const auto result =
        http_request("GET", host_->base_url() + "/v1/admin/plugins", {{"Authorization", "Bearer " + admin_key_}});
    return result.status == 200 ? result.json() : nlohmann::json();
  }
  nlohmann::json wait_for_refusal(const fs::path& file) const {
    nlohmann::json refusal;
    eventually([&] { return (refusal = refusal_in(admin_view(), file)).is_object(); });
    return refusal;
  }
  bool serves(const std::string& slug) const {
    return eventually([&] { return plugin_in(admin_view(), slug).is_object(); });
  }
  bool healthy() const {
    return host_->process().running() && http_request("GET", host_->base_url() + "/healthz").status == 200;
  }
  bool constructor_ran() const { return fs::exists(mark_); }

  // `connector-host plugins --plugins-dir`: the same checks without a running host.
  std::string cli_report() const {
    const auto result = run_command({host_binary().string(), "plugins", "--plugins-dir", plugins_.string()},
                                    {{"CONNECTOR_TEST_CONSTRUCTOR_MARK", mark_.string()}});
    EXPECT_EQ(result.exit_code, 0) << result.output;
    return result.output;
  }

  // A copy of test plugin `name` in the staging folder (same file system) as `as`, with `mode`.
  fs::path stage(const fs::path& source, const std::string& as, mode_t mode = 0644) const {
    const fs::path file = staging_ / as;
    fs::copy_file(source, file, fs::copy_options::overwrite_existing);
    ::chmod(file.c_str(), mode);
    return file;
  }
  // Moves a staged file into the plugins folder in one step, owner and mode as staged: the
  // host never sees it half-made.
  fs::path move_in(const fs::path& staged) const {
    const fs::path target = plugins_ / staged.filename();
    fs::rename(staged, target);
    return target;
  }

  std::unique_ptr<TempDir> work_;
  fs::path plugins_;
  fs::path staging_;
  fs::path mark_;
  std::unique_ptr<HostProcess> host_;
  std::string admin_key_;
};

class PluginTrustWatched : public PluginTrust, public ::testing::WithParamInterface<std::string> {};
INSTANTIATE_TEST_SUITE_P(PluginTrust, PluginTrustWatched, ::testing::Values("inotify", "poll"),
                         [](const ::testing::TestParamInfo<std::string>& watch) { return watch.param; });

TEST_F(PluginTrust, AFolderOthersCanWriteLoadsNothingUntilFixed) {
  ::chmod(plugins_.c_str(), 0775);
  start_host();
  const auto view = admin_view();
  EXPECT_TRUE(view["plugins"].empty()) << view.dump();
  const auto refusal = refusal_in(view, plugins_);
  ASSERT_TRUE(refusal.is_object()) << view.dump();
  EXPECT_THAT(refusal.value("reason", ""),
              HasSubstr(plugins_.string() + ": the plugins folder is writable by its group"));
  EXPECT_THAT(refusal.value("reason", ""), HasSubstr("(mode 0775)"));
  EXPECT_TRUE(host_->process().wait_for_stderr("writable by its group", 2s)) << "the refusal is not in the log";
  EXPECT_TRUE(healthy());
  EXPECT_THAT(cli_report(),
              HasSubstr("refused: " + plugins_.string() + ": the plugins folder is writable by its group"));

  // Fixed while the host runs: the watcher sees the folder's mode change and loads.
  ::chmod(plugins_.c_str(), 0755);
  EXPECT_TRUE(serves("github")) << admin_view().dump();
  EXPECT_TRUE(refusal_in(admin_view(), plugins_).is_null()) << admin_view().dump();
}

TEST_F(PluginTrust, FilesOthersCanWriteOrOwnAreRefusedAtStartBeforeRunning) {
  move_in(stage(test_plugin("marked"), "world-writable.so", 0646));
  move_in(stage(test_plugin("marked"), "group-writable.so", 0664));
  const bool as_root = ::geteuid() == 0;
  if (as_root) {
    const fs::path staged = stage(test_plugin("marked"), "nobodys.so");
    ASSERT_EQ(::chown(staged.c_str(), nobody, static_cast<gid_t>(-1)), 0);
    move_in(staged);
  }
  start_host();
  const auto view = admin_view();
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"world-writable.so", "not loaded: it is writable by every user (mode 0646)"},
      {"group-writable.so", "not loaded: it is writable by its group"},
      {"nobodys.so", "not loaded: it is owned by uid 65534"}};
  const std::string cli = cli_report();
  for (const auto& [name, reason] : expected) {
    if (name == "nobodys.so" && !as_root) continue;
    SCOPED_TRACE(name);
    const auto refusal = refusal_in(view, name);
    ASSERT_TRUE(refusal.is_object()) << view.dump();
    EXPECT_THAT(refusal.value("reason", ""), HasSubstr((plugins_ / name).string() + ": " + reason));
    EXPECT_THAT(host_->process().stderr_text(), HasSubstr((plugins_ / name).string() + ": " + reason));
    EXPECT_THAT(cli, HasSubstr("refused: " + (plugins_ / name).string() + ": " + reason));
  }
  EXPECT_TRUE(plugin_in(view, "marked").is_null()) << view.dump();
  EXPECT_TRUE(plugin_in(view, "github").is_object()) << view.dump();
  EXPECT_FALSE(constructor_ran()) << "a refused file's code ran";
  EXPECT_TRUE(healthy());
}

TEST_P(PluginTrustWatched, DroppedInFilesGetTheSameChecks) {
  start_host(GetParam());
  const fs::path outside = work_->path() / "outside";
  fs::create_directories(outside);
  fs::copy_file(test_plugin("marked"), outside / "marked.so");
  std::string wrong_class = file_bytes(test_plugin("marked"));
  wrong_class[EI_CLASS] = ELFCLASS32;
  std::ofstream(staging_ / "wrong-class.so", std::ios::binary) << wrong_class;
  std::ofstream(staging_ / "text.so", std::ios::binary) << "text, not a library\n";

  struct Drop {
    std::function<fs::path()> make; // puts the file in the plugins folder
    std::string reason;
  };
  std::vector<Drop> drops = {
      {[&] { return move_in(stage(test_plugin("marked"), "world-writable.so", 0666)); },
       "it is writable by every user (mode 0666)"},
      {[&] { return move_in(stage(test_plugin("marked"), "group-writable.so", 0664)); }, "it is writable by its group"},
      {[&] {
         fs::create_symlink(outside / "marked.so", plugins_ / "link-out.so");
         return plugins_ / "link-out.so";
       },
       "it is a symbolic link to " + (outside / "marked.so").string() + ", outside the plugins folder: not followed"},
      {[&] { return move_in(staging_ / "wrong-class.so"); },
       "not a loadable shared library: an ELF file of the wrong class (32-bit"},
      {[&] { return move_in(staging_ / "text.so"); }, "not a loadable shared library: not an ELF file"},
      {[&] { return move_in(stage(test_plugin("marked-without-export"), "no-export.so")); },
       "not a loadable shared library: does not export connector_plugin_negotiate"},
  };
  if (::geteuid() == 0) {
    drops.push_back({[&] {
                       const fs::path staged = stage(test_plugin("marked"), "nobodys.so");
                       EXPECT_EQ(::chown(staged.c_str(), nobody, static_cast<gid_t>(-1)), 0);
                       return move_in(staged);
                     },
                     "it is owned by uid 65534"});
  }
  for (const auto& drop : drops) {
    const fs::path file = drop.make();
    SCOPED_TRACE(file.filename().string());
    const auto refusal = wait_for_refusal(file);
    ASSERT_TRUE(refusal.is_object()) << admin_view().dump();
    EXPECT_THAT(refusal.value("reason", ""), HasSubstr(file.string() + ": "));
    EXPECT_THAT(refusal.value("reason", ""), HasSubstr(drop.reason));
    ASSERT_TRUE(healthy());
  }
  EXPECT_FALSE(constructor_ran()) << "a refused file's code ran";
  EXPECT_TRUE(plugin_in(admin_view(), "github").is_object());

  // The control: the same plugin, trusted, loads, and its constructor runs.
  move_in(stage(test_plugin("marked"), "marked.so"));
  EXPECT_TRUE(serves("marked")) << admin_view().dump();
  EXPECT_TRUE(constructor_ran());
}

TEST_P(PluginTrustWatched, AServedFileThatOthersCanWriteIsRefusedAndItsLoadedBuildKeepsServing) {
  fs::copy_file(test_plugin("marked"), plugins_ / "marked.so");
  start_host(GetParam());
  const auto before = plugin_in(admin_view(), "marked");
  ASSERT_TRUE(before.is_object());
  ::chmod((plugins_ / "marked.so").c_str(), 0666);
  const auto refusal = wait_for_refusal(plugins_ / "marked.so");
  ASSERT_TRUE(refusal.is_object()) << admin_view().dump();
  EXPECT_THAT(refusal.value("reason", ""), HasSubstr("writable by every user"));
  const auto still = plugin_in(admin_view(), "marked");
  EXPECT_EQ(still.value("build_id", ""), before.value("build_id", "")) << "the code in memory was never at risk";
}

TEST_F(PluginTrust, ADescriptorOfTheWrongTypeAtStartIsRefusedAndTheRestServe) {
  fs::copy_file(test_plugin("wrong-type-descriptor"), plugins_ / "wrong-type.so");
  start_host(); // it used to stop here: the parser threw on "supports_pkce": "yes"
  const auto view = admin_view();
  const auto refusal = refusal_in(view, "wrong-type.so");
  ASSERT_TRUE(refusal.is_object()) << view.dump();
  EXPECT_THAT(refusal.value("reason", ""), HasSubstr("invalid descriptor: \"supports_pkce\" is not a boolean"));
  EXPECT_TRUE(plugin_in(view, "github").is_object());
  EXPECT_TRUE(plugin_in(view, "google-sheets").is_object());
  EXPECT_TRUE(healthy());
}

TEST_P(PluginTrustWatched, ADescriptorOfTheWrongTypeDroppedInDoesNotBlockLaterChanges) {
  start_host(GetParam());
  fs::copy_file(test_plugin("wrong-type-descriptor"), staging_ / "wrong-type.so");
  move_in(staging_ / "wrong-type.so");
  const auto refusal = wait_for_refusal(plugins_ / "wrong-type.so");
  ASSERT_TRUE(refusal.is_object()) << admin_view().dump();
  EXPECT_THAT(refusal.value("reason", ""), HasSubstr("\"supports_pkce\" is not a boolean"));
  ASSERT_TRUE(healthy());

  // A good plugin dropped in afterwards still loads, beside the refused file.
  move_in(stage(test_plugin("marked"), "marked.so"));
  EXPECT_TRUE(serves("marked")) << admin_view().dump();
  EXPECT_TRUE(refusal_in(admin_view(), plugins_ / "wrong-type.so").is_object());
  fs::remove(plugins_ / "github.so");
  EXPECT_TRUE(eventually([&] { return plugin_in(admin_view(), "github").is_null(); })) << admin_view().dump();
}

} // namespace
