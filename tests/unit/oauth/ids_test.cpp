// Ids the API hands out, and the row keys at the front of connection ids (oauth/ids.hpp).
#include "oauth/ids.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>
#include <vector>

using namespace connector::core;

namespace {

constexpr int64_t lowest_row_key = int64_t{1} << 60;

bool is_lower_hex(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

} // namespace

TEST(Ids, AKeyedIdIsThePrefixThenThirtyTwoHexDigitsWhoseFirstSixteenAreItsKey) {
  const std::string id = make_keyed_id("conn");
  ASSERT_EQ(id.size(), 5U + 32U) << id;
  EXPECT_EQ(id.substr(0, 5), "conn_");
  EXPECT_TRUE(is_lower_hex(id.substr(5))) << id;
  const std::optional<int64_t> key = row_key_in_id(id);
  ASSERT_TRUE(key) << id;
  EXPECT_EQ(*key, static_cast<int64_t>(std::stoull(id.substr(5, 16), nullptr, 16)));
  EXPECT_GE(*key, lowest_row_key);
}

TEST(Ids, KeyedIdsDifferInTheirRandomHalf) {
  const std::string first = make_keyed_id("conn");
  const std::string second = make_keyed_id("conn");
  EXPECT_NE(first.substr(21), second.substr(21));
}

TEST(Ids, KeysStrictlyIncreaseAndNeverRepeatAcrossThreads) {
  constexpr int threads = 4;
  constexpr int per_thread = 5000;
  std::vector<std::vector<int64_t>> keys(threads);
  std::vector<std::thread> workers;
  workers.reserve(threads);
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&keys, t] {
      for (int i = 0; i < per_thread; ++i)
        keys[t].push_back(*row_key_in_id(make_keyed_id("conn")));
    });
  }
  for (std::thread& worker : workers)
    worker.join();
  std::set<int64_t> all;
  for (const std::vector<int64_t>& own : keys) {
    EXPECT_TRUE(std::is_sorted(own.begin(), own.end()));
    EXPECT_EQ(std::adjacent_find(own.begin(), own.end()), own.end()) << "a key repeated within a thread";
    all.insert(own.begin(), own.end());
  }
  EXPECT_EQ(all.size(), static_cast<std::size_t>(threads * per_thread));
}

// The clock leads the keys: a key is at least 2^60 + milliseconds since the epoch * 2^16.
TEST(Ids, KeysFollowTheClock) {
  for (int i = 0; i < 3; ++i) {
    const auto millis =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count();
    EXPECT_GE(*row_key_in_id(make_keyed_id("conn")), lowest_row_key + (int64_t{millis} << 16));
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
  }
}

TEST(Ids, KeysStayAboveAFloorTheStoreSets) {
  const int64_t now = *row_key_in_id(make_keyed_id("conn"));
  const int64_t far_ahead = now + (int64_t{1} << 40);
  keep_row_keys_above(far_ahead);
  EXPECT_EQ(*row_key_in_id(make_keyed_id("conn")), far_ahead + 1);
  keep_row_keys_above(now); // a lower floor changes nothing
  EXPECT_EQ(*row_key_in_id(make_keyed_id("conn")), far_ahead + 2);
}

TEST(Ids, OnlyIdsOfTheKeyedShapeNameARow) {
  // make_id's shape: its first sixteen digits (milliseconds, then random) stay below 2^60.
  EXPECT_FALSE(row_key_in_id(make_id("conn")));
  EXPECT_FALSE(row_key_in_id("conn_1"));
  EXPECT_FALSE(row_key_in_id(""));
  EXPECT_FALSE(row_key_in_id("conn_100000000000000000000000000000000")) << "33 digits";
  EXPECT_FALSE(row_key_in_id("conn_1000000000000000000000000000000")) << "31 digits";
  EXPECT_FALSE(row_key_in_id("conn_1000000000000000000000000000000G")) << "not hex";
  EXPECT_FALSE(row_key_in_id("conn_10000000000000000000000000000ABC")) << "upper case";
  EXPECT_FALSE(row_key_in_id("conn_0fffffffffffffff0000000000000000")) << "below 2^60";
  EXPECT_FALSE(row_key_in_id("conn_8000000000000000000000000000000a")) << "past SQLite's largest rowid";
  EXPECT_EQ(row_key_in_id("conn_1000000000000000ffffffffffffffff"), lowest_row_key);
  EXPECT_EQ(row_key_in_id("conn_7fffffffffffffff0000000000000000"), INT64_MAX);
}
