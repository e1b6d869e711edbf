// How a long command (encryption rewrap, database copy, database migrate) shows where it is,
// on standard error.
// On a terminal one line is redrawn in place, at most five times a second: rows done, of how
// many, the rate and the time left. Otherwise (a log, a pipe) a plain line every few seconds.
// finish() ends with a summary line either way.
#pragma once

#include <chrono>
#include <cstdint>
#include <ostream>
#include <string>

namespace connector::host {

class Progress {
public:
  // `total` 0: not known, so no share or time left is shown.
  Progress(std::ostream& out, bool terminal, std::string what, int64_t total);

  void update(int64_t done); // rows done so far
  // A new stage (a migration step) is shown at once, after the figures, and stays shown:
  // a step can run for minutes without another update.
  void update(int64_t done, const std::string& stage);
  void finish(const std::string& summary);

  // The figures one line shows, e.g. "rewrap: 12,500 of 40,000 (31 %), 4,100/s, about 7 s left".
  static std::string line(const std::string& what, int64_t done, int64_t total, std::chrono::duration<double> elapsed);

private:
  std::ostream& out_;
  const bool terminal_;
  const std::string what_;
  const int64_t total_;
  const std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point last_shown_ = started_;
  int64_t done_ = 0;
  std::string stage_;
  bool drawn_ = false;

  void show(std::chrono::steady_clock::time_point now);
};

// Whether standard error is a terminal.
bool standard_error_is_terminal();

} // namespace connector::host
