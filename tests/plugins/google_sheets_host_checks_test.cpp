// What the host checks of the Google Sheets plugin before serving it: its descriptor as the
// loader reads it, and the settings its schema (the host's check) or the plugin itself refuses,
// by name and never showing the secret. The plugin's own behaviour is
// google_sheets_provider_test.cpp, which also runs on Windows; these need the host's loader,
// which runs on Linux.
#include "plugins/google_sheets_test_values.hpp"
#include "support/plugin_loading.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

namespace {

using connector::core::OperationResult;
using nlohmann::json;

using connector::testing::google_sheets::base_settings;
using connector::testing::google_sheets::kClientId;
using connector::testing::google_sheets::kClientSecret;
using connector::testing::google_sheets::kDriveScope;
using connector::testing::google_sheets::kSheetsScope;

OperationResult create_refused(const json& settings) {
  const auto module = connector::testing::load_plugin("google-sheets");
  if (!module) return {};
  const auto outcome = module->create_provider(settings.dump());
  EXPECT_EQ(outcome.instance, nullptr);
  return outcome.result;
}

struct RefusedSettings {
  const char* name;
  json settings;
};

// ---- Descriptor ------------------------------------------------------------------------------

TEST(GoogleSheetsDescriptor, DescribesTheSheetsConnector) {
  const auto module = connector::testing::load_plugin("google-sheets");
  ASSERT_NE(module, nullptr);
  const auto& d = module->descriptor();
  EXPECT_EQ(d.slug, "google-sheets");
  EXPECT_EQ(d.display_name, "Google Sheets");
  EXPECT_EQ(d.version, "1.0.0");
  EXPECT_EQ(d.documentation_url, "https://developers.google.com/identity/protocols/oauth2/web-server");
  ASSERT_EQ(d.source_definitions.size(), 1u);
  EXPECT_EQ(d.source_definitions[0].id, "71607ba1-c0ac-4799-8049-7f4b90dd50f7");
  EXPECT_EQ(d.source_definitions[0].name, "Google Sheets");
  EXPECT_EQ(d.default_scopes, (std::vector<std::string>{kSheetsScope, kDriveScope}));
  EXPECT_TRUE(d.supports_pkce);
  EXPECT_TRUE(d.supports_refresh);
  EXPECT_TRUE(d.supports_revoke);
  EXPECT_EQ(d.hosts, (std::vector<std::string>{"accounts.google.com", "oauth2.googleapis.com", "sheets.googleapis.com",
                                               "www.googleapis.com"}));
}

TEST(GoogleSheetsDescriptor, SettingsSchemaMarksTheSecretAndCarriesGooglesDefaults) {
  const auto module = connector::testing::load_plugin("google-sheets");
  ASSERT_NE(module, nullptr);
  const json schema = json::parse(module->descriptor().settings_schema_json);
  const json& properties = schema.at("properties");
  EXPECT_EQ(schema.at("type"), "object");
  EXPECT_EQ(properties.at("client_secret").at("x-secret"), true);
  EXPECT_FALSE(properties.at("client_id").contains("x-secret"));
  EXPECT_EQ(properties.at("auth_uri").at("default"), "https://accounts.google.com/o/oauth2/v2/auth");
  EXPECT_EQ(properties.at("token_uri").at("default"), "https://oauth2.googleapis.com/token");
  EXPECT_EQ(properties.at("revoke_uri").at("default"), "https://oauth2.googleapis.com/revoke");
  EXPECT_EQ(properties.at("api_base_url").at("default"), "https://sheets.googleapis.com");
  EXPECT_EQ(properties.at("drive_api_url").at("default"), "https://www.googleapis.com");
  EXPECT_EQ(properties.at("issuer").at("default"), "https://accounts.google.com");
  EXPECT_EQ(properties.at("scopes").at("type"), "array");
  EXPECT_EQ(properties.at("web").at("properties").at("client_secret").at("x-secret"), true);
  EXPECT_EQ(schema.at("anyOf").at(0).at("required"), json::array({"client_id", "client_secret"}));

  const json options = json::parse(module->descriptor().flow_options_schema_json);
  EXPECT_EQ(options.at("additionalProperties"), false);
  EXPECT_EQ(options.at("properties").at("prompt").at("default"), "consent");
  EXPECT_EQ(options.at("properties").at("login_hint").at("type"), "string");
  EXPECT_EQ(options.at("properties").at("scopes").at("type"), "array");
}

// ---- Settings --------------------------------------------------------------------------------

TEST(GoogleSheetsSettings, RefusesBadSettingsWithoutShowingTheSecret) {
  auto with = [](const char* key, json value) {
    json settings = base_settings();
    settings[key] = std::move(value);
    return settings;
  };
  json missing_id = base_settings();
  missing_id.erase("client_id");
  json missing_secret = base_settings();
  missing_secret.erase("client_secret");
  const std::string secret_in_user_info =
      std::string("https://test_client_id:") + kClientSecret + "@oauth2.googleapis.com/token";

  const std::vector<RefusedSettings> cases{
      {"missing client_id", missing_id},
      {"missing client_secret", missing_secret},
      {"empty client_id", with("client_id", "")},
      {"numeric client_secret", with("client_secret", 12345)},
      {"http token_uri", with("token_uri", "http://oauth2.googleapis.com/token")},
      {"token_uri with user@host", with("token_uri", "https://user@oauth2.googleapis.com/token")},
      {"token_uri with the secret in user info", with("token_uri", secret_in_user_info)},
      {"auth_uri that is not a URL", with("auth_uri", "accounts.google.com/o/oauth2/v2/auth")},
      {"revoke_uri with a fragment", with("revoke_uri", "https://oauth2.googleapis.com/revoke#x")},
      {"drive_api_url with a query", with("drive_api_url", "https://www.googleapis.com/?key=1")},
      {"issuer over http", with("issuer", "http://accounts.google.com")},
      {"empty scopes", with("scopes", json::array())},
      {"scope with a space", with("scopes", json::array({"a b"}))},
      {"misspelt endpoint", with("token_url", "https://oauth2.googleapis.com/token")},
      {"both client files", json{{"web", base_settings()}, {"installed", base_settings()}}},
      {"client file that is not an object", json{{"web", kClientSecret}}},
      {"client file without a secret", json{{"web", {{"client_id", kClientId}}}}},
  };
  for (const auto& refused : cases) {
    const OperationResult result = create_refused(refused.settings);
    EXPECT_EQ(result.status, CONNECTOR_STATUS_INVALID_INPUT) << refused.name;
    EXPECT_FALSE(result.error_description.empty()) << refused.name;
    EXPECT_EQ(result.error_description.find(kClientSecret), std::string::npos)
        << refused.name << ": " << result.error_description;
    EXPECT_EQ(result.error_description.find("12345"), std::string::npos) << refused.name;
  }
}

TEST(GoogleSheetsSettings, NamesTheFieldAtFault) {
  json settings = base_settings();
  settings.erase("client_id");
  EXPECT_EQ(create_refused(settings).error_description, "client_id is required");
  settings = base_settings();
  // What the schema says, the host checks before the plugin sees the settings ...
  settings["token_uri"] = "http://oauth2.googleapis.com/token";
  EXPECT_EQ(create_refused(settings).error_description, "setting token_uri does not match the pattern \"^https://\"");
  // ... and what it cannot say, the plugin.
  settings["token_uri"] = "https://user:pass@oauth2.googleapis.com/token";
  EXPECT_EQ(create_refused(settings).error_description,
            "token_uri must be an absolute https:// URL without user info, spaces or a fragment");
}

} // namespace
