// The sealing keys' life, as an operator runs it against a serving host (on either backend):
// `encryption rotate` adds a key that seals from then on, SIGHUP makes the host take it,
// `encryption rewrap` re-seals every stored secret with it, and `encryption retire` removes
// the old key once nothing needs it (refused before). A host whose key file lacks a key the
// stored secrets need refuses to start, or to take that file on SIGHUP, and says which.
#include "integration/flow_driver.hpp"

#include <gmock/gmock.h>

#include <csignal>
#include <fstream>
#include <thread>

using namespace connector::testing;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

std::filesystem::path key_file_of(const HostProcess& host) { return host.data_dir() / "encryption.keys"; }

CommandResult encryption(const HostProcess& host, std::vector<std::string> words) {
  words.insert(words.begin(), {host_binary().string(), "encryption"});
  return run_command(host.command(words), {});
}

std::size_t occurrences(const std::string& text, const std::string& needle) {
  std::size_t count = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1))
    ++count;
  return count;
}

// Sends SIGHUP and waits for the host to say how the reload went; true when it took it.
bool hang_up(HostProcess& host) {
  const std::string before = host.process().stderr_text();
  const std::size_t done = occurrences(before, "configuration reloaded");
  const std::size_t failed = occurrences(before, "configuration reload failed");
  EXPECT_EQ(::kill(host.process().pid(), SIGHUP), 0);
  for (int i = 0; i < 200; ++i) {
    const std::string log = host.process().stderr_text();
    if (occurrences(log, "configuration reloaded") > done) return true;
    if (occurrences(log, "configuration reload failed") > failed) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ADD_FAILURE() << "the host said nothing about the reload";
  return false;
}

class EncryptionKeys : public ::testing::Test {
protected:
  void SetUp() override {
    provider_ = std::make_unique<ProviderDouble>(work_.path());
    HostOptions options;
    options.environment = {{"CONNECTOR_TOKEN_REFRESH_SCAN_SECONDS", "3600"}};
    host_ = std::make_unique<HostProcess>(work_.path(), provider_.get(), options);
    key_ = host_->create_key(org_, admin_permissions + std::string(" credentials:read"));
    workspace_ = host_->create_workspace(org_, key_);
  }

  std::string make_source() {
    provider_->control("POST", "/__control/mode", {{"github_expiring", true}});
    return run_flow(*host_, org_, key_, workspace_, github_definition).source_id();
  }

  // Every source hands out a live token, refreshed on request (which opens and re-seals it).
  void expect_sources_usable(const std::vector<std::string>& sources) {
    for (const auto& id : sources) {
      const auto handed = request_access_token(*host_, org_, key_, id, true);
      ASSERT_EQ(handed.status, 200) << handed.body;
      EXPECT_TRUE(github_token_works(*provider_, handed.json()["access_token"]));
    }
  }

  const std::string org_ = "org_encryption";
  TempDir work_{"connector-encryption"};
  std::unique_ptr<ProviderDouble> provider_;
  std::unique_ptr<HostProcess> host_;
  std::string key_;
  std::string workspace_;
};

} // namespace

TEST_F(EncryptionKeys, RotateRewrapAndRetireWhileTheHostServes) {
  std::vector<std::string> sources = {make_source(), make_source()};
  const auto app =
      api_call("PUT", host_->api(org_) + "/workspaces/" + workspace_ + "/oauth-credentials", key_,
               {{"actor_type", "workspace"},
                {"name", "github"},
                {"configuration", {{"client_id", "test-client-id"}, {"client_secret", "test-client-secret"}}}});
  ASSERT_EQ(app.status, 200) << app.body;
  const auto before = encryption(*host_, {"status"});
  ASSERT_EQ(before.exit_code, 0) << before.errors;
  EXPECT_THAT(before.output, HasSubstr("key 1 (current): 3 stored secrets")) << before.output;

  const auto rotated = encryption(*host_, {"rotate"});
  ASSERT_EQ(rotated.exit_code, 0) << rotated.errors;
  EXPECT_THAT(rotated.output, HasSubstr("Added key 2"));
  ASSERT_TRUE(hang_up(*host_)) << host_->process().stderr_text();
  sources.push_back(make_source()); // sealed with key 2 by the host
  const auto mixed = encryption(*host_, {"status"});
  EXPECT_THAT(mixed.output, HasSubstr("key 2 (current): 1 stored secrets")) << mixed.output;
  EXPECT_THAT(mixed.output, HasSubstr("key 1: 3 stored secrets")) << mixed.output;

  // Key 1 still seals three secrets: not retired.
  const std::string key_text = file_bytes(key_file_of(*host_));
  const auto early = encryption(*host_, {"retire", "1"});
  EXPECT_EQ(early.exit_code, 1);
  EXPECT_THAT(early.errors,
              HasSubstr("3 stored secrets are still sealed with key 1; run connector-host encryption rewrap"));
  EXPECT_EQ(file_bytes(key_file_of(*host_)), key_text);

  const auto rewrapped = encryption(*host_, {"rewrap", "--batch", "1"});
  ASSERT_EQ(rewrapped.exit_code, 0) << rewrapped.output << rewrapped.errors;
  EXPECT_THAT(rewrapped.output, HasSubstr("Re-sealed 3 secrets with key 2; 0 stored secrets are under other keys."));
  EXPECT_THAT(rewrapped.errors, HasSubstr("rewrap: 4 secrets read, 3 re-sealed with key 2")) << rewrapped.errors;
  const auto again = encryption(*host_, {"rewrap"});
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_THAT(again.output, HasSubstr("Re-sealed 0 secrets")) << "a second run finds nothing to do";

  const auto retired = encryption(*host_, {"retire", "1"});
  ASSERT_EQ(retired.exit_code, 0) << retired.errors;
  EXPECT_THAT(file_bytes(key_file_of(*host_)), Not(HasSubstr("\n1:")));
  ASSERT_TRUE(hang_up(*host_)) << host_->process().stderr_text();
  expect_sources_usable(sources);
  const auto flow = run_flow(*host_, org_, key_, workspace_, github_definition); // the app opens with key 2
  EXPECT_EQ(query_param(flow.consent_url, "client_id"), "test-client-id");

  // A restart takes the same file: every stored secret opens with it.
  const auto data_dir = host_->data_dir();
  host_.reset();
  HostOptions options;
  options.data_dir = data_dir;
  host_ = std::make_unique<HostProcess>(work_.path() / "again", provider_.get(), options);
  expect_sources_usable(sources);
  EXPECT_THAT(host_->process().stderr_text(), Not(HasSubstr("test-client-secret")));
}

