// Live plugin reloading (issue 5, "drop-in") through the real host process: each test has its
// own plugins folder, starts a host on it and changes the folder while the host runs. The
// drop-in test provider (tests/test-plugins/dropin) comes in two builds of slug "dropin": v1
// (1.0.0) puts dropin_build=v1 in its consent URLs and names the account "dropin-v1" when it
// exchanges a code, v2 the same with "v2"; so a test sees which build served each step.
// Most tests run twice: with the inotify watcher (the default) and with CONNECTOR_PLUGIN_WATCH=poll.
#include "integration/flow_driver.hpp"
#include "integration/host_fixture.hpp"

#include <gmock/gmock.h>

#include <elf.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <functional>
#include <random>
#include <thread>

using namespace connector::testing;
using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

constexpr const char* dropin_definition = "d7a0b5c2-4e1f-4c3a-9b8d-0d10f1a2b3c4";
constexpr auto settle = 5s; // how long a test waits for a change it expects (the promise is < 1 s)

fs::path dropin_build(const std::string& build) {
  return fs::path(CONNECTOR_TEST_DROPIN_DIR) / ("dropin-" + build + ".so");
}
fs::path bad_plugin(const std::string& name) { return fs::path(CONNECTOR_TEST_BAD_PLUGIN_DIR) / name; }

long long milliseconds_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

ino_t inode_of(const fs::path& file) {
  struct stat info {};
  if (::stat(file.c_str(), &info) != 0) return 0;
  return info.st_ino;
}

void write_file(const fs::path& file, const std::string& bytes, std::ios::openmode mode = std::ios::trunc) {
  std::ofstream out(file, std::ios::binary | mode);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) throw std::runtime_error("cannot write " + file.string());
}

// Bytes no loader takes for a library (fixed seed: the same garbage every run).
std::string garbage_bytes() {
  std::mt19937 random(20240605);
  std::string bytes(8192, '\0');
  for (auto& byte : bytes)
    byte = static_cast<char>(random() & 0xFF);
  bytes[0] = 'G'; // never an ELF magic by chance
  return bytes;
}

// Where the loadable part of an ELF file ends (the end of its last PT_LOAD segment); a copy cut
// before that has headers that look right and code that is missing. The file size otherwise.
std::size_t loadable_extent(const std::string& bytes) {
  Elf64_Ehdr header{};
  if (bytes.size() < sizeof header) return bytes.size();
  std::memcpy(&header, bytes.data(), sizeof header);
  if (std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 || header.e_ident[EI_CLASS] != ELFCLASS64) {
    return bytes.size();
  }
  std::size_t extent = 0;
  for (unsigned i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr segment{};
    const std::size_t at = header.e_phoff + std::size_t{i} * header.e_phentsize;
    if (at + sizeof segment > bytes.size()) break;
    std::memcpy(&segment, bytes.data() + at, sizeof segment);
    if (segment.p_type == PT_LOAD) extent = std::max<std::size_t>(extent, segment.p_offset + segment.p_filesz);
  }
  return extent == 0 ? bytes.size() : std::min(extent, bytes.size());
}

// The entry of `slug` in the admin view's plugins, or null.
nlohmann::json plugin_in(const nlohmann::json& view, const std::string& slug) {
  if (!view.is_object() || !view.contains("plugins") || !view["plugins"].is_array()) return nullptr;
  nlohmann::json found = nullptr;
  for (const auto& entry : view["plugins"]) {
    if (entry.is_object() && entry.value("slug", "") == slug) found = entry;
  }
  return found;
}

int plugins_with_slug(const nlohmann::json& view, const std::string& slug) {
  if (!view.is_object() || !view.contains("plugins") || !view["plugins"].is_array()) return 0;
  return static_cast<int>(std::count_if(view["plugins"].begin(), view["plugins"].end(), [&](const nlohmann::json& e) {
    return e.is_object() && e.value("slug", "") == slug;
  }));
}

// The admin view's refusal of the file called `name` in the plugins folder, or null.
nlohmann::json refusal_in(const nlohmann::json& view, const std::string& name) {
  if (!view.is_object() || !view.contains("refusals") || !view["refusals"].is_array()) return nullptr;
  for (const auto& refusal : view["refusals"]) {
    if (refusal.is_object() && fs::path(refusal.value("file", "")).filename() == name) return refusal;
  }
  return nullptr;
}

