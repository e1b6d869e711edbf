#include "crypto/digest.hpp"

#include "text/hex.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <memory>
#include <stdexcept>

namespace connector::core {

std::array<unsigned char, 32> sha256(std::string_view data) {
  // Fetched once for the process and never freed: it lives as long as OpenSSL does.
  static EVP_MD* const algorithm = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  // One context per thread, reused: EVP_Digest allocates, initialises and frees one per call,
  // which cost more than hashing a key or a state.
  struct ContextDeleter {
    void operator()(EVP_MD_CTX* context) const { EVP_MD_CTX_free(context); }
  };
  thread_local const std::unique_ptr<EVP_MD_CTX, ContextDeleter> context(EVP_MD_CTX_new());
  std::array<unsigned char, 32> digest{};
  if (algorithm == nullptr || !context || EVP_DigestInit_ex2(context.get(), algorithm, nullptr) != 1 ||
      EVP_DigestUpdate(context.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(context.get(), digest.data(), nullptr) != 1) {
    throw std::runtime_error("SHA-256 is not available from OpenSSL");
  }
  return digest;
}

std::string sha256_hex(std::string_view data) {
  const auto digest = sha256(data);
  return hex_encode(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

bool constant_time_equals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

} // namespace connector::core
