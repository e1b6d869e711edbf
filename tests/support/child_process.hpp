// Starts a real program for an integration test (the host, a provider double), with its
// own environment, standard output and error captured to files, and stops it at the end.
#pragma once

#include "support/temp_dir.hpp"

#include <chrono>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace connector::testing {

class ChildProcess {
public:
  // `environment` adds to (or replaces in) this process's environment.
  ChildProcess(std::vector<std::string> argv, std::map<std::string, std::string> environment,
               const std::filesystem::path& log_dir, const std::string& name);
  ~ChildProcess(); // SIGTERM, then SIGKILL after 5 s
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Waits until a line of standard output (or error) contains `needle`; returns that line.
  std::optional<std::string> wait_for_stdout(const std::string& needle, std::chrono::milliseconds timeout) const;
  std::optional<std::string> wait_for_stderr(const std::string& needle, std::chrono::milliseconds timeout) const;

  std::string stdout_text() const;
  std::string stderr_text() const;
  int pid() const { return pid_; }

  // Sends `signal` and waits for the exit; returns the exit code (or 128 + signal).
  int stop(int signal, std::chrono::milliseconds timeout = std::chrono::seconds(15));
  bool running();

private:
  int pid_ = -1;
  std::filesystem::path stdout_file_;
  std::filesystem::path stderr_file_;
  std::optional<int> exit_code_;
};

// Runs a program to its end; returns its exit code, standard output and standard error.
struct CommandResult {
  int exit_code = -1;
  std::string output;
  std::string errors;
};
CommandResult run_command(const std::vector<std::string>& argv, const std::map<std::string, std::string>& environment);

} // namespace connector::testing