// configuration.account_name of a source answer; empty when there is none.
std::string account_name_of(const HttpResult& source) {
  const auto body = source.json();
  if (!body.is_object() || !body.contains("configuration") || !body["configuration"].is_object()) return {};
  return body["configuration"].value("account_name", "");
}

bool names_definition(const nlohmann::json& definitions, const std::string& id) {
  if (!definitions.is_array()) return false;
  return std::any_of(definitions.begin(), definitions.end(), [&](const nlohmann::json& d) {
    return (d.is_string() && d.get<std::string>() == id) ||
           (d.is_object() && (d.value("source_definition_id", "") == id || d.value("id", "") == id));
  });
}

class PluginDropIn : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    suite_dir_ = std::make_unique<TempDir>("connector-dropin-suite");
    provider_ = std::make_unique<ProviderDouble>(suite_dir_->path());
  }
  static void TearDownTestSuite() {
    provider_.reset();
    suite_dir_.reset();
  }

  // A fresh plugins folder holding copies of the in-tree plugins (github, google-sheets).
  void SetUp() override {
    work_ = std::make_unique<TempDir>("connector-dropin");
    plugins_ = work_->path() / "plugins";
    fs::create_directories(plugins_);
    for (const char* name : {"github.so", "google-sheets.so"})
      fs::copy_file(fs::path(CONNECTOR_TEST_PLUGIN_DIR) / name, plugins_ / name);
  }
  void TearDown() override {
    if (HasFailure() && host_) std::cerr << "--- host log (tail) ---\n" << log_tail() << "\n";
    host_.reset();
    work_.reset();
  }

  // Starts the host on this test's folder: "inotify" (the default, no setting), "poll" (every
  // 200 ms) or "off"; makes a plain key, an admin key and a workspace.
  void start_host(const std::string& watch = "inotify") {
    HostOptions options;
    options.plugins_dir = plugins_;
    const std::string base = provider_->base_url();
    options.environment = {{"CONNECTOR_DROPIN_CLIENT_ID", "test-client-id"},
                           {"CONNECTOR_DROPIN_CLIENT_SECRET", "test-client-secret"},
                           {"CONNECTOR_DROPIN_AUTH_URI", base + "/o/oauth2/v2/auth"},
                           {"CONNECTOR_DROPIN_TOKEN_URI", base + "/token"}};
    if (watch == "poll") {
      options.environment["CONNECTOR_PLUGIN_WATCH"] = "poll";
      options.environment["CONNECTOR_PLUGIN_POLL_MS"] = "200";
    } else if (watch != "inotify") {
      options.environment["CONNECTOR_PLUGIN_WATCH"] = watch;
    }
    host_ = std::make_unique<HostProcess>(work_->path(), provider_.get(), options);
    key_ = host_->create_key(org_);
    admin_key_ = host_->create_key(org_, "sources admin");
    workspace_ = host_->create_workspace(org_, key_);
  }

  std::string log_tail() const {
    const std::string text = host_->process().stderr_text();
    return text.size() > 6000 ? text.substr(text.size() - 6000) : text;
  }

  HttpResult get_admin_view(const std::string& key) const {
    std::map<std::string, std::string> headers;
    if (!key.empty()) headers["Authorization"] = "Bearer " + key;
    return http_request("GET", host_->base_url() + "/v1/admin/plugins", headers);
  }
  // GET /v1/admin/plugins with the admin key; null unless 200.
  nlohmann::json admin_view() const {
    const auto result = get_admin_view(admin_key_);
    return result.status == 200 ? result.json() : nlohmann::json();
  }

  // Waits until the admin view serves `slug` at `version`; returns its entry (null on timeout).
  nlohmann::json wait_for_version(const std::string& slug, const std::string& version) const {
    nlohmann::json entry;
    eventually([&] {
      entry = plugin_in(admin_view(), slug);
      return entry.is_object() && entry.value("version", "") == version;
    });
    return entry.is_object() && entry.value("version", "") == version ? entry : nlohmann::json();
  }
  // Waits until the admin view reports a refusal of the file `name`; returns it (null on timeout).
  nlohmann::json wait_for_refusal(const std::string& name) const {
    nlohmann::json refusal;
    eventually([&] {
      refusal = refusal_in(admin_view(), name);
      return refusal.is_object();
    });
    return refusal;
  }

  HttpResult authorize(const std::string& slug) const {
    return api_post(host_->api(org_) + "/sources/authorize", key_, {{"slug", slug}, {"redirect_url", client_redirect}});
  }
  // Which build made the consent URL of a new flow: "v1", "v2", or empty when none did.
  std::string build_serving_new_flows() const {
    const auto started = authorize("dropin");
    if (started.status != 200) return {};
    return query_param(started.json().value("authorization_url", ""), "dropin_build");
  }
  HttpResult start_native_flow() const {
    return api_post(
        host_->api(org_) + "/sources/oauth", key_,
        {{"source_definition_id", dropin_definition}, {"workspace_id", workspace_}, {"redirect_url", client_redirect}});
  }
  HttpResult complete_flow(const std::string& connection_id) const {
    return api_post(host_->api(org_) + "/sources/oauth/callback", key_,
                    {{"connection_id", connection_id},
                     {"workspace_id", workspace_},
                     {"source_definition_id", dropin_definition},
                     {"source_name", "A drop-in source"}});
  }
  // A whole flow through the dropin plugin; {build of the consent URL, account named by the exchange}.
  std::pair<std::string, std::string> whole_flow() const {
    const FlowResult flow = run_flow(*host_, org_, key_, workspace_, dropin_definition);
    return {query_param(flow.consent_url, "dropin_build"), flow.source["configuration"].value("account_name", "")};
  }

  bool healthy() const {
    return host_->process().running() && http_request("GET", host_->base_url() + "/healthz").status == 200;
  }
  bool logged(const std::string& message, std::chrono::milliseconds timeout = 2s) const {
    return host_->process().wait_for_stderr("\"" + message + "\"", timeout).has_value();
  }

  // cp SOURCE plugins/NAME: over an existing file, the same inode gets the new bytes.
  void copy_in(const fs::path& source, const std::string& name) const {
    const auto result = run_command({"/bin/cp", source.string(), (plugins_ / name).string()}, {});
    ASSERT_EQ(result.exit_code, 0) << result.output;
  }
  // Writes plugins/NAME.tmp (no module suffix: not a plugin) and renames it over NAME: a new inode.
  void rename_in(const fs::path& source, const std::string& name) const {
    const fs::path staged = plugins_ / (name + ".tmp");
    fs::copy_file(source, staged, fs::copy_options::overwrite_existing);
    fs::rename(staged, plugins_ / name);
  }

  static std::unique_ptr<TempDir> suite_dir_;
  static std::unique_ptr<ProviderDouble> provider_;

  std::unique_ptr<TempDir> work_;
  fs::path plugins_;
  std::unique_ptr<HostProcess> host_;
  const std::string org_ = "org_dropin";
  std::string key_;
  std::string admin_key_;
  std::string workspace_;
};

