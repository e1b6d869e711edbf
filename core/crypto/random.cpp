#include "crypto/random.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <cstring>

#include <stdexcept>

namespace connector::core {

namespace {

// Each RAND_bytes call asks the kernel for the process id (OpenSSL 3 checks whether it runs
// in a forked child), and a request needs five or six draws: ids, state, PKCE verifier,
// nonce, trace id. So each thread draws a block at a time and hands it out; a byte is
// handed out once, and the block is wiped as it is used. The host never forks. An authorize
// takes about 100 bytes: a 4 KB block makes the draw's getpid 0.025 system calls an answer
// (0.1 with 1 KB, as `perf trace` counted them under load).
constexpr std::size_t block_size = 4096;

struct RandomBlock {
  unsigned char bytes[block_size];
  std::size_t used = block_size; // empty until the first draw
  ~RandomBlock() { OPENSSL_cleanse(bytes, sizeof bytes); }
};

void draw(unsigned char* out, std::size_t count) {
  if (count > 0 && RAND_bytes(out, static_cast<int>(count)) != 1) {
    throw std::runtime_error("the system random number generator failed");
  }
}

} // namespace

void fill_random(unsigned char* out, std::size_t count) {
  if (count > block_size / 4) {
    draw(out, count);
    return;
  }
  thread_local RandomBlock block;
  if (block_size - block.used < count) {
    draw(block.bytes, block_size);
    block.used = 0;
  }
  std::memcpy(out, block.bytes + block.used, count);
  OPENSSL_cleanse(block.bytes + block.used, count);
  block.used += count;
}

std::string random_bytes(std::size_t count) {
  std::string bytes(count, '\0');
  fill_random(reinterpret_cast<unsigned char*>(bytes.data()), count);
  return bytes;
}

std::string base64url_encode(std::string_view bytes) {
  static constexpr char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const auto n = (static_cast<unsigned>(static_cast<unsigned char>(bytes[i])) << 16) |
                   (static_cast<unsigned>(static_cast<unsigned char>(bytes[i + 1])) << 8) |
                   static_cast<unsigned>(static_cast<unsigned char>(bytes[i + 2]));
    out.push_back(alphabet[(n >> 18) & 63]);
    out.push_back(alphabet[(n >> 12) & 63]);
    out.push_back(alphabet[(n >> 6) & 63]);
    out.push_back(alphabet[n & 63]);
  }
  const std::size_t rest = bytes.size() - i;
  if (rest > 0) {
    unsigned n = static_cast<unsigned>(static_cast<unsigned char>(bytes[i])) << 16;
    if (rest == 2) n |= static_cast<unsigned>(static_cast<unsigned char>(bytes[i + 1])) << 8;
    out.push_back(alphabet[(n >> 18) & 63]);
    out.push_back(alphabet[(n >> 12) & 63]);
    if (rest == 2) out.push_back(alphabet[(n >> 6) & 63]);
  }
  return out;
}

std::string random_token(std::size_t bits) { return base64url_encode(random_bytes(bits / 8)); }

} // namespace connector::core
