#include "crypto/random.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace connector::core {

namespace {

// Every RAND_bytes call costs a system call (OpenSSL asks for the process id, to notice a
// fork) and a re-keying of its DRBG, and one request draws five or six times: ids, the state,
// the PKCE verifier, a nonce. So each thread draws a block at a time and hands it out in
// order; each byte is handed out once and wiped from the block as it goes (bench/README.md
// has what this saves).
//
// A forked child must never hand out what its parent already has: a child handler bumps the
// fork generation, and a block drawn in another generation is thrown away unused.
constexpr std::size_t block_size = 4096;

std::atomic<uint64_t> fork_generation{0};

void count_fork_in_child() { fork_generation.fetch_add(1, std::memory_order_relaxed); }

const bool fork_handler_installed = pthread_atfork(nullptr, nullptr, count_fork_in_child) == 0;

struct RandomBlock {
  unsigned char bytes[block_size];
  std::size_t used = block_size; // empty until the first draw
  uint64_t generation = 0;
  ~RandomBlock() { OPENSSL_cleanse(bytes, sizeof bytes); }
};

void draw(unsigned char* out, std::size_t count) {
  if (count > 0 && RAND_bytes(out, static_cast<int>(count)) != 1) {
    throw std::runtime_error("the system random number generator failed");
  }
}

} // namespace

void fill_random(unsigned char* out, std::size_t count) {
  if (count > block_size / 4 || !fork_handler_installed) {
    draw(out, count);
    return;
  }
  thread_local RandomBlock block;
  const uint64_t generation = fork_generation.load(std::memory_order_relaxed);
  if (block.generation != generation || block_size - block.used < count) {
    draw(block.bytes, block_size);
    block.used = 0;
    block.generation = generation;
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
