#include "oauth/redirect_policy.hpp"

#include <gtest/gtest.h>

using namespace connector::core;

namespace {

std::string key_of(const std::string& url) {
  auto normalized = normalize_redirect_url(url);
  EXPECT_TRUE(normalized) << url << ": " << (normalized ? "" : normalized.error().message);
  return normalized ? normalized->key : std::string();
}

bool refused(const std::string& url) { return !normalize_redirect_url(url).ok(); }

} // namespace

TEST(RedirectPolicy, NormalisesCaseDefaultPortsEscapesAndDotSegments) {
  EXPECT_EQ(key_of("https://APP.Example.com:443/callback?x=1"), "https://app.example.com/callback");
  EXPECT_EQ(key_of("https://app.example.com/%63allback"), "https://app.example.com/callback");
  EXPECT_EQ(key_of("https://app.example.com/a/../callback"), "https://app.example.com/callback");
  EXPECT_EQ(key_of("https://app.example.com"), "https://app.example.com/");
  EXPECT_EQ(key_of("http://127.0.0.1:3000/cb"), "http://127.0.0.1:3000/cb");
  EXPECT_EQ(key_of("http://localhost/cb"), "http://localhost/cb");
  EXPECT_EQ(key_of("http://[::1]:8080/cb"), "http://[::1]:8080/cb");
}

TEST(RedirectPolicy, RefusesEveryTrickThatWouldChangeTheHost) {
  EXPECT_TRUE(refused("https://app.example.com@evil.example/cb"));
  EXPECT_TRUE(refused("https://evil.example\\@app.example.com/cb"));
  EXPECT_TRUE(refused("https://app.example.com%2F@evil.example/cb"));
  EXPECT_TRUE(refused("https://app.example.com/cb#fragment"));
  EXPECT_TRUE(refused("//evil.example/cb"));
  EXPECT_TRUE(refused("/relative/cb"));
  EXPECT_TRUE(refused("javascript:alert(1)"));
  EXPECT_TRUE(refused("data:text/html,hi"));
  EXPECT_TRUE(refused("http://app.example.com/cb")); // http only on loopback
  EXPECT_TRUE(refused("https://app.example.com/c b"));
  EXPECT_TRUE(refused("https://app.example.com/cb\r\nSet-Cookie: x"));
  EXPECT_TRUE(refused(""));
  EXPECT_TRUE(refused("https:///cb"));
}

TEST(RedirectPolicy, MatchesOnOriginAndPathOnly) {
  const std::vector<std::string> allowed = {key_of("https://app.example.com/callback")};
  EXPECT_TRUE(redirect_allowed(*normalize_redirect_url("https://app.example.com/callback?tab=2"), allowed));
  EXPECT_FALSE(redirect_allowed(*normalize_redirect_url("https://app.example.com/callback/extra"), allowed));
  EXPECT_FALSE(redirect_allowed(*normalize_redirect_url("https://app.example.com.evil.example/callback"), allowed));
  EXPECT_FALSE(redirect_allowed(*normalize_redirect_url("https://app.example.com:8443/callback"), allowed));
  // An escaped dot is decoded before comparing, so it names the other host it spells.
  EXPECT_FALSE(redirect_allowed(*normalize_redirect_url("https://app.example.com%2Eevil.example/callback"), allowed));
}

TEST(RedirectPolicy, AppendsParametersToAnExistingQuery) {
  EXPECT_EQ(append_query("https://app.example.com/cb?tab=2", {{"connection_id", "conn_1"}, {"error", "a b&c"}}),
            "https://app.example.com/cb?tab=2&connection_id=conn_1&error=a%20b%26c");
}

// Finding 7: plain http is for loopback only, and a name that merely begins like a loopback
// address is a name on the internet.
TEST(RedirectPolicy, PlainHttpOnlyOnLoopbackLiteralsAndLocalhost) {
  EXPECT_TRUE(refused("http://127.0.0.1.evil.example/cb"));
  EXPECT_TRUE(refused("http://127.0.0.1evil.example/cb"));
  EXPECT_TRUE(refused("http://localhost.evil.example/cb"));
  EXPECT_TRUE(refused("http://evil.localhost.example/cb"));
  EXPECT_TRUE(refused("http://[::2]/cb"));
  EXPECT_TRUE(refused("http://128.0.0.1/cb"));
  EXPECT_TRUE(refused("http://0x7f.0.0.1/cb"));
  EXPECT_TRUE(refused("http://2130706433/cb"));
  EXPECT_EQ(key_of("http://127.1.2.3:9/cb"), "http://127.1.2.3:9/cb");
  EXPECT_EQ(key_of("http://LOCALHOST:9/cb"), "http://localhost:9/cb");
  // Boost.URL 1.81 splits a name that begins with an IPv4 address into that address and a
  // path: such names are refused whatever the scheme, rather than checked as the wrong host.
  EXPECT_TRUE(refused("https://127.0.0.1.example.com/cb"));
  EXPECT_EQ(key_of("https://app127.0.0.1.example.com/cb"), "https://app127.0.0.1.example.com/cb");
}

