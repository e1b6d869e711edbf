// PKCE (RFC 7636) with the S256 method only: plain is never offered.
#pragma once

#include <string>
#include <string_view>

namespace connector::core {

// A fresh verifier: 32 CSPRNG octets, base64url (43 characters), as section 4.1 recommends.
std::string make_pkce_verifier();

// base64url(SHA-256(verifier)) without padding (section 4.2).
std::string pkce_s256_challenge(std::string_view verifier);

} // namespace connector::core
