#include "cli/data_folder.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <system_error>

namespace connector::host {

namespace {

constexpr mode_t private_folder = 0700;
constexpr mode_t private_file = 0600;

void set_mode(const std::filesystem::path& path, mode_t mode) {
  if (::chmod(path.c_str(), mode) != 0) {
    throw std::system_error(errno, std::generic_category(), "cannot make " + path.string() + " private");
  }
}

} // namespace

void prepare_data_folder(const std::filesystem::path& data_dir, const std::filesystem::path& database_file) {
  std::filesystem::create_directories(data_dir);
  set_mode(data_dir, private_folder);
  if (database_file.empty()) return; // the store is elsewhere (PostgreSQL)
  const int fd = ::open(database_file.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, private_file);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "cannot open " + database_file.string());
  ::close(fd);
  for (const char* suffix : {"", "-wal", "-shm"}) {
    const std::filesystem::path file = database_file.string() + suffix;
    std::error_code missing;
    if (std::filesystem::exists(file, missing)) set_mode(file, private_file);
  }
}

} // namespace connector::host
