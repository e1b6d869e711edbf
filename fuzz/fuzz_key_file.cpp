// The key file parser (Sealer::from_key_file): "<id>:<base64 of 32 bytes>" a line, '#'
// comments. The file is the operator's and is edited by hand, so any text must give a ring or
// a clear error, and the error must never quote a key.
#include "crypto/sealer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <string_view>

namespace {

std::filesystem::path key_file_path() {
  std::string pattern = (std::filesystem::temp_directory_path() / "connector-fuzz-keys-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) std::abort();
  return std::filesystem::path(pattern) / "keys";
}

void write_private_file(const std::filesystem::path& file, const uint8_t* data, std::size_t size) {
  const int handle = ::open(file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (handle < 0) std::abort();
  std::size_t done = 0;
  while (done < size) {
    const ssize_t written = ::write(handle, data + done, size - done);
    if (written <= 0) std::abort();
    done += static_cast<std::size_t>(written);
  }
  ::close(handle);
}

std::string_view trimmed(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t' || text.front() == '\r'))
    text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r'))
    text.remove_suffix(1);
  return text;
}

// An error may name the file and the line, never what follows a line's ':' (the key).
void check_error_quotes_no_key(std::string_view content, std::string message, const std::string& file) {
  for (std::size_t at = message.find(file); at != std::string::npos; at = message.find(file))
    message.erase(at, file.size());
  while (!content.empty()) {
    const std::size_t end = content.find('\n');
    const std::string_view line = content.substr(0, end);
    content.remove_prefix(end == std::string_view::npos ? content.size() : end + 1);
    const std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    const std::string_view key = trimmed(line.substr(colon + 1));
    // Only what could be a key: base64 text (an input may copy the error's own words).
    const bool base64 = key.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") ==
                        std::string_view::npos;
    if (base64 && key.size() >= 12 && message.find(key) != std::string::npos) {
      std::fprintf(stderr, "fuzz: the key file error quotes a key: %s\n", message.c_str());
      std::abort();
    }
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  static const std::filesystem::path file = key_file_path();
  write_private_file(file, data, size);
  try {
    const auto sealer = connector::core::Sealer::from_key_file(file, /*create_if_missing=*/false);
    const auto sealed = sealer.seal("fuzz", "fuzz:ad");
    const auto opened = sealer.open(sealed, "fuzz:ad");
    if (!opened || *opened != "fuzz") __builtin_trap();
  } catch (const std::runtime_error& error) {
    check_error_quotes_no_key(std::string_view(reinterpret_cast<const char*>(data), size), error.what(), file.string());
  }
  return 0;
}