std::unique_ptr<TempDir> PluginDropIn::suite_dir_;
std::unique_ptr<ProviderDouble> PluginDropIn::provider_;

// The same behaviour whichever way the folder is watched.
class PluginDropInWatched : public PluginDropIn, public ::testing::WithParamInterface<std::string> {};

INSTANTIATE_TEST_SUITE_P(PluginDropIn, PluginDropInWatched, ::testing::Values("inotify", "poll"),
                         [](const ::testing::TestParamInfo<std::string>& watch) { return watch.param; });

// --- (a) a new file

TEST_P(PluginDropInWatched, NewFileIsServedWithinASecond) {
  start_host(GetParam());
  ASSERT_TRUE(is_error(authorize("dropin"), 404, "CONNECTOR_NOT_FOUND")) << "no dropin plugin before the copy";

  copy_in(dropin_build("v1"), "dropin.so");
  const auto copied = Clock::now();
  const bool served = eventually([&] { return authorize("dropin").status == 200; }, settle);
  const long long elapsed = milliseconds_since(copied);
  ASSERT_TRUE(served) << "dropin was not served within " << settle.count() << " s of the copy";
  EXPECT_LT(elapsed, 1000) << "dropin was served " << elapsed << " ms after the copy completed";
  RecordProperty("served_after_ms", std::to_string(elapsed));

  const auto view = admin_view();
  EXPECT_EQ(view.value("watch", ""), GetParam()) << view.dump();
  const auto entry = plugin_in(view, "dropin");
  ASSERT_TRUE(entry.is_object()) << view.dump();
  EXPECT_EQ(entry.value("version", ""), "1.0.0");
  EXPECT_EQ(fs::path(entry.value("file", "")).filename(), "dropin.so") << entry.dump();
  EXPECT_FALSE(entry.value("build_id", "").empty()) << entry.dump();
  EXPECT_EQ(entry.value("configured", false), true) << entry.dump();
  EXPECT_TRUE(names_definition(entry["source_definitions"], dropin_definition)) << entry.dump();
  EXPECT_TRUE(refusal_in(view, "dropin.so").is_null()) << view.dump();
  EXPECT_TRUE(logged("plugin added"));

  const auto [consent_build, account] = whole_flow();
  EXPECT_EQ(consent_build, "v1");
  EXPECT_EQ(account, "dropin-v1");
  // The plugins the host started with are still there.
  EXPECT_EQ(authorize("github").status, 200);
  EXPECT_EQ(authorize("google-sheets").status, 200);
}