TEST_F(EncryptionKeys, AKeyFileWithoutAKeyTheStoredSecretsNeedIsRefusedAtStartAndOnSighup) {
  const std::string source = make_source();
  // Another key file, whose only key has another id: it cannot open what key 1 sealed.
  const auto other_file = work_.path() / "other.keys";
  {
    std::ofstream out(other_file);
    out << "7:YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE=\n";
  }
  std::filesystem::permissions(other_file, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  const auto refused = run_command(host_->command({host_binary().string(), "serve", "--listen", "127.0.0.1:0"}),
                                   {{"CONNECTOR_ENCRYPTION_KEYS_FILE", other_file.string()}});
  EXPECT_NE(refused.exit_code, 0);
  EXPECT_THAT(refused.errors, HasSubstr("the database holds secrets sealed with key id 1 (1 secret), which the key "
                                        "file " +
                                        other_file.string() + " does not have"))
      << refused.errors;

  // The running host offered a file that lacks key 1 keeps its ring and its sources open.
  const std::string good = file_bytes(key_file_of(*host_));
  std::filesystem::copy_file(other_file, key_file_of(*host_), std::filesystem::copy_options::overwrite_existing);
  EXPECT_FALSE(hang_up(*host_));
  EXPECT_THAT(host_->process().stderr_text(), HasSubstr("key id 1 (1 secret)"));
  const auto handed = request_access_token(*host_, org_, key_, source, true);
  EXPECT_EQ(handed.status, 200) << handed.body;
}

TEST_F(EncryptionKeys, BadArgumentsAreRefusedAndChangeNothing) {
  const std::string key_text = file_bytes(key_file_of(*host_));
  const auto batch = encryption(*host_, {"rewrap", "--batch", "many"});
  EXPECT_EQ(batch.exit_code, 2);
  EXPECT_THAT(batch.errors, HasSubstr("--batch must be from 1 to 10000"));
  const auto id = encryption(*host_, {"retire", "first"});
  EXPECT_EQ(id.exit_code, 2);
  EXPECT_THAT(id.errors, HasSubstr("KEY_ID must be a key id"));
  const auto unknown = encryption(*host_, {"shred"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_THAT(unknown.errors, HasSubstr("usage: connector-host encryption rotate|status|rewrap|retire"));
  const auto current = encryption(*host_, {"retire", "1"});
  EXPECT_EQ(current.exit_code, 1);
  EXPECT_THAT(current.errors, HasSubstr("key 1 is the current key"));
  EXPECT_EQ(file_bytes(key_file_of(*host_)), key_text);
}

TEST(EncryptionKeyFile, RotateMakesAMissingKeyFileWithItsFirstKey) {
  TempDir work("connector-encryption-new");
  const auto file = work.path() / "shared" / "encryption.keys";
  const auto made =
      run_command({host_binary().string(), "encryption", "rotate", "--data-dir", (work.path() / "data").string()},
                  {{"CONNECTOR_ENCRYPTION_KEYS_FILE", file.string()}});
  ASSERT_EQ(made.exit_code, 0) << made.errors;
  EXPECT_THAT(made.output, HasSubstr("Created " + file.string() + " with key 1"));
  EXPECT_EQ(std::filesystem::status(file).permissions() & std::filesystem::perms::all,
            std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
  const auto next =
      run_command({host_binary().string(), "encryption", "rotate", "--data-dir", (work.path() / "data").string()},
                  {{"CONNECTOR_ENCRYPTION_KEYS_FILE", file.string()}});
  ASSERT_EQ(next.exit_code, 0) << next.errors;
  EXPECT_THAT(next.output, HasSubstr("Added key 2"));
}
