// A fresh folder under the system temp folder for one test, removed with everything in it.
#pragma once

#include <filesystem>
#include <string>

namespace connector::testing {

class TempDir {
public:
  explicit TempDir(const std::string& prefix = "connector-test");
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

private:
  std::filesystem::path path_;
};

} // namespace connector::testing