// --- (b) a replaced file

TEST_P(PluginDropInWatched, FileReplacedInPlaceServesTheNewBuild) {
  copy_in(dropin_build("v1"), "dropin.so");
  start_host(GetParam());
  const auto before = admin_view();
  const auto v1 = plugin_in(before, "dropin");
  const auto github = plugin_in(before, "github");
  ASSERT_EQ(v1.value("version", ""), "1.0.0") << before.dump();
  ASSERT_EQ(build_serving_new_flows(), "v1");

  const ino_t inode = inode_of(plugins_ / "dropin.so");
  copy_in(dropin_build("v2"), "dropin.so");
  ASSERT_EQ(inode_of(plugins_ / "dropin.so"), inode) << "cp over the file keeps its inode";

  const auto v2 = wait_for_version("dropin", "2.0.0");
  ASSERT_TRUE(v2.is_object()) << "still " << admin_view().dump();
  EXPECT_NE(v2.value("build_id", ""), v1.value("build_id", "")) << v2.dump();
  EXPECT_EQ(fs::path(v2.value("file", "")).filename(), "dropin.so") << v2.dump();
  EXPECT_EQ(build_serving_new_flows(), "v2");
  const auto [consent_build, account] = whole_flow();
  EXPECT_EQ(consent_build, "v2");
  EXPECT_EQ(account, "dropin-v2");
  EXPECT_TRUE(logged("plugin replaced"));
  EXPECT_EQ(plugins_with_slug(admin_view(), "dropin"), 1);

  // An unchanged file keeps its module.
  const auto github_after = plugin_in(admin_view(), "github");
  EXPECT_EQ(github_after.value("build_id", ""), github.value("build_id", ""));
  EXPECT_EQ(github_after.value("loaded_at", ""), github.value("loaded_at", "")) << "github was loaded again";

  // And back: v1's code again, although a v1 module was loaded before.
  copy_in(dropin_build("v1"), "dropin.so");
  const auto again = wait_for_version("dropin", "1.0.0");
  ASSERT_TRUE(again.is_object()) << "still " << admin_view().dump();
  EXPECT_EQ(again.value("build_id", ""), v1.value("build_id", "")) << "the same bytes are the same build";
  EXPECT_EQ(build_serving_new_flows(), "v1");
  EXPECT_TRUE(healthy());
}

TEST_P(PluginDropInWatched, FileReplacedByRenameServesTheNewBuild) {
  copy_in(dropin_build("v1"), "dropin.so");
  start_host(GetParam());
  const auto v1 = plugin_in(admin_view(), "dropin");
  ASSERT_EQ(v1.value("version", ""), "1.0.0");
  ASSERT_EQ(build_serving_new_flows(), "v1");

  const ino_t inode = inode_of(plugins_ / "dropin.so");
  rename_in(dropin_build("v2"), "dropin.so");
  ASSERT_NE(inode_of(plugins_ / "dropin.so"), inode) << "a renamed file is a new inode";

  const auto v2 = wait_for_version("dropin", "2.0.0");
  ASSERT_TRUE(v2.is_object()) << "still " << admin_view().dump();
  EXPECT_NE(v2.value("build_id", ""), v1.value("build_id", ""));
  EXPECT_EQ(build_serving_new_flows(), "v2");
  const auto [consent_build, account] = whole_flow();
  EXPECT_EQ(consent_build, "v2");
  EXPECT_EQ(account, "dropin-v2");
  EXPECT_TRUE(logged("plugin replaced"));

  const auto view = admin_view();
  EXPECT_EQ(plugins_with_slug(view, "dropin"), 1) << view.dump();
  EXPECT_TRUE(refusal_in(view, "dropin.so.tmp").is_null()) << "a file without the module suffix is no plugin";
  EXPECT_TRUE(refusal_in(view, "dropin.so").is_null()) << view.dump();
}

