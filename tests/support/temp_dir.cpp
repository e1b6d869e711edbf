#include "support/temp_dir.hpp"

#include <random>

namespace connector::testing {

TempDir::TempDir(const std::string& prefix) {
  std::random_device seed;
  path_ = std::filesystem::temp_directory_path() / (prefix + "-" + std::to_string(seed()) + std::to_string(seed()));
  std::filesystem::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

} // namespace connector::testing
