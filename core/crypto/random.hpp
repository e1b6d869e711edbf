// Cryptographically secure randomness (OpenSSL's RAND_bytes) and the encodings tokens use.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace connector::core {

// `count` bytes from the CSPRNG; throws std::runtime_error if OpenSSL cannot seed itself.
std::string random_bytes(std::size_t count);
void fill_random(unsigned char* out, std::size_t count);

// RFC 4648 section 5 base64url without padding.
std::string base64url_encode(std::string_view bytes);

// `bits` of entropy (a multiple of 8) as unpadded base64url text.
std::string random_token(std::size_t bits);

} // namespace connector::core