// --- (c) flows in progress keep their build

TEST_F(PluginDropIn, FlowStartedOnV1FinishesOnV1AfterReplacement) {
  copy_in(dropin_build("v1"), "dropin.so");
  start_host();

  // Flow A: authorized on v1; the user is on the consent page while v2 is dropped in.
  const auto started = start_native_flow();
  ASSERT_EQ(started.status, 200) << started.body;
  const std::string connection_a = started.json().value("connection_id", "");
  const std::string consent_a = started.json().value("consent_url", "");
  EXPECT_EQ(query_param(consent_a, "dropin_build"), "v1");
  const auto consented = http_request("GET", consent_a, {}, {}, (tls_dir() / "ca.pem").string());
  ASSERT_EQ(consented.status, 302) << consented.body;
  const std::string callback_a = consented.header("location");

  copy_in(dropin_build("v2"), "dropin.so");
  ASSERT_TRUE(wait_for_version("dropin", "2.0.0").is_object()) << "still " << admin_view().dump();

  // Flow B starts on v2 before A finishes.
  const auto started_b = start_native_flow();
  ASSERT_EQ(started_b.status, 200) << started_b.body;
  const std::string connection_b = started_b.json().value("connection_id", "");
  const std::string consent_b = started_b.json().value("consent_url", "");
  EXPECT_EQ(query_param(consent_b, "dropin_build"), "v2");

  // A's callback: the code exchange runs on v1, the build the flow started on.
  const auto back_a = http_request("GET", callback_a);
  ASSERT_EQ(back_a.status, 302) << back_a.body;
  EXPECT_EQ(query_param(back_a.header("location"), "status"), "success") << back_a.header("location");
  const auto source_a = complete_flow(connection_a);
  ASSERT_EQ(source_a.status, 200) << source_a.body;
  EXPECT_EQ(account_name_of(source_a), "dropin-v1") << "flow A's code was not exchanged by v1: " << source_a.body;

  // B: consent, callback and exchange on v2.
  const std::string back_b = consent_and_callback(consent_b);
  EXPECT_EQ(query_param(back_b, "status"), "success") << back_b;
  const auto source_b = complete_flow(connection_b);
  ASSERT_EQ(source_b.status, 200) << source_b.body;
  EXPECT_EQ(account_name_of(source_b), "dropin-v2") << source_b.body;

  // And a flow from start to end after all this: v2 throughout.
  const auto [consent_build, account] = whole_flow();
  EXPECT_EQ(consent_build, "v2");
  EXPECT_EQ(account, "dropin-v2");
}

// --- (d) a removed file

TEST_P(PluginDropInWatched, RemovedFileAnswersNotFoundWhileFlowsInProgressFinish) {
  copy_in(dropin_build("v1"), "dropin.so");
  start_host(GetParam());

  const auto started = start_native_flow();
  ASSERT_EQ(started.status, 200) << started.body;
  const std::string connection_id = started.json().value("connection_id", "");
  const auto consented =
      http_request("GET", started.json().value("consent_url", ""), {}, {}, (tls_dir() / "ca.pem").string());
  ASSERT_EQ(consented.status, 302) << consented.body;
  const std::string callback = consented.header("location");

  fs::remove(plugins_ / "dropin.so");
  ASSERT_TRUE(eventually([&] {
    const auto view = admin_view();
    return view.is_object() && plugin_in(view, "dropin").is_null();
  })) << "dropin is still listed: "
      << admin_view().dump();
  EXPECT_TRUE(logged("plugin removed"));

  // New flows: the connector is gone.
  EXPECT_TRUE(is_error(authorize("dropin"), 404, "CONNECTOR_NOT_FOUND"));
  EXPECT_TRUE(is_error(start_native_flow(), 404, "SOURCE_DEFINITION_NOT_FOUND"));
  EXPECT_TRUE(refusal_in(admin_view(), "dropin.so").is_null()) << "a removed file is no refusal";
  EXPECT_EQ(authorize("github").status, 200);

  // The flow in progress still finishes on the build it started on.
  const auto back = http_request("GET", callback);
  ASSERT_EQ(back.status, 302) << back.body;
  EXPECT_EQ(query_param(back.header("location"), "status"), "success") << back.header("location");
  const auto source = complete_flow(connection_id);
  EXPECT_EQ(source.status, 200) << "a flow started before the removal could not be completed: " << source.body;
  EXPECT_EQ(account_name_of(source), "dropin-v1") << source.body;

  // Dropped in again, the file is served again.
  copy_in(dropin_build("v1"), "dropin.so");
  ASSERT_TRUE(wait_for_version("dropin", "1.0.0").is_object()) << admin_view().dump();
  EXPECT_EQ(build_serving_new_flows(), "v1");
}

