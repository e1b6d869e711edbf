#include "support/child_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace connector::testing {

namespace {

std::string read_file(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

std::optional<std::string> wait_for_line(const std::filesystem::path& file, const std::string& needle,
                                         std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  do {
    std::istringstream lines(read_file(file));
    for (std::string line; std::getline(lines, line);) {
      if (line.find(needle) != std::string::npos) return line;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } while (std::chrono::steady_clock::now() < deadline);
  return std::nullopt;
}

// The environment for the child: ours, with `extra` added or replaced.
std::vector<std::string> merged_environment(const std::map<std::string, std::string>& extra) {
  std::map<std::string, std::string> merged;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string text(*entry);
    const auto eq = text.find('=');
    if (eq != std::string::npos) merged[text.substr(0, eq)] = text.substr(eq + 1);
  }
  for (const auto& [key, value] : extra)
    merged[key] = value;
  std::vector<std::string> out;
  for (const auto& [key, value] : merged)
    out.push_back(key + "=" + value);
  return out;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (auto& s : strings)
    out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

int spawn(std::vector<std::string> argv, const std::map<std::string, std::string>& environment, int stdout_fd,
          int stderr_fd) {
  auto env = merged_environment(environment);
  auto argv_pointers = pointers(argv);
  auto env_pointers = pointers(env);
  const int pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    ::dup2(stdout_fd, 1);
    ::dup2(stderr_fd, 2);
    const int null_fd = ::open("/dev/null", O_RDONLY);
    ::dup2(null_fd, 0);
    ::execve(argv_pointers[0], argv_pointers.data(), env_pointers.data());
    ::_exit(127);
  }
  return pid;
}

int decode_status(int status) {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

} // namespace

ChildProcess::ChildProcess(std::vector<std::string> argv, std::map<std::string, std::string> environment,
                           const std::filesystem::path& log_dir, const std::string& name)
    : stdout_file_(log_dir / (name + ".stdout")), stderr_file_(log_dir / (name + ".stderr")) {
  std::filesystem::create_directories(log_dir);
  const int out = ::open(stdout_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  const int err = ::open(stderr_file_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_ = spawn(std::move(argv), environment, out, err);
  ::close(out);
  ::close(err);
}

ChildProcess::~ChildProcess() {
  if (!exit_code_) stop(SIGTERM, std::chrono::seconds(5));
}

bool ChildProcess::running() {
  if (exit_code_) return false;
  int status = 0;
  if (::waitpid(pid_, &status, WNOHANG) == pid_) {
    exit_code_ = decode_status(status);
    return false;
  }
  return true;
}

int ChildProcess::stop(int signal, std::chrono::milliseconds timeout) {
  if (exit_code_) return *exit_code_;
  ::kill(pid_, signal);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!running()) return *exit_code_;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  exit_code_ = decode_status(status);
  return *exit_code_;
}

std::optional<std::string> ChildProcess::wait_for_stdout(const std::string& needle,
                                                         std::chrono::milliseconds timeout) const {
  return wait_for_line(stdout_file_, needle, timeout);
}

std::optional<std::string> ChildProcess::wait_for_stderr(const std::string& needle,
                                                         std::chrono::milliseconds timeout) const {
  return wait_for_line(stderr_file_, needle, timeout);
}

std::string ChildProcess::stdout_text() const { return read_file(stdout_file_); }
std::string ChildProcess::stderr_text() const { return read_file(stderr_file_); }

CommandResult run_command(const std::vector<std::string>& argv, const std::map<std::string, std::string>& environment) {
  TempDir logs("connector-command");
  ChildProcess child(argv, environment, logs.path(), "command");
  CommandResult result;
  result.exit_code = child.stop(0, std::chrono::seconds(30)); // signal 0: just wait
  result.output = child.stdout_text();
  result.errors = child.stderr_text();
  return result;
}

} // namespace connector::testing
