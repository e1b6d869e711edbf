// The SDK's settings helpers (connector/settings.hpp): what a plugin reads its settings with
// once the host has checked them against its schema, and the refusals that keep it safe when
// nothing did. A refusal names the setting and never quotes its value.
#include <connector/settings.hpp>

#include <gtest/gtest.h>

#include <string>

using namespace connector::sdk;
using nlohmann::json;

namespace {

// The message of the InvalidInput `read` throws; "" when it throws none.
template <typename Read> std::string refusal(Read read) {
  try {
    read();
  } catch (const InvalidInput& error) {
    return error.what();
  }
  return {};
}

} // namespace

TEST(SdkSettings, AbsentAndNullAreNotSet) {
  const json settings = {{"present", "x"}, {"nothing", nullptr}};
  EXPECT_NE(setting(settings, "present"), nullptr);
  EXPECT_EQ(setting(settings, "nothing"), nullptr);
  EXPECT_EQ(setting(settings, "absent"), nullptr);
  EXPECT_EQ(setting(json::array(), "present"), nullptr);
  EXPECT_FALSE(boolean_setting(settings, "nothing"));
  EXPECT_FALSE(https_url_setting(settings, "absent", UrlUse::endpoint));
}

TEST(SdkSettings, ARequiredStringIsANonEmptyString) {
  const json settings = {{"id", "client-1"}, {"empty", ""}, {"number", 42}, {"null", nullptr}};
  EXPECT_EQ(required_string_setting(settings, "id"), "client-1");
  EXPECT_EQ(refusal([&] { required_string_setting(settings, "empty"); }), "empty must not be empty");
  EXPECT_EQ(refusal([&] { required_string_setting(settings, "number"); }), "number must be a string");
  EXPECT_EQ(refusal([&] { required_string_setting(settings, "null"); }), "null is required");
  EXPECT_EQ(refusal([&] { required_string_setting(settings, "absent"); }), "absent is required");
}

TEST(SdkSettings, ABooleanIsTrueOrFalseNotText) {
  EXPECT_EQ(boolean_setting({{"flag", true}}, "flag"), true);
  EXPECT_EQ(boolean_setting({{"flag", false}}, "flag"), false);
  EXPECT_EQ(refusal([] { boolean_setting({{"flag", "false"}}, "flag"); }), "flag must be true or false");
}

TEST(SdkSettings, AnEndpointKeepsItsQueryAsWritten) {
  const auto url =
      https_url_setting({{"token_uri", "https://Login.Example.com/token?tenant=a/"}}, "token_uri", UrlUse::endpoint);
  ASSERT_TRUE(url);
  EXPECT_EQ(url->url, "https://Login.Example.com/token?tenant=a/");
  EXPECT_EQ(url->host, "login.example.com");
}

TEST(SdkSettings, ABaseUrlLosesItsTrailingSlashesAndMayNotCarryAQuery) {
  const auto url = https_url_setting({{"api", "https://api.example.com/v3//"}}, "api", UrlUse::base);
  ASSERT_TRUE(url);
  EXPECT_EQ(url->url, "https://api.example.com/v3");
  EXPECT_EQ(refusal([] {
              https_url_setting({{"api", "https://api.example.com/?x=1"}}, "api", UrlUse::base);
            }),
            "api must be an absolute https:// URL without user info, spaces, a query or a fragment");
}

TEST(SdkSettings, AnExactUrlIsKeptCharacterForCharacter) {
  const auto url = https_url_setting({{"issuer", "https://accounts.example.com/"}}, "issuer", UrlUse::exact);
  ASSERT_TRUE(url);
  EXPECT_EQ(url->url, "https://accounts.example.com/");
}

TEST(SdkSettings, AUrlRefusalNeverQuotesTheValue) {
  for (const char* bad : {"http://example.com", "https://user:hunter2@example.com", "https://example.com/#hunter2",
                          "https://exa mple.com/hunter2", "hunter2"}) {
    const std::string why = refusal([&] { https_url_setting({{"token_uri", bad}}, "token_uri", UrlUse::endpoint); });
    EXPECT_EQ(why, "token_uri must be an absolute https:// URL without user info, spaces or a fragment") << bad;
    EXPECT_EQ(why.find("hunter2"), std::string::npos);
  }
  EXPECT_FALSE(refusal([] { https_url_setting({{"token_uri", 7}}, "token_uri", UrlUse::endpoint); }).empty());
}

TEST(SdkSettings, ScopeTokensFollowRfc6749) {
  EXPECT_TRUE(is_scope_token("repo"));
  EXPECT_TRUE(is_scope_token("https://www.googleapis.com/auth/drive.readonly"));
  EXPECT_TRUE(is_scope_token("read:org!#[]~"));
  EXPECT_FALSE(is_scope_token(""));
  EXPECT_FALSE(is_scope_token("repo gist"));
  EXPECT_FALSE(is_scope_token("a\"b"));
  EXPECT_FALSE(is_scope_token("a\\b"));
  EXPECT_FALSE(is_scope_token("caf\xC3\xA9"));
}

TEST(SdkSettings, AScopeListKeepsEachScopeOnceInOrder) {
  EXPECT_EQ(scope_list(json{"repo", "gist", "repo", "user"}, "scopes"),
            (std::vector<std::string>{"repo", "gist", "user"}));
  EXPECT_TRUE(scope_list(json::array(), "scopes").empty());
  EXPECT_EQ(refusal([] { scope_list("repo", "scopes"); }), "scopes must be an array of strings");
  EXPECT_EQ(refusal([] { scope_list(json{"repo gist"}, "flow option scopes"); }),
            "flow option scopes must hold scope names without spaces, quotes or backslashes");
  EXPECT_FALSE(refusal([] { scope_list(json{"repo", 3}, "scopes"); }).empty());
}

TEST(SdkSettings, AppendUniqueAddsOnlyWhatIsMissing) {
  std::vector<std::string> hosts{"github.com"};
  append_unique(hosts, "api.github.com");
  append_unique(hosts, "github.com");
  EXPECT_EQ(hosts, (std::vector<std::string>{"github.com", "api.github.com"}));
}
