// The in-tree plugins cross-built as Windows .dll files (CONNECTOR_PLUGINS_ONLY with the
// mingw-w64 toolchain), loaded by the SDK's test kit through LoadLibraryW and driven through the
// C ABI under Wine: the same module a Windows host would load, doing a code exchange on canned
// answers. scripts/build-windows-plugins.sh builds and runs this.
#include <connector/testing/fake_host.hpp>

#include <gtest/gtest.h>

#include <string>

using connector::sdk::FlowInput;
using connector::sdk::testing::FakeHost;
using connector::sdk::testing::query_param;

namespace {

std::string module(const char* slug) { return std::string(CONNECTOR_WINDOWS_PLUGIN_DIR) + "/" + slug + ".dll"; }

FlowInput exchange_input() {
  FlowInput input;
  input.redirect_uri = "https://host.example/v1/oauth/callback";
  input.state = "st4te";
  input.code = "c0de";
  return input;
}

TEST(WindowsPlugins, GithubLoadsAndExchangesACodeForTheAccount) {
  auto host = FakeHost::load(module("github"));
  EXPECT_EQ(host.descriptor()["slug"], "github");
  const auto provider = host.create({{"client_id", "id"}, {"client_secret", "secret"}});
  ASSERT_TRUE(provider.ok()) << provider.result().summary();
  const auto consent = provider.authorization_url(exchange_input());
  ASSERT_TRUE(consent.ok()) << consent.summary();
  EXPECT_EQ(query_param(consent.authorization_url, "response_type"), "code");

  host.respond(200, R"({"access_token":"gho_windows","scope":"repo","token_type":"bearer"})");
  host.respond(200, R"({"login":"octocat","id":583231})");
  const auto tokens = provider.exchange_code(exchange_input());
  ASSERT_TRUE(tokens.ok()) << tokens.summary();
  EXPECT_EQ(tokens.access_token, "gho_windows");
  EXPECT_EQ(tokens.account_id, "583231");
  EXPECT_EQ(tokens.account_name, "octocat");
}

TEST(WindowsPlugins, GoogleSheetsLoadsAndBuildsItsConsentUrl) {
  auto host = FakeHost::load(module("google-sheets"));
  EXPECT_EQ(host.descriptor()["slug"], "google-sheets");
  const auto provider = host.create({{"client_id", "id.apps.googleusercontent.com"}, {"client_secret", "secret"}});
  ASSERT_TRUE(provider.ok()) << provider.result().summary();
  FlowInput input = exchange_input();
  input.code_challenge = connector::sdk::testing::kPkceChallenge;
  const auto consent = provider.authorization_url(input);
  ASSERT_TRUE(consent.ok()) << consent.summary();
  EXPECT_EQ(query_param(consent.authorization_url, "access_type"), "offline");
  EXPECT_EQ(query_param(consent.authorization_url, "code_challenge_method"), "S256");
}

TEST(WindowsPlugins, ACompiledDefinitionRunsItsExchangeAndCheckCall) {
  auto host = FakeHost::load(module("gitlab"));
  EXPECT_EQ(host.descriptor()["slug"], "gitlab");
  const auto provider = host.create({{"client_id", "id"}, {"client_secret", "secret"}});
  ASSERT_TRUE(provider.ok()) << provider.result().summary();
  host.respond(200, R"({"access_token":"glpat","refresh_token":"r1","expires_in":7200,"token_type":"Bearer"})");
  host.respond(200, R"({"id":42,"username":"ada"})");
  const auto tokens = provider.exchange_code(exchange_input());
  ASSERT_TRUE(tokens.ok()) << tokens.summary();
  EXPECT_EQ(tokens.refresh_token, "r1");
  EXPECT_EQ(tokens.account_id, "42");
  EXPECT_EQ(tokens.account_name, "ada");
}

} // namespace
