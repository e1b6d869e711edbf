#include "crypto/random.hpp"
#include "oauth/pkce.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

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

// Draws come from a per-thread block: no byte is handed out twice, across block refills and
// across threads, and a large draw bypasses the block.
TEST(RandomBytes, NoDrawRepeatsAcrossBlocksAndThreads) {
  std::set<std::string> seen;
  std::mutex seen_mutex;
  const auto draw_many = [&] {
    std::vector<std::string> mine;
    for (int i = 0; i < 400; ++i) // 400 x 16 bytes: several 1 KiB blocks
      mine.push_back(random_bytes(16));
    const std::lock_guard lock(seen_mutex);
    for (auto& bytes : mine)
      EXPECT_TRUE(seen.insert(bytes).second) << "a 16-byte draw came out twice";
  };
  std::thread other(draw_many);
  draw_many();
  other.join();
  EXPECT_EQ(seen.size(), 800U);
  const std::string large = random_bytes(4096);
  EXPECT_EQ(large.size(), 4096U);
  EXPECT_NE(large.substr(0, 16), large.substr(16, 16));
}

// A forked child starts with a copy of its parent's block: it must draw afresh instead of
// handing out the bytes the parent hands out next.
TEST(RandomBytes, AForkedChildNeverRepeatsItsParentsNextBytes) {
  (void)random_bytes(16); // the block is full and in use
  int pipe_ends[2];
  ASSERT_EQ(::pipe(pipe_ends), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    const std::string drawn = random_bytes(16);
    const bool written = ::write(pipe_ends[1], drawn.data(), drawn.size()) == static_cast<ssize_t>(drawn.size());
    ::_exit(written ? 0 : 1);
  }
  ::close(pipe_ends[1]);
  const std::string parents = random_bytes(16);
  std::string childs(16, '\0');
  ASSERT_EQ(::read(pipe_ends[0], childs.data(), childs.size()), 16);
  ::close(pipe_ends[0]);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_NE(parents, childs) << "the child handed out its parent's next bytes";
}