// Finding 7: the host appends connection_id and status (and error, source_id); a URL that
// carries them already would reach the client with two values of each.
TEST(RedirectPolicy, RefusesUrlsCarryingTheParametersTheHostAdds) {
  for (const char* name : {"connection_id", "status", "source_id", "error", "error_description"}) {
    EXPECT_TRUE(refused(std::string("https://app.example.com/cb?") + name + "=x")) << name;
    EXPECT_TRUE(refused(std::string("https://app.example.com/cb?tab=2&") + name)) << name;
  }
  EXPECT_TRUE(refused("https://app.example.com/cb?%73tatus=x")); // escaped, still "status"
  EXPECT_EQ(key_of("https://app.example.com/cb?statuses=1&tab=2"), "https://app.example.com/cb");
}

TEST(HostRedirectAllowList, AUrlSentExactlyAsAllowedIsTakenAsItsOwnNormalForm) {
  const auto list = HostRedirectAllowList::from_urls({"HTTPS://App.Example.com:443/callback"});
  ASSERT_TRUE(list);
  const auto exact = list->normalize("https://app.example.com/callback");
  ASSERT_TRUE(exact);
  EXPECT_EQ(exact->full, "https://app.example.com/callback");
  EXPECT_EQ(exact->key, "https://app.example.com/callback");
  EXPECT_TRUE(list->allows(*exact));
}

TEST(HostRedirectAllowList, AnyOtherSpellingIsNormalisedAndCheckedAsAlways) {
  const auto list = HostRedirectAllowList::from_urls({"https://app.example.com/callback"});
  ASSERT_TRUE(list);
  // The allowed URL as the operator wrote it, not as it normalises: the long way.
  const auto spelled = list->normalize("HTTPS://APP.example.com:443/%63allback?tab=2");
  ASSERT_TRUE(spelled);
  EXPECT_EQ(spelled->full, "https://app.example.com/callback?tab=2");
  EXPECT_EQ(spelled->key, "https://app.example.com/callback");
  EXPECT_TRUE(list->allows(*spelled));
  EXPECT_FALSE(list->normalize("https://app.example.com/callback#fragment"));
  EXPECT_FALSE(list->normalize("https://app.example.com/callback?connection_id=x"));
  const auto elsewhere = list->normalize("https://other.example/callback");
  ASSERT_TRUE(elsewhere);
  EXPECT_FALSE(list->allows(*elsewhere));
  EXPECT_FALSE(HostRedirectAllowList().allows(*spelled));
}

TEST(HostRedirectAllowList, RefusesAListWithAnUnacceptableUrlAndSaysWhy) {
  const auto list = HostRedirectAllowList::from_urls({"https://app.example.com/callback", "http://app.example.com/cb"});
  ASSERT_FALSE(list);
  EXPECT_NE(list.error().message.find("https"), std::string::npos) << list.error().message;
}

// Found by fuzz_redirect_policy: a URL of 2,048 characters without a path gains its "/" when
// normalised, and its normal form was then refused by the same rule that accepted it.
TEST(RedirectPolicy, TheNormalFormKeepsToTheLengthLimitToo) {
  const std::string origin = "https://app.example.com?";
  const auto at_limit = normalize_redirect_url(origin + std::string(2048 - origin.size(), 'x'));
  ASSERT_FALSE(at_limit);
  EXPECT_NE(at_limit.error().message.find("once normalised"), std::string::npos) << at_limit.error().message;
  const auto below = normalize_redirect_url(origin + std::string(2047 - origin.size(), 'x'));
  ASSERT_TRUE(below);
  EXPECT_EQ(below->full.size(), 2048U);
  EXPECT_TRUE(normalize_redirect_url(below->full));
}