// --- (e) bad files

TEST_F(PluginDropIn, BadFilesAreRefusedAndTheHostKeepsServing) {
  copy_in(dropin_build("v1"), "dropin.so");
  start_host();
  const auto v1 = plugin_in(admin_view(), "dropin");
  ASSERT_TRUE(v1.is_object());
  write_file(work_->path() / "garbage", garbage_bytes());

  struct BadFile {
    fs::path source;
    std::string name; // in the plugins folder
    std::string reason;
  };
  const std::vector<BadFile> bad_files = {
      {work_->path() / "garbage", "x.so", "not a loadable shared library"},
      {bad_plugin("wrong-major.so"), "wrong-major.so", "built for ABI 2.0"},
      {bad_plugin("missing-symbol.so"), "missing-symbol.so", "does not export connector_plugin_negotiate"},
      {bad_plugin("negotiation-refused.so"), "negotiation-refused.so", "negotiation refused"},
      {bad_plugin("bad-descriptor.so"), "bad-descriptor.so", "invalid descriptor"},
      {bad_plugin("zz-duplicate-github.so"), "zz-duplicate-github.so", "duplicate slug \"github\""},
      // A byte-for-byte copy of the dropin build being served, under a second name.
      {dropin_build("v1"), "zz-dropin-copy.so", "duplicate slug \"dropin\""},
  };
  for (const auto& bad : bad_files) {
    SCOPED_TRACE(bad.name);
    copy_in(bad.source, bad.name);
    const auto refusal = wait_for_refusal(bad.name);
    ASSERT_TRUE(refusal.is_object()) << "no refusal of " << bad.name << ": " << admin_view().dump();
    EXPECT_THAT(refusal.value("reason", ""), HasSubstr(bad.name)) << "the reason names the file";
    EXPECT_THAT(refusal.value("reason", ""), HasSubstr(bad.reason));
    ASSERT_TRUE(healthy()) << "the host went down on " << bad.name;
    EXPECT_EQ(build_serving_new_flows(), "v1");
    EXPECT_EQ(authorize("github").status, 200);
  }
  EXPECT_TRUE(logged("plugin refused"));

  const auto view = admin_view();
  for (const auto& bad : bad_files)
    EXPECT_TRUE(refusal_in(view, bad.name).is_object()) << bad.name << " is no longer reported: " << view.dump();
  EXPECT_EQ(plugins_with_slug(view, "github"), 1) << view.dump();
  EXPECT_EQ(plugins_with_slug(view, "dropin"), 1) << view.dump();
  const auto dropin = plugin_in(view, "dropin");
  EXPECT_EQ(fs::path(dropin.value("file", "")).filename(), "dropin.so") << "the copy took over: " << dropin.dump();
  EXPECT_EQ(dropin.value("build_id", ""), v1.value("build_id", ""));
  EXPECT_EQ(dropin.value("loaded_at", ""), v1.value("loaded_at", "")) << "dropin.so was loaded again";
  EXPECT_EQ(fs::path(plugin_in(view, "github").value("file", "")).filename(), "github.so");
  const auto [consent_build, account] = whole_flow();
  EXPECT_EQ(consent_build, "v1");
  EXPECT_EQ(account, "dropin-v1");

  // A refused file is tried again when it changes: x.so becomes a good plugin of its own.
  copy_in(bad_plugin("test-throwing.so"), "x.so");
  const auto fixed = wait_for_version("test-throwing", "0.0.1");
  ASSERT_TRUE(fixed.is_object()) << admin_view().dump();
  EXPECT_EQ(fs::path(fixed.value("file", "")).filename(), "x.so");
  EXPECT_TRUE(refusal_in(admin_view(), "x.so").is_null()) << admin_view().dump();
  EXPECT_TRUE(healthy());
}

