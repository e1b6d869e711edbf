#include <connector/encoding.hpp>

#include <gtest/gtest.h>

using namespace connector::sdk;

TEST(FormEncoding, SpaceIsPlusAndPlusIsEscaped) {
  EXPECT_EQ(form_encode_component("a b+c"), "a+b%2Bc");
  EXPECT_EQ(form_encode_component("https://x.example/p?q=1&r"), "https%3A%2F%2Fx.example%2Fp%3Fq%3D1%26r");
  EXPECT_EQ(form_encode_component("-._~AZaz09"), "-._~AZaz09");
  EXPECT_EQ(form_encode_component("\xC3\xA9"), "%C3%A9"); // UTF-8 bytes escaped one by one
}

TEST(FormEncoding, KeepsOrderAndEmptyValues) {
  EXPECT_EQ(form_encode({{"scope", "repo read:org"}, {"empty", ""}, {"code", "4/0Ab"}}),
            "scope=repo+read%3Aorg&empty=&code=4%2F0Ab");
}

TEST(FormDecoding, PlusIsSpaceAndEscapedPlusIsPlus) {
  const Params params = form_decode("a=1+2&b=1%2B2&c&=x&d=%zz&e=%C3%A9");
  ASSERT_EQ(params.size(), 6U);
  EXPECT_EQ(params[0], (std::pair<std::string, std::string>{"a", "1 2"}));
  EXPECT_EQ(params[1].second, "1+2");
  EXPECT_EQ(params[2], (std::pair<std::string, std::string>{"c", ""}));
  EXPECT_EQ(params[3], (std::pair<std::string, std::string>{"", "x"}));
  EXPECT_EQ(params[4].second, "%zz"); // a malformed escape stays as written
  EXPECT_EQ(params[5].second, "\xC3\xA9");
}

TEST(FormDecoding, RoundTripsWhatItEncodes) {
  const Params original = {{"state", "a+b c/d?e=f&g"}, {"x", "%2B"}};
  EXPECT_EQ(form_decode(form_encode(original)), original);
}

TEST(Query, AppendsToAnExistingQuery) {
  EXPECT_EQ(with_query("https://a.example/auth", {{"x", "1"}}), "https://a.example/auth?x=1");
  EXPECT_EQ(with_query("https://a.example/auth?tenant=t", {{"x", "1"}}), "https://a.example/auth?tenant=t&x=1");
  EXPECT_EQ(with_query("https://a.example/auth", {}), "https://a.example/auth");
}

TEST(Scopes, SplitOnSpacesAndCommasAndJoinWithSpaces) {
  EXPECT_EQ(split_scopes("repo,gist"), (std::vector<std::string>{"repo", "gist"}));
  EXPECT_EQ(split_scopes(" repo, read:org  user "), (std::vector<std::string>{"repo", "read:org", "user"}));
  EXPECT_TRUE(split_scopes("").empty());
  EXPECT_EQ(join_scopes({"a", "", "b"}), "a b");
}

TEST(HttpsUrl, AcceptsOnlyPlainHttpsUrls) {
  const auto ok = parse_https_url("https://GHE.Example.com:8443/api/v3");
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->host, "ghe.example.com");
  EXPECT_EQ(ok->authority, "GHE.Example.com:8443");
  EXPECT_EQ(parse_https_url("https://[::1]:9/x")->host, "[::1]");
  EXPECT_FALSE(parse_https_url("http://github.com"));
  EXPECT_FALSE(parse_https_url("https://user@evil.example/"));
  EXPECT_FALSE(parse_https_url("https://"));
  EXPECT_FALSE(parse_https_url("https:///path"));
  EXPECT_FALSE(parse_https_url("https://a.example\\@b.example/"));
  EXPECT_FALSE(parse_https_url("https://a.example/ x"));
}

TEST(Base64, EncodesRfc4648sTestVectorsWithPadding) {
  // RFC 4648 section 10.
  EXPECT_EQ(connector::sdk::base64_encode(""), "");
  EXPECT_EQ(connector::sdk::base64_encode("f"), "Zg==");
  EXPECT_EQ(connector::sdk::base64_encode("fo"), "Zm8=");
  EXPECT_EQ(connector::sdk::base64_encode("foo"), "Zm9v");
  EXPECT_EQ(connector::sdk::base64_encode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(connector::sdk::base64_encode(std::string("\xff\xfe\x00", 3)), "//4A");
}
