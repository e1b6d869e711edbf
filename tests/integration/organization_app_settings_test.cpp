// What an organization's or workspace's own OAuth app may set over the operator's settings
// (core/oauth/oauth_apps.hpp, create_app_instance): exactly the properties the plugin's
// settings schema marks "x-organization-app", checked against that schema, and never so as to
// reach a host the operator's instance does not. Real plugins, loaded through the C ABI.
#include "oauth/oauth_apps.hpp"
#include "oauth/provider_directory.hpp"
#include "plugins/loaded_plugin.hpp"

#include <gmock/gmock.h>
#include <nlohmann/json.hpp>

using namespace connector;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

namespace {

// The plugin configured as an operator would: settings, and the instance made from them.
core::ConfiguredProvider configured(const std::shared_ptr<core::LoadedPlugin>& module,
                                    const nlohmann::json& operator_settings) {
  auto created = module->create_provider(operator_settings.dump());
  EXPECT_TRUE(created.instance) << created.result.error_description;
  return core::ConfiguredProvider{module, created.instance, {}, operator_settings};
}

std::string consent_url(const core::ProviderInstance& instance) {
  core::FlowParams params;
  params.callback_uri = "https://host.example/v1/oauth/callback";
  params.state = "state-value";
  params.code_challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
  return instance.authorization_url(params).authorization_url;
}

std::shared_ptr<core::LoadedPlugin> load_module(const std::filesystem::path& file) {
  auto loaded = core::LoadedPlugin::load(file);
  EXPECT_TRUE(loaded.module) << loaded.refusal;
  return loaded.module;
}

std::shared_ptr<core::LoadedPlugin> load_plugin(const std::string& name) {
  return load_module(std::filesystem::path(CONNECTOR_TEST_PLUGIN_DIR) / (name + ".so"));
}

std::shared_ptr<core::LoadedPlugin> load_dropin() {
  return load_module(std::filesystem::path(CONNECTOR_TEST_DROPIN_DIR) / "dropin-v1.so");
}

const nlohmann::json dropin_operator_settings = {{"client_id", "operator-id"},
                                                 {"client_secret", "operator-secret"},
                                                 {"auth_uri", "https://provider.example/o/oauth2/v2/auth"},
                                                 {"token_uri", "https://provider.example/token"}};

} // namespace

TEST(OrganizationAppSettings, TheSchemaMarksWhichSettingsAnAppMaySet) {
  EXPECT_THAT(load_plugin("github")->descriptor().organization_app_settings,
              ElementsAre("client_id", "client_secret", "scopes"));
  EXPECT_THAT(load_plugin("google-sheets")->descriptor().organization_app_settings,
              ElementsAre("client_id", "client_secret", "scopes"));
}

// An endpoint the schema does not mark is the operator's, whatever the app says.
TEST(OrganizationAppSettings, AnAppSetsOnlyTheMarkedSettings) {
  const auto entry =
      configured(load_plugin("github"), {{"client_id", "operator-id"}, {"client_secret", "operator-secret"}});
  const nlohmann::json app = {{"client_id", "Iv1.organization"},
                              {"client_secret", "organization-secret"},
                              {"scopes", {"repo"}},
                              {"base_url", "https://ghe.elsewhere.example"}};
  std::string why;
  const auto instance = core::create_app_instance(entry, app, why);
  ASSERT_TRUE(instance) << why;
  EXPECT_EQ(instance->allowed_hosts(), entry.instance->allowed_hosts());
  const std::string url = consent_url(*instance);
  EXPECT_THAT(url, HasSubstr("https://github.com/login/oauth/authorize?"));
  EXPECT_THAT(url, HasSubstr("client_id=Iv1.organization"));
  EXPECT_THAT(url, HasSubstr("scope=repo&"));
  EXPECT_THAT(url, Not(HasSubstr("elsewhere")));
}

TEST(OrganizationAppSettings, AnAppTheSchemaRefusesIsRefusedNamingTheSetting) {
  const auto entry =
      configured(load_plugin("github"), {{"client_id", "operator-id"}, {"client_secret", "operator-secret"}});
  std::string why;
  EXPECT_FALSE(core::create_app_instance(entry, {{"client_id", 42}, {"client_secret", "organization-secret"}}, why));
  EXPECT_EQ(why, "setting client_id must be of type string");
  EXPECT_THAT(why, Not(HasSubstr("organization-secret")));
}

// The drop-in test plugin marks its endpoints on purpose: however a plugin's schema is
// written, an app cannot send the host to a host the operator's instance does not reach.
TEST(OrganizationAppSettings, AnAppThatWouldReachAnotherHostIsRefused) {
  const auto entry = configured(load_dropin(), dropin_operator_settings);
  nlohmann::json elsewhere = {{"client_id", "organization-id"},
                              {"client_secret", "organization-secret"},
                              {"auth_uri", "https://elsewhere.example/auth"},
                              {"token_uri", "https://elsewhere.example/token"}};
  std::string why;
  EXPECT_FALSE(core::create_app_instance(entry, elsewhere, why));
  EXPECT_EQ(why, "it would reach a host the operator's configuration does not");

  nlohmann::json same_host = elsewhere;
  same_host["auth_uri"] = "https://provider.example/other/auth";
  same_host["token_uri"] = "https://provider.example/other/token";
  why.clear();
  const auto instance = core::create_app_instance(entry, same_host, why);
  ASSERT_TRUE(instance) << why;
  EXPECT_THAT(consent_url(*instance), HasSubstr("https://provider.example/other/auth?"));
}
