#include "crypto/random.hpp"
#include "oauth/pkce.hpp"

#include <gtest/gtest.h>

#include <set>

using namespace connector::core;

TEST(Pkce, ReproducesTheRfc7636AppendixBVector) {
  EXPECT_EQ(pkce_s256_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
}

TEST(Pkce, VerifiersAreFreshAndWithinTheAllowedAlphabet) {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    const std::string verifier = make_pkce_verifier();
    ASSERT_EQ(verifier.size(), 43U); // 32 octets, base64url without padding
    EXPECT_EQ(verifier.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"),
              std::string::npos);
    EXPECT_TRUE(seen.insert(verifier).second) << "verifier repeated";
  }
}

TEST(Base64Url, EncodesEveryTailLengthWithoutPadding) {
  EXPECT_EQ(base64url_encode(""), "");
  EXPECT_EQ(base64url_encode("f"), "Zg");
  EXPECT_EQ(base64url_encode("fo"), "Zm8");
  EXPECT_EQ(base64url_encode("foo"), "Zm9v");
  EXPECT_EQ(base64url_encode("foob"), "Zm9vYg");
  EXPECT_EQ(base64url_encode(std::string("\xfb\xff", 2)), "-_8");
}

TEST(RandomToken, CarriesTheRequestedEntropy) {
  EXPECT_EQ(random_token(256).size(), 43U);
  EXPECT_NE(random_token(256), random_token(256));
}
