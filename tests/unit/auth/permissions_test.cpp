#include "auth/permissions.hpp"

#include <gtest/gtest.h>

using namespace connector::host;

TEST(Permissions, AKeyHoldsWholeWordsOnly) {
  EXPECT_TRUE(holds_permission("sources admin", "admin"));
  EXPECT_TRUE(holds_permission("admin", "admin"));
  EXPECT_TRUE(holds_permission("sources,credentials:read", "credentials:read"));
  EXPECT_FALSE(holds_permission("sources admins", "admin"));
  EXPECT_FALSE(holds_permission("xadmin sources", "admin"));
  EXPECT_FALSE(holds_permission("credentials:readx", "credentials:read"));
  EXPECT_FALSE(holds_permission("", "admin"));
  EXPECT_FALSE(holds_permission("sources", ""));
}

// A misspelt permission must not silently make a weaker key.
TEST(Permissions, ParsingRefusesUnknownWordsAndNormalises) {
  std::string unknown;
  EXPECT_EQ(parse_permissions(" sources,admin  sources ", unknown).value_or("?"), "sources admin");
  EXPECT_FALSE(parse_permissions("sources admni", unknown).has_value());
  EXPECT_EQ(unknown, "admni");
  EXPECT_EQ(parse_permissions("", unknown).value_or("?"), "");
}
