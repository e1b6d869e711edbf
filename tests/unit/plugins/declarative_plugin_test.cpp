// A declarative definition both ways it ships: built into its own plugin by the SDK's
// connector_add_declarative_plugin() (as a vendor would), and as the file itself in the plugins
// folder, read by the host's engine (core/plugins/declarative_definitions.hpp). Both describe
// the same provider and make the same consent URL.
#include "plugins/loaded_plugin.hpp"

#include <gmock/gmock.h>

using connector::core::FlowParams;
using connector::core::LoadedPlugin;
using ::testing::HasSubstr;
using ::testing::StartsWith;

namespace {

std::shared_ptr<LoadedPlugin> loaded(const std::filesystem::path& file) {
  auto outcome = LoadedPlugin::load(file);
  EXPECT_TRUE(outcome.module) << outcome.refusal;
  return outcome.module;
}

std::string consent_url(const LoadedPlugin& plugin) {
  const auto created = plugin.create_provider(R"({"client_id":"vendor-client","client_secret":"s3cret"})");
  EXPECT_TRUE(created.instance) << created.result.error_description;
  if (!created.instance) return {};
  FlowParams params;
  params.callback_uri = "https://host.example/v1/oauth/callback";
  params.state = "st4te";
  params.code_challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
  params.options_json = "{}";
  const auto url = created.instance->authorization_url(params);
  EXPECT_TRUE(url.ok()) << url.error_description;
  return url.authorization_url;
}

} // namespace

TEST(DeclarativePlugin, CompiledAndDroppedInTheSameDefinitionServeTheSameProvider) {
  const auto compiled = loaded(CONNECTOR_TEST_DECLARATIVE_PLUGIN);
  const auto dropped = loaded(std::filesystem::path(CONNECTOR_TEST_PLUGIN_DIR) / "gitlab.json");
  ASSERT_TRUE(compiled && dropped);
  EXPECT_FALSE(compiled->is_definition()) << "a module, through the dynamic loader";
  EXPECT_TRUE(dropped->is_definition());
  EXPECT_EQ(compiled->descriptor().slug, "gitlab");
  EXPECT_EQ(compiled->descriptor().settings_schema_json, dropped->descriptor().settings_schema_json);
  EXPECT_EQ(compiled->descriptor().default_scopes, dropped->descriptor().default_scopes);
  EXPECT_EQ(compiled->descriptor().hosts, dropped->descriptor().hosts);

  const std::string url = consent_url(*compiled);
  EXPECT_THAT(url, StartsWith("https://gitlab.com/oauth/authorize?response_type=code&client_id=vendor-client"));
  EXPECT_THAT(url, HasSubstr("code_challenge_method=S256"));
  EXPECT_EQ(consent_url(*dropped), url);
}

TEST(DeclarativePlugin, SettingsTheDefinitionRefusesNeverReachIt) {
  const auto dropped = loaded(std::filesystem::path(CONNECTOR_TEST_PLUGIN_DIR) / "gitlab.json");
  ASSERT_TRUE(dropped);
  const auto refused =
      dropped->create_provider(R"({"client_id":"a","client_secret":"b","base_url":"http://evil.example"})");
  EXPECT_FALSE(refused.instance);
  EXPECT_EQ(refused.result.status, CONNECTOR_STATUS_INVALID_INPUT);
  EXPECT_THAT(refused.result.error_description, HasSubstr("base_url"));
  EXPECT_THAT(refused.result.error_description, ::testing::Not(HasSubstr("evil.example"))) << "never the value";
}
