#include "store/generation_cache.hpp"

#include <gtest/gtest.h>

using connector::core::GenerationCache;

TEST(GenerationCache, ServesEntriesOfTheCurrentGenerationOnly) {
  GenerationCache<std::string> cache(8);
  cache.put("a", "first", 1);
  EXPECT_EQ(cache.find("a", 1), "first");
  EXPECT_EQ(cache.find("b", 1), std::nullopt);

  // A newer generation forgets everything read before it.
  EXPECT_EQ(cache.find("a", 2), std::nullopt);
  EXPECT_EQ(cache.size(), 0U);
  cache.put("a", "second", 2);
  EXPECT_EQ(cache.find("a", 2), "second");
}

TEST(GenerationCache, AnOlderGenerationIsNeitherServedNorKept) {
  GenerationCache<std::string> cache(8);
  cache.put("a", "new", 5);
  // A caller that read the counter before it moved may hold a value older than the cache's.
  EXPECT_EQ(cache.find("a", 4), std::nullopt);
  cache.put("a", "old", 4);
  EXPECT_EQ(cache.find("a", 5), "new");
}

TEST(GenerationCache, StartsOverWhenFull) {
  GenerationCache<int> cache(3);
  for (int i = 0; i < 3; ++i)
    cache.put(std::to_string(i), i, 1);
  EXPECT_EQ(cache.size(), 3U);
  cache.put("3", 3, 1);
  EXPECT_EQ(cache.size(), 1U);
  EXPECT_EQ(cache.find("3", 1), 3);
  EXPECT_EQ(cache.find("0", 1), std::nullopt);
}
