#include "oauth/rate_limiter.hpp"

#include <gtest/gtest.h>

using connector::core::RateLimiter;
using namespace std::chrono_literals;

TEST(RateLimiter, LetsABurstThroughThenRefillsAtTheRate) {
  RateLimiter limiter(6); // 6 a minute: one every 10 s
  const auto start = RateLimiter::Clock::time_point{} + 1h;
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ(limiter.acquire("org_a", start), 0) << i;
  EXPECT_EQ(limiter.acquire("org_a", start), 10) << "the next one in 10 s";
  EXPECT_EQ(limiter.acquire("org_a", start + 4s), 6) << "a refused request takes nothing";
  EXPECT_EQ(limiter.acquire("org_a", start + 10s), 0);
  EXPECT_GT(limiter.acquire("org_a", start + 10s), 0);
  EXPECT_EQ(limiter.acquire("org_b", start), 0) << "each key has its own bucket";
}

TEST(RateLimiter, NeverHoldsMoreThanOneBurst) {
  RateLimiter limiter(2);
  const auto start = RateLimiter::Clock::time_point{} + 1h;
  EXPECT_EQ(limiter.acquire("org_a", start), 0);
  const auto later = start + 24h;
  EXPECT_EQ(limiter.acquire("org_a", later), 0);
  EXPECT_EQ(limiter.acquire("org_a", later), 0);
  EXPECT_EQ(limiter.acquire("org_a", later), 30);
}

TEST(RateLimiter, ZeroMeansNoLimit) {
  RateLimiter limiter(0);
  EXPECT_FALSE(limiter.enabled());
  for (int i = 0; i < 1000; ++i)
    ASSERT_EQ(limiter.acquire("org_a"), 0);
}
