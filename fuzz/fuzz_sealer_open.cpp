// Sealed-blob opening (core/crypto/sealer.*): what the store hands back is opened with the
// key ring, and a damaged, foreign or moved envelope must be refused, never crash or leak.
// Input: one byte choosing the associated data, then the envelope. Seeds are envelopes
// sealed with the ring below (fuzz/make_seeds.py makes them).
#include "crypto/sealer.hpp"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace {

using connector::core::Sealer;
using connector::core::SealingKey;

// Two keys, so that envelopes of an older key still open (rotation).
Sealer make_ring() {
  return Sealer({SealingKey{1, std::string("fuzz-sealing-key-one-0123456789a")},
                 SealingKey{7, std::string("fuzz-sealing-key-seven-456789abc")}});
}

constexpr std::string_view associated_data[] = {"source:src_fuzz:credentials", "connection:conn_fuzz:verifier", ""};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  static const Sealer sealer = make_ring();
  if (size == 0) return 0;
  const std::string_view ad = associated_data[data[0] % std::size(associated_data)];
  const std::span<const uint8_t> envelope(data + 1, size - 1);

  if (const auto opened = sealer.open(envelope, ad)) {
    // What opened under one identity must not open under another.
    for (const std::string_view other : associated_data) {
      if (other != ad && sealer.open(envelope, other)) __builtin_trap();
    }
  }

  // Sealing the same bytes round-trips, and any one flipped byte is refused.
  const std::string_view plaintext(reinterpret_cast<const char*>(envelope.data()), envelope.size());
  std::vector<uint8_t> sealed = sealer.seal(plaintext, ad);
  const auto back = sealer.open(sealed, ad);
  if (!back || *back != plaintext) __builtin_trap();
  sealed[data[0] % sealed.size()] ^= 0x01;
  if (sealer.open(sealed, ad)) __builtin_trap();
  return 0;
}
