// The loader and registry against real modules: the in-tree plugins and the broken test
// plugins built beside them.
#include "plugins/plugin_registry.hpp"
#include "support/plugin_loading.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <random>

using connector::core::Operation;
using connector::core::PluginModule;
using connector::core::PluginRegistry;
using connector::testing::module_file_name;
using connector::testing::plugin_dir;
using connector::testing::test_plugin_dir;
using ::testing::HasSubstr;

namespace {

std::string refusal_of(const std::string& name) {
  const auto file = test_plugin_dir() / module_file_name(name);
  const auto outcome = PluginModule::load(file);
  EXPECT_FALSE(outcome.module) << name << " should have been refused";
  EXPECT_THAT(outcome.refusal, HasSubstr(file.string())) << "the refusal must name the file";
  return outcome.refusal;
}

// A fresh folder holding copies of the given modules.
std::filesystem::path folder_with(const std::vector<std::filesystem::path>& files) {
  std::random_device seed;
  const auto folder = std::filesystem::temp_directory_path() / ("connector-plugins-" + std::to_string(seed()));
  std::filesystem::create_directories(folder);
  for (const auto& file : files)
    std::filesystem::copy_file(file, folder / file.filename());
  return folder;
}

} // namespace

TEST(PluginLoader, RefusesAModuleOfAnotherMajorVersion) {
  EXPECT_THAT(refusal_of("wrong-major"), HasSubstr("built for ABI 2.0, this host speaks ABI 1.x"));
}

TEST(PluginLoader, RefusesAModuleWithoutTheNegotiationSymbol) {
  EXPECT_THAT(refusal_of("missing-symbol"), HasSubstr("does not export connector_plugin_negotiate"));
}

TEST(PluginLoader, RefusesAFileThatIsNotALibrary) {
  EXPECT_THAT(refusal_of("not-a-library"), HasSubstr("not a loadable shared library"));
}

TEST(PluginLoader, RefusesAPluginThatDeclinesNegotiation) {
  EXPECT_THAT(refusal_of("negotiation-refused"), HasSubstr("negotiation refused by the plugin (refused)"));
}

TEST(PluginLoader, RefusesADescriptorWithAnUnusableSlug) {
  EXPECT_THAT(refusal_of("bad-descriptor"), HasSubstr("invalid descriptor: slug \"Bad Slug!\""));
}

TEST(PluginLoader, ContainsEveryExceptionAPluginThrows) {
  const auto outcome = PluginModule::load(test_plugin_dir() / module_file_name("test-throwing"));
  ASSERT_TRUE(outcome.module) << outcome.refusal;

  const auto failed_create = outcome.module->create_provider(R"({"throw_on_create": true})");
  EXPECT_FALSE(failed_create.instance);
  EXPECT_EQ(failed_create.result.status, CONNECTOR_STATUS_INTERNAL_ERROR);
  EXPECT_EQ(failed_create.result.error_description, "create exploded");

  const auto created = outcome.module->create_provider("{}");
  ASSERT_TRUE(created.instance);
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

TEST(PluginLoader, RejectsSettingsThatAreNotAnObject) {
  const auto outcome = PluginModule::load(test_plugin_dir() / module_file_name("test-throwing"));
  ASSERT_TRUE(outcome.module);
  const auto created = outcome.module->create_provider("[1, 2");
  EXPECT_FALSE(created.instance);
  EXPECT_EQ(created.result.status, CONNECTOR_STATUS_INVALID_INPUT);
  EXPECT_EQ(created.result.error_description, "settings are not a JSON object");
}

TEST(PluginLoader, ProvidersKeepTheirLibraryAlive) {
  std::shared_ptr<const connector::core::ProviderInstance> provider;
  {
    auto module = connector::testing::load_plugin("github");
    ASSERT_TRUE(module);
    provider = module->create_provider(R"({"client_id": "id", "client_secret": "secret"})").instance;
    ASSERT_TRUE(provider);
  } // the registry's and this scope's references are gone; the provider's remains
  connector::core::FlowParams params;
  params.state = "s";
  params.redirect_uri = "https://host.example/cb";
  const auto url = provider->authorization_url(params);
  EXPECT_TRUE(url.ok()) << url.error_description;
  EXPECT_THAT(url.authorization_url, HasSubstr("https://github.com/login/oauth/authorize?"));
}

TEST(PluginRegistry, LoadsTheGoodPluginsBesideTheBadOnes) {
  std::vector<std::filesystem::path> files = {plugin_dir() / module_file_name("github"),
                                              plugin_dir() / module_file_name("google-sheets")};
  for (const char* bad : {"wrong-major", "missing-symbol", "not-a-library", "negotiation-refused", "bad-descriptor",
                          "zz-duplicate-github"}) {
    files.push_back(test_plugin_dir() / module_file_name(bad));
  }
  const auto folder = folder_with(files);

  PluginRegistry registry;
  const auto refusals = registry.load_directory(folder);

  std::vector<std::string> slugs;
  for (const auto& plugin : registry.plugins())
    slugs.push_back(plugin->descriptor().slug);
  EXPECT_THAT(slugs, ::testing::ElementsAre("github", "google-sheets"));
  ASSERT_EQ(refusals.size(), 6U);
  std::string all_reasons;
  for (const auto& refusal : refusals)
    all_reasons += refusal.reason + "\n";
  EXPECT_THAT(all_reasons, HasSubstr("zz-duplicate-github.so: duplicate slug \"github\", already served by"));
  EXPECT_THAT(all_reasons, HasSubstr("wrong-major.so: built for ABI 2.0"));
  EXPECT_THAT(all_reasons, HasSubstr("missing-symbol.so: does not export"));
  EXPECT_THAT(all_reasons, HasSubstr("not-a-library.so: not a loadable shared library"));
  EXPECT_THAT(all_reasons, HasSubstr("negotiation-refused.so: negotiation refused"));
  EXPECT_THAT(all_reasons, HasSubstr("bad-descriptor.so: invalid descriptor"));

  // The first github (by file name) stays the one served, with its real descriptor.
  const auto github = registry.find("github");
  ASSERT_TRUE(github);
  EXPECT_EQ(github->file().filename(), "github.so");
  EXPECT_EQ(registry.find_by_definition(github->descriptor().source_definitions.at(0).id), github);
  EXPECT_EQ(registry.find("zz-duplicate-github"), nullptr);
  std::filesystem::remove_all(folder);
}

TEST(PluginRegistry, ReportsAMissingFolder) {
  PluginRegistry registry;
  const auto refusals = registry.load_directory("/nonexistent/connector-plugins");
  ASSERT_EQ(refusals.size(), 1U);
  EXPECT_THAT(refusals[0].reason, HasSubstr("cannot read the plugins folder"));
  EXPECT_TRUE(registry.plugins().empty());
}
