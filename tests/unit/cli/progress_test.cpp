// What a long command shows while it runs (host/cli/progress.hpp).
#include "cli/progress.hpp"

#include <gtest/gtest.h>

#include <sstream>
#include <thread>

using connector::host::Progress;
using namespace std::chrono_literals;

TEST(Progress, ALineSaysRowsShareRateAndTimeLeft) {
  EXPECT_EQ(Progress::line("rewrap", 12500, 40000, 2.5s), "rewrap: 12,500 of 40,000 (31 %), 5,000/s, about 6 s left");
  EXPECT_EQ(Progress::line("copy", 1234567, 0, 10s), "copy: 1,234,567, 123,456/s")
      << "no total: no share, no time left";
  EXPECT_EQ(Progress::line("copy", 10, 1000000, 10s), "copy: 10 of 1,000,000 (0 %), 1/s, about 277 h 46 min left");
  EXPECT_EQ(Progress::line("copy", 5, 10, 0.1s), "copy: 5 of 10 (50 %)") << "too early for a rate";
  EXPECT_EQ(Progress::line("copy", 10, 10, 90s), "copy: 10 of 10 (100 %), 0/s");
}

TEST(Progress, WithoutATerminalItWritesPlainLinesAndASummary) {
  std::ostringstream out;
  Progress progress(out, /*terminal=*/false, "rewrap", 100);
  progress.update(50); // within the first 5 s: nothing yet
  progress.finish("rewrap: 100 secrets read");
  EXPECT_EQ(out.str().rfind("rewrap: 100 secrets read (", 0), 0U) << out.str();
  EXPECT_EQ(out.str().find('\r'), std::string::npos) << "no terminal control in a log";
  EXPECT_EQ(out.str().find("\033"), std::string::npos);
}

TEST(Progress, OnATerminalItRedrawsOneLine) {
  std::ostringstream out;
  Progress progress(out, /*terminal=*/true, "rewrap", 100);
  std::this_thread::sleep_for(250ms);
  progress.update(50);
  progress.finish("done");
  const std::string text = out.str();
  EXPECT_EQ(text.rfind("\rrewrap: 50 of 100 (50 %)", 0), 0U) << text;
  EXPECT_NE(text.find("\r\033[Kdone ("), std::string::npos) << text;
  EXPECT_EQ(text.back(), '\n');
}
