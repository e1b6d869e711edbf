// The plugin binding (core/plugins/plugin_module.hpp) against real modules: the in-tree GitHub
// plugin and the test plugins that are wrong on purpose. The same file runs in the Linux suite
// against .so files and in the Windows cross-build under Wine against .dll files
// (tests/windows), so both systems' loaders are held to the same assertions.
#include "plugins/plugin_module.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

using connector::core::FlowParams;
using connector::core::Operation;
using connector::core::PluginModule;
using connector::core::ProviderInstance;
using ::testing::HasSubstr;

namespace {

// CMake gives the folders and the module suffix of the system the tests run on.
std::filesystem::path module_path(const char* folder, const std::string& name) {
  return std::filesystem::path(folder) / (name + CONNECTOR_TEST_MODULE_SUFFIX);
}
std::filesystem::path plugin(const std::string& name) { return module_path(CONNECTOR_TEST_PLUGIN_DIR, name); }
std::filesystem::path test_plugin(const std::string& name) { return module_path(CONNECTOR_TEST_BAD_PLUGIN_DIR, name); }

std::string refusal_of(const std::string& name) {
  const auto outcome = PluginModule::bind(test_plugin(name), name, nullptr);
  EXPECT_FALSE(outcome.module) << name << " should have been refused";
  return outcome.refusal;
}

// The log lines plugins send through the host table, with the name they arrived under.
std::vector<std::pair<std::string, std::string>>& log_lines() {
  static std::vector<std::pair<std::string, std::string>> lines;
  return lines;
}
void keep_log_line(std::string_view plugin_file, int32_t /*level*/, std::string_view message) {
  log_lines().emplace_back(std::string(plugin_file), std::string(message));
}

} // namespace

TEST(PluginModule, BindsAPluginWhoseProvidersKeepItsCodeLoaded) {
  std::shared_ptr<const ProviderInstance> provider;
  {
    auto outcome = PluginModule::bind(plugin("github"), "github", nullptr);
    ASSERT_TRUE(outcome.module) << outcome.refusal;
    EXPECT_THAT(outcome.descriptor_json, HasSubstr(R"("slug":"github")"));
    EXPECT_EQ(outcome.module->table().abi_major, CONNECTOR_ABI_VERSION_MAJOR);
    provider = outcome.module->create_provider(R"({"client_id": "id", "client_secret": "secret"})").instance;
    ASSERT_TRUE(provider);
  } // the module's last reference outside the provider is gone
  FlowParams params;
  params.state = "s";
  params.callback_uri = "https://host.example/cb";
  const auto url = provider->authorization_url(params);
  ASSERT_TRUE(url.ok()) << url.error_description;
  EXPECT_THAT(url.authorization_url, HasSubstr("https://github.com/login/oauth/authorize?"));
  EXPECT_EQ(provider->allowed_hosts(), (std::vector<std::string>{"github.com", "api.github.com"}));
}

TEST(PluginModule, RefusesAModuleOfAnotherMajorVersion) {
  EXPECT_EQ(refusal_of("wrong-major"), "built for ABI 2.0, this host speaks ABI 1.x");
}

TEST(PluginModule, RefusesATableShorterThanOneZero) {
  EXPECT_THAT(
      refusal_of("short-table"),
      HasSubstr("plugin table size " + std::to_string(offsetof(connector_plugin_api, refresh)) + " is outside"));
}

TEST(PluginModule, RefusesALibraryWithoutTheNegotiationFunction) {
  EXPECT_EQ(refusal_of("missing-symbol"), "does not export connector_plugin_negotiate");
}

TEST(PluginModule, RefusesAFileThatIsNotALibrary) {
  EXPECT_THAT(refusal_of("not-a-library"), HasSubstr("not a loadable shared library ("));
  EXPECT_THAT(refusal_of("no-such-file"), HasSubstr("not a loadable shared library ("));
}

TEST(PluginModule, RefusesAPluginThatDeclinesNegotiation) {
  EXPECT_EQ(refusal_of("negotiation-refused"), "negotiation refused by the plugin (refused)");
}

TEST(PluginModule, ContainsEveryExceptionAPluginThrows) {
  const auto outcome = PluginModule::bind(test_plugin("test-throwing"), "test-throwing", nullptr);
  ASSERT_TRUE(outcome.module) << outcome.refusal;

  const auto failed_create = outcome.module->create_provider(R"({"throw_on_create": true})");
  EXPECT_FALSE(failed_create.instance);
  EXPECT_EQ(failed_create.result.status, CONNECTOR_STATUS_INTERNAL_ERROR);
  EXPECT_EQ(failed_create.result.error_description, "create exploded");

  const auto created = outcome.module->create_provider("{}");
  ASSERT_TRUE(created.instance) << created.result.error_description;
  const auto url = created.instance->authorization_url({});
  EXPECT_EQ(url.status, CONNECTOR_STATUS_INTERNAL_ERROR);
  EXPECT_EQ(url.error_description, "authorization_url exploded");

  const auto exchange = created.instance->step(Operation::exchange_code, {}, nullptr);
  EXPECT_EQ(exchange.status, CONNECTOR_STATUS_INTERNAL_ERROR); // `throw 42`: no message to carry

  const auto refresh = created.instance->step(Operation::refresh, {}, nullptr);
  EXPECT_EQ(refresh.status, CONNECTOR_STATUS_INTERNAL_ERROR);
  EXPECT_EQ(refresh.error_code, "plugin_exception");

  const auto revoke = created.instance->step(Operation::revoke, {}, nullptr);
  EXPECT_EQ(revoke.status, CONNECTOR_STATUS_UNSUPPORTED);
}

// An ABI 1.0 plugin: its table ends before 1.1's members, it logs through the host table, and
// the entries its minor version lacks read as not offered.
TEST(PluginModule, AnOlderMinorVersionLogsUnderItsNameAndLacksOnlyLaterEntries) {
  log_lines().clear();
  const auto outcome = PluginModule::bind(test_plugin("abi-1-0"), "abi-1-0 module", &keep_log_line);
  ASSERT_TRUE(outcome.module) << outcome.refusal;
  EXPECT_EQ(outcome.module->table().abi_minor, 0);
  const auto created = outcome.module->create_provider("{}");
  ASSERT_TRUE(created.instance) << created.result.error_description;

  const auto first = created.instance->step(Operation::exchange_code, {}, nullptr);
  ASSERT_EQ(first.status, CONNECTOR_STATUS_SEND_REQUEST) << first.error_description;
  connector::core::ProviderAnswer answer;
  answer.status = 200;
  answer.body = "token-from-the-answer";
  const auto tokens = created.instance->step(Operation::exchange_code, {}, &answer);
  ASSERT_TRUE(tokens.ok()) << tokens.error_description;
  EXPECT_EQ(tokens.access_token, "token-from-the-answer");
  ASSERT_EQ(log_lines().size(), 1U);
  EXPECT_EQ(log_lines()[0], std::make_pair(std::string("abi-1-0 module"), std::string("abi-1-0 exchanged a code")));

  EXPECT_EQ(created.instance->step(Operation::refresh, {}, nullptr).status, CONNECTOR_STATUS_UNSUPPORTED);
}
