// What the host checks of the GitHub plugin before serving it: its descriptor as the loader
// reads it, and the settings its schema (the host's check) or the plugin itself refuses, by name
// and never showing the secret. The plugin's own behaviour is github_provider_test.cpp, which
// also runs on Windows; these need the host's loader, which runs on Linux.
#include "support/plugin_loading.hpp"

#include <nlohmann/json.hpp>

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

namespace {

namespace core = connector::core;
using connector::testing::load_plugin;
using Scopes = std::vector<std::string>;

constexpr const char* kSecret = "s3cr3t-value";

core::LoadedPlugin::CreateOutcome create(const std::string& settings) {
  const auto module = load_plugin("github");
  if (!module) return {};
  return module->create_provider(settings);
}

// ---- Descriptor ------------------------------------------------------------------------

TEST(GithubDescriptor, DescribesTheProvider) {
  const auto module = load_plugin("github");
  ASSERT_TRUE(module);
  const core::PluginDescriptor& descriptor = module->descriptor();
  EXPECT_EQ(descriptor.slug, "github");
  EXPECT_EQ(descriptor.display_name, "GitHub");
  EXPECT_EQ(descriptor.version, "1.0.0");
  EXPECT_EQ(descriptor.documentation_url,
            "https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps");
  ASSERT_EQ(descriptor.source_definitions.size(), 1u);
  EXPECT_EQ(descriptor.source_definitions[0].id, "ef69ef6e-aa7f-4af1-a01d-ef775033524e");
  EXPECT_EQ(descriptor.source_definitions[0].name, "GitHub");
  EXPECT_EQ(descriptor.default_scopes,
            (Scopes{"repo", "read:org", "read:repo_hook", "read:user", "read:project", "read:discussion"}));
  EXPECT_TRUE(descriptor.supports_pkce);
  EXPECT_TRUE(descriptor.supports_refresh);
  EXPECT_TRUE(descriptor.supports_revoke);
  EXPECT_EQ(descriptor.hosts, (Scopes{"github.com", "api.github.com"}));
}

TEST(GithubDescriptor, SchemasDescribeSettingsAndFlowOptions) {
  const auto module = load_plugin("github");
  ASSERT_TRUE(module);
  const auto settings = nlohmann::json::parse(module->descriptor().settings_schema_json);
  EXPECT_EQ(settings["type"], "object");
  EXPECT_EQ(settings["required"], nlohmann::json::array({"client_id", "client_secret"}));
  EXPECT_EQ(settings["properties"]["client_secret"]["x-secret"], true);
  EXPECT_EQ(settings["properties"]["base_url"]["default"], "https://github.com");
  EXPECT_EQ(settings["properties"]["scopes"]["type"], "array");
  EXPECT_EQ(settings["properties"]["allow_signup"]["type"], "boolean");
  EXPECT_TRUE(settings["properties"].contains("api_url"));

  const auto options = nlohmann::json::parse(module->descriptor().flow_options_schema_json);
  EXPECT_EQ(options["additionalProperties"], false);
  EXPECT_EQ(options["properties"]["prompt"]["enum"], nlohmann::json::array({"select_account"}));
  EXPECT_EQ(options["properties"]["scopes"]["type"], "array");
  EXPECT_EQ(options["properties"]["login"]["type"], "string");
}

// ---- Settings --------------------------------------------------------------------------

struct Refusal {
  const char* name;
  std::string settings;
  std::string expected_description;
};

// Names the case in failure messages instead of dumping the struct's bytes.
void PrintTo(const Refusal& refusal, std::ostream* os) { *os << refusal.name; }

class GithubSettingsRefused : public ::testing::TestWithParam<Refusal> {};

TEST_P(GithubSettingsRefused, WithInvalidInputThatNeverShowsTheSecret) {
  const auto outcome = create(GetParam().settings);
  EXPECT_FALSE(outcome.instance);
  EXPECT_EQ(outcome.result.status, CONNECTOR_STATUS_INVALID_INPUT);
  EXPECT_EQ(outcome.result.error_code, "invalid_input");
  EXPECT_EQ(outcome.result.error_description, GetParam().expected_description);
  EXPECT_EQ(outcome.result.error_description.find(kSecret), std::string::npos);
}

constexpr const char* kBaseUrlRefusal =
    "base_url must be an absolute https:// URL without user info, spaces, a query or a fragment";

INSTANTIATE_TEST_SUITE_P(
    Github, GithubSettingsRefused,
    ::testing::Values(
        Refusal{"missing_client_id", R"({"client_secret":"s3cr3t-value"})", "setting client_id is required"},
        Refusal{"empty_client_id", R"({"client_id":"","client_secret":"s3cr3t-value"})",
                "setting client_id must not be empty"},
        Refusal{"numeric_client_id", R"({"client_id":42,"client_secret":"s3cr3t-value"})",
                "setting client_id must be of type string"},
        Refusal{"client_id_with_space", R"({"client_id":"Iv1 abc","client_secret":"s3cr3t-value"})",
                "client_id must be printable ASCII without spaces or colons"},
        Refusal{"missing_client_secret", R"({"client_id":"Iv1.abc"})", "setting client_secret is required"},
        Refusal{"http_base_url",
                R"({"client_id":"Iv1.abc","client_secret":"s3cr3t-value","base_url":"http://github.com"})",
                "setting base_url does not match the pattern \"^https://\""},
        Refusal{"base_url_with_user_info",
                R"({"client_id":"Iv1.abc","client_secret":"s3cr3t-value",
                    "base_url":"https://admin:s3cr3t-value@ghe.example.com"})",
                kBaseUrlRefusal},
        Refusal{"base_url_with_query",
                R"({"client_id":"Iv1.abc","client_secret":"s3cr3t-value","base_url":"https://ghe.example.com/?x=1"})",
                kBaseUrlRefusal},
        Refusal{"http_api_url",
                R"({"client_id":"Iv1.abc","client_secret":"s3cr3t-value","api_url":"http://api.github.com"})",
                "setting api_url does not match the pattern \"^https://\""},
        Refusal{"scope_with_space", R"({"client_id":"Iv1.abc","client_secret":"s3cr3t-value","scopes":["repo gist"]})",
                "scopes must hold scope names without spaces, quotes or backslashes"},
        Refusal{"scopes_not_an_array", R"({"client_id":"Iv1.abc","client_secret":"s3cr3t-value","scopes":"repo"})",
                "setting scopes must be of type array"},
        Refusal{"allow_signup_as_text",
                R"({"client_id":"Iv1.abc","client_secret":"s3cr3t-value","allow_signup":"false"})",
                "setting allow_signup must be of type boolean"},
        Refusal{"misspelt_key", R"({"client_id":"Iv1.abc","clientSecret":"s3cr3t-value"})",
                "setting client_secret is required; setting clientSecret is not a known property"}),
    [](const ::testing::TestParamInfo<Refusal>& refusal) { return std::string(refusal.param.name); });

} // namespace
