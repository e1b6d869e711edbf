// Encryption at rest: AES-256-GCM (OpenSSL EVP) with a key ring. The newest key seals; every
// key in the ring opens, so keys can rotate without re-encrypting at once. The associated
// data is the record's identity (e.g. "source:src_123:credentials"), so a ciphertext copied
// to another row fails to open.
//
// Envelope: 0x01 | key id (4 bytes, big-endian) | nonce (12) | ciphertext | tag (16).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace connector::core {

struct SealingKey {
  uint32_t id = 0;
  std::string bytes; // 32 bytes; wiped on destruction of the ring
};

class Sealer {
public:
  // The ring must be non-empty; the key with the highest id seals.
  explicit Sealer(std::vector<SealingKey> ring);
  ~Sealer();
  Sealer(Sealer&&) noexcept;
  Sealer& operator=(Sealer&&) noexcept;
  Sealer(const Sealer&) = delete;
  Sealer& operator=(const Sealer&) = delete;

  // Reads a key file: one key a line, "<id>:<base64 of 32 bytes>", '#' comments allowed.
  // With create_if_missing, a missing file is created (mode 0600) holding one fresh key.
  // Throws std::runtime_error naming the file (never a key) on any problem, including a
  // file readable by group or others.
  static Sealer from_key_file(const std::filesystem::path& file, bool create_if_missing);
  // Appends a fresh key (id = highest + 1) to a key file: rotation. Returns its id.
  static uint32_t add_key_to_file(const std::filesystem::path& file);

  std::vector<uint8_t> seal(std::string_view plaintext, std::string_view associated_data) const;
  // nullopt when the envelope is damaged, the key is unknown, or the associated data differs.
  std::optional<std::string> open(std::span<const uint8_t> envelope, std::string_view associated_data) const;

  uint32_t current_key_id() const;

private:
  struct SealingContexts; // keyed AES-GCM contexts, borrowed by seal()

  std::vector<SealingKey> ring_;
  std::unique_ptr<SealingContexts> sealing_contexts_;
};

} // namespace connector::core