TEST_P(PluginDropInWatched, HalfCopiedFileIsRefusedThenLoadsOnceComplete) {
  start_host(GetParam());
  const std::string bytes = file_bytes(dropin_build("v1"));
  ASSERT_FALSE(bytes.empty());
  // Cut in the middle of the code: the headers are whole, the segments they describe are not.
  const std::size_t cut = loadable_extent(bytes) / 2;
  ASSERT_GT(cut, 0u);

  write_file(plugins_ / "dropin.so", bytes.substr(0, cut));
  const auto refusal = wait_for_refusal("dropin.so");
  EXPECT_TRUE(refusal.is_object()) << "the half-copied file is not reported: " << admin_view().dump();
  ASSERT_TRUE(healthy()) << "the host went down on a half-copied file";
  EXPECT_TRUE(is_error(authorize("dropin"), 404, "CONNECTOR_NOT_FOUND"));
  EXPECT_EQ(authorize("github").status, 200);

  // The copy completes (the same file, appended to): now it loads.
  write_file(plugins_ / "dropin.so", bytes.substr(cut), std::ios::app);
  ASSERT_EQ(file_bytes(plugins_ / "dropin.so"), bytes);
  const auto loaded = wait_for_version("dropin", "1.0.0");
  ASSERT_TRUE(loaded.is_object()) << "the completed file did not load: " << admin_view().dump();
  EXPECT_TRUE(refusal_in(admin_view(), "dropin.so").is_null())
      << "the refusal outlived the fix: " << admin_view().dump();
  const auto [consent_build, account] = whole_flow();
  EXPECT_EQ(consent_build, "v1");
  EXPECT_EQ(account, "dropin-v1");
}

// --- (f) a good file replaced by a bad one

TEST_P(PluginDropInWatched, GarbageOverAGoodFileKeepsThePreviousBuild) {
  copy_in(dropin_build("v1"), "dropin.so");
  start_host(GetParam());
  const auto v1 = plugin_in(admin_view(), "dropin");
  ASSERT_TRUE(v1.is_object());

  write_file(work_->path() / "garbage", garbage_bytes());
  copy_in(work_->path() / "garbage", "dropin.so");
  const auto refusal = wait_for_refusal("dropin.so");
  ASSERT_TRUE(refusal.is_object()) << "the broken replacement is not reported: " << admin_view().dump();
  EXPECT_THAT(refusal.value("reason", ""), HasSubstr("dropin.so"));
  EXPECT_TRUE(logged("plugin refused"));
  ASSERT_TRUE(healthy());

  // The previous build keeps serving, old and new flows alike.
  const auto still = plugin_in(admin_view(), "dropin");
  ASSERT_TRUE(still.is_object()) << "dropin was dropped with its broken file: " << admin_view().dump();
  EXPECT_EQ(still.value("version", ""), "1.0.0");
  EXPECT_EQ(still.value("build_id", ""), v1.value("build_id", ""));
  EXPECT_EQ(build_serving_new_flows(), "v1");
  const auto [consent_build, account] = whole_flow();
  EXPECT_EQ(consent_build, "v1");
  EXPECT_EQ(account, "dropin-v1");

  // Fixed with v2: loaded, and the refusal is gone.
  copy_in(dropin_build("v2"), "dropin.so");
  const auto v2 = wait_for_version("dropin", "2.0.0");
  ASSERT_TRUE(v2.is_object()) << "the fixed file did not load: " << admin_view().dump();
  EXPECT_TRUE(refusal_in(admin_view(), "dropin.so").is_null()) << admin_view().dump();
  EXPECT_EQ(build_serving_new_flows(), "v2");
}

// --- (g) the admin view

