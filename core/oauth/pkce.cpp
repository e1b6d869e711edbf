#include "oauth/pkce.hpp"

#include "crypto/digest.hpp"
#include "crypto/random.hpp"

namespace connector::core {

std::string make_pkce_verifier() { return random_token(256); }

std::string pkce_s256_challenge(std::string_view verifier) {
  const auto digest = sha256(verifier);
  return base64url_encode(std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

} // namespace connector::core
