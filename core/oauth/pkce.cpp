#include "oauth/pkce.hpp"

#include "crypto/random.hpp"

#include <openssl/sha.h>

namespace connector::core {

std::string make_pkce_verifier() { return random_token(256); }

std::string pkce_s256_challenge(std::string_view verifier) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(verifier.data()), verifier.size(), digest);
  return base64url_encode(std::string_view(reinterpret_cast<const char*>(digest), sizeof digest));
}

} // namespace connector::core
