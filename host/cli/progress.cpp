#include "cli/progress.hpp"

#include <unistd.h>

#include <cmath>

namespace connector::host {

namespace {

constexpr std::chrono::milliseconds terminal_interval{200};
constexpr std::chrono::seconds plain_interval{5};

// 1234567 -> "1,234,567"
std::string grouped(int64_t value) {
  const std::string digits = std::to_string(value);
  const std::size_t sign = value < 0 ? 1 : 0;
  std::string text = digits.substr(0, sign);
  for (std::size_t i = sign; i < digits.size(); ++i) {
    if (i > sign && (digits.size() - i) % 3 == 0) text += ',';
    text += digits[i];
  }
  return text;
}

std::string duration_text(double seconds) {
  const auto whole = static_cast<int64_t>(std::ceil(seconds));
  if (whole < 60) return std::to_string(whole) + " s";
  if (whole < 3600) return std::to_string(whole / 60) + " min " + std::to_string(whole % 60) + " s";
  return std::to_string(whole / 3600) + " h " + std::to_string(whole % 3600 / 60) + " min";
}

} // namespace

Progress::Progress(std::ostream& out, bool terminal, std::string what, int64_t total)
    : out_(out), terminal_(terminal), what_(std::move(what)), total_(total) {}

std::string Progress::line(const std::string& what, int64_t done, int64_t total,
                           std::chrono::duration<double> elapsed) {
  std::string text = what + ": " + grouped(done);
  if (total > 0) {
    text += " of " + grouped(total) + " (" + std::to_string(std::min<int64_t>(100, done * 100 / total)) + " %)";
  }
  const double seconds = elapsed.count();
  if (seconds >= 0.5 && done > 0) {
    const double rate = static_cast<double>(done) / seconds;
    text += ", " + grouped(static_cast<int64_t>(rate)) + "/s";
    if (total > done) text += ", about " + duration_text(static_cast<double>(total - done) / rate) + " left";
  }
  return text;
}

void Progress::update(int64_t done) {
  done_ = done;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_shown_ < (terminal_ ? std::chrono::milliseconds(terminal_interval) : plain_interval)) return;
  show(now);
}

void Progress::update(int64_t done, const std::string& stage) {
  done_ = done;
  stage_ = stage;
  show(std::chrono::steady_clock::now());
}

void Progress::show(std::chrono::steady_clock::time_point now) {
  last_shown_ = now;
  std::string text = line(what_, done_, total_, now - started_);
  if (!stage_.empty()) text += ": " + stage_;
  if (terminal_) {
    out_ << "\r" << text << "\033[K" << std::flush; // \033[K clears what a longer line left
    drawn_ = true;
  } else {
    out_ << text << "\n" << std::flush;
  }
}

void Progress::finish(const std::string& summary) {
  if (drawn_) out_ << "\r\033[K";
  out_ << summary << " ("
       << duration_text(std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count()) << ")\n"
       << std::flush;
}

bool standard_error_is_terminal() { return ::isatty(STDERR_FILENO) == 1; }

} // namespace connector::host