TEST_F(PluginDropIn, AdminViewNeedsTheAdminPermission) {
  start_host();
  const auto anonymous = get_admin_view("");
  EXPECT_TRUE(is_error(anonymous, 401, "AUTHENTICATION_REQUIRED"));
  EXPECT_TRUE(is_error(get_admin_view("chk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), 401, "INVALID_API_KEY"));

  const auto plain = get_admin_view(key_);
  EXPECT_TRUE(is_error(plain, 403, "INSUFFICIENT_PERMISSIONS"));
  EXPECT_EQ(plain.json()["error"]["details"].value("required_permission", ""), "admin") << plain.body;
  EXPECT_THAT(plain.body, Not(HasSubstr("github.so")));
  const auto sources_only = get_admin_view(host_->create_key(org_, "sources credentials:read"));
  EXPECT_TRUE(is_error(sources_only, 403, "INSUFFICIENT_PERMISSIONS"));

  const auto admin = get_admin_view(admin_key_);
  EXPECT_EQ(admin.status, 200) << admin.body;
  // An admin key of any organization: the view is the host's.
  const auto other = get_admin_view(host_->create_key("org_dropin_other", "admin"));
  EXPECT_EQ(other.status, 200) << other.body;
}

TEST_F(PluginDropIn, AdminViewDescribesThePluginsAndTheWatch) {
  write_file(plugins_ / "not-a-plugin.so", "text, not a library\n");
  start_host();
  const auto view = admin_view();
  ASSERT_TRUE(view.is_object()) << get_admin_view(admin_key_).body;
  std::error_code ignored;
  EXPECT_EQ(fs::weakly_canonical(view.value("plugins_dir", ""), ignored), fs::weakly_canonical(plugins_, ignored))
      << view.dump();
  EXPECT_EQ(view.value("watch", ""), "inotify") << "inotify is the default";
  EXPECT_TRUE(view["scanned_at"].is_string() && !view["scanned_at"].get<std::string>().empty()) << view.dump();
  ASSERT_TRUE(view["scans"].is_number_integer()) << view.dump();
  EXPECT_GE(view["scans"].get<int>(), 1);
  ASSERT_TRUE(view["plugins"].is_array());
  EXPECT_EQ(view["plugins"].size(), 2u) << view.dump();
  for (const char* slug : {"github", "google-sheets"}) {
    const auto entry = plugin_in(view, slug);
    ASSERT_TRUE(entry.is_object()) << slug << ": " << view.dump();
    for (const char* member : {"slug", "name", "version", "abi_version", "file", "build_id", "loaded_at", "configured",
                               "configuration_error", "source_definitions"}) {
      EXPECT_TRUE(entry.contains(member)) << slug << " lacks " << member << ": " << entry.dump();
    }
    EXPECT_EQ(entry.value("configured", false), true) << entry.dump();
    EXPECT_EQ(fs::path(entry.value("file", "")).filename(), std::string(slug) + ".so");
  }
  EXPECT_TRUE(names_definition(plugin_in(view, "github")["source_definitions"], github_definition));
  EXPECT_TRUE(names_definition(plugin_in(view, "google-sheets")["source_definitions"], google_sheets_definition));
  // A refusal at start is in the view as well.
  const auto refusal = refusal_in(view, "not-a-plugin.so");
  ASSERT_TRUE(refusal.is_object()) << view.dump();
  EXPECT_THAT(refusal.value("reason", ""), HasSubstr("not-a-plugin.so"));

  // Each rescan counts.
  const int scans = view["scans"].get<int>();
  copy_in(dropin_build("v1"), "dropin.so");
  ASSERT_TRUE(wait_for_version("dropin", "1.0.0").is_object()) << admin_view().dump();
  const auto after = admin_view();
  EXPECT_GT(after.value("scans", 0), scans) << after.dump();
  EXPECT_EQ(after["plugins"].size(), 3u) << after.dump();
}

TEST_F(PluginDropIn, WatchOffKeepsThePluginsLoadedAtStart) {
  start_host("off");
  EXPECT_EQ(admin_view().value("watch", ""), "off");
  copy_in(dropin_build("v1"), "dropin.so");
  std::this_thread::sleep_for(1500ms);
  EXPECT_TRUE(is_error(authorize("dropin"), 404, "CONNECTOR_NOT_FOUND"));
  EXPECT_TRUE(plugin_in(admin_view(), "dropin").is_null());
  EXPECT_TRUE(healthy());
}

} // namespace
