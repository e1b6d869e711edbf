// Ids the API hands out (oauth/ids.hpp).
#include "oauth/ids.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <string>
#include <thread>
#include <vector>

using namespace connector::core;

namespace {

bool is_lower_hex(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

int64_t milliseconds_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

} // namespace

TEST(Ids, AnIdIsThePrefixThenThirtyTwoLowerCaseHexDigits) {
  for (const std::string prefix : {"conn", "src", "ws"}) {
    const std::string id = make_id(prefix);
    ASSERT_EQ(id.size(), prefix.size() + 1 + 32) << id;
    EXPECT_EQ(id.substr(0, prefix.size() + 1), prefix + "_");
    EXPECT_TRUE(is_lower_hex(id.substr(prefix.size() + 1))) << id;
  }
}

// The first twelve digits are the milliseconds it was made at, so ids made one after another
// sort together (an index over them grows at its end).
TEST(Ids, AnIdStartsWithTheMillisecondItWasMadeAt) {
  const int64_t before = milliseconds_now();
  const std::string id = make_id("conn");
  const int64_t after = milliseconds_now();
  const int64_t stamped = std::stoll(id.substr(5, 12), nullptr, 16);
  EXPECT_GE(stamped, before);
  EXPECT_LE(stamped, after);
}

// 64 random bits after the time: ids made in the same millisecond differ there too, and none
// repeats.
TEST(Ids, IdsNeverRepeatAndDifferInTheirRandomPart) {
  std::set<std::string> ids;
  std::set<std::string> random_parts;
  constexpr int count = 20000;
  for (int i = 0; i < count; ++i) {
    const std::string id = make_id("conn");
    ids.insert(id);
    random_parts.insert(id.substr(5 + 16));
  }
  EXPECT_EQ(ids.size(), static_cast<std::size_t>(count));
  EXPECT_EQ(random_parts.size(), static_cast<std::size_t>(count));
}

// Ids made one after another sort in that order, many in one millisecond included, from any
// thread: the 16 digits of time grow with every id the process makes.
TEST(Ids, IdsSortInTheOrderTheProcessMadeThem) {
  constexpr int per_thread = 20000;
  std::vector<std::vector<std::string>> made(2);
  std::vector<std::thread> threads;
  threads.reserve(made.size());
  for (auto& ids : made) {
    threads.emplace_back([&ids] {
      ids.reserve(per_thread);
      for (int i = 0; i < per_thread; ++i)
        ids.push_back(make_id("conn"));
    });
  }
  for (auto& thread : threads)
    thread.join();
  std::set<std::string> time_parts;
  for (const auto& ids : made) {
    for (std::size_t i = 1; i < ids.size(); ++i)
      ASSERT_LT(ids[i - 1].substr(5, 16), ids[i].substr(5, 16))
          << "made in this order: " << ids[i - 1] << ", " << ids[i];
    for (const auto& id : ids)
      time_parts.insert(id.substr(5, 16));
  }
  EXPECT_EQ(time_parts.size(), 2U * per_thread) << "no two ids share their time part";
}

TEST(Ids, SplitWordsSkipsRunsOfSpaces) {
  EXPECT_EQ(split_words("  repo  read:user "), (std::vector<std::string>{"repo", "read:user"}));
  EXPECT_TRUE(split_words("").empty());
  EXPECT_TRUE(split_words("   ").empty());
}
