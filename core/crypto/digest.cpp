#include "crypto/digest.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <stdexcept>

namespace connector::core {

std::array<unsigned char, 32> sha256(std::string_view data) {
  // Fetched once for the process and never freed: it lives as long as OpenSSL does.
  static EVP_MD* const algorithm = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  std::array<unsigned char, 32> digest{};
  if (algorithm == nullptr || EVP_Digest(data.data(), data.size(), digest.data(), nullptr, algorithm, nullptr) != 1) {
    throw std::runtime_error("SHA-256 is not available from OpenSSL");
  }
  return digest;
}

std::string sha256_hex(std::string_view data) {
  const auto digest = sha256(data);
  static constexpr char hex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * digest.size());
  for (const unsigned char byte : digest) {
    out.push_back(hex[byte >> 4]);
    out.push_back(hex[byte & 0x0F]);
  }
  return out;
}

bool constant_time_equals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

} // namespace connector::core
