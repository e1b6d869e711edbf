// Encryption at rest: AES-256-GCM (OpenSSL EVP) with a key ring. The newest key seals; every
// key in the ring opens, so keys can rotate without re-encrypting at once. The associated
// data is the record's identity (e.g. "source:src_123:credentials"), so a ciphertext copied
// to another row fails to open.
//
// Envelope: 0x01 | key id (4 bytes, big-endian) | nonce (12) | ciphertext | tag (16).
//
// A ring read from a key file can be read again while the Sealer is in use (reload_key_file,
// on SIGHUP), and is read again by itself when open() meets a key id the ring lacks (at most
// once a second): replicas share one key file, and one that rotated seals with a key the
// others have not loaded yet.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
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
  // Removes key `id` from a key file. Refused (std::runtime_error) for the file's highest
  // id, which seals, and for an id the file does not hold. The caller checks that no stored
  // secret still needs it.
  static void remove_key_from_file(const std::filesystem::path& file, uint32_t id);

  // Reads the key file this Sealer came from again and uses its keys from now on; returns
  // their ids. Throws std::runtime_error (the ring stays as it was) on any problem.
  std::vector<uint32_t> reload_key_file();

  std::vector<uint8_t> seal(std::string_view plaintext, std::string_view associated_data) const;
  // nullopt when the envelope is damaged, the key is unknown, or the associated data differs.
  std::optional<std::string> open(std::span<const uint8_t> envelope, std::string_view associated_data) const;

  uint32_t current_key_id() const;
  std::vector<uint32_t> key_ids() const; // highest first
  bool has_key(uint32_t id) const;
  // The id of the key that sealed `envelope`, read from its header; nullopt if it has none.
  static std::optional<uint32_t> key_id_of(std::span<const uint8_t> envelope);

private:
  struct SealingContexts; // keyed AES-GCM contexts, borrowed by seal()
  struct Ring;            // the keys, highest id first, and their sealing contexts

  std::shared_ptr<const Ring> ring() const;
  // Reads the key file again if `id` is not in the ring and the last look is a second old.
  bool look_for_key(uint32_t id) const;

  mutable std::atomic<std::shared_ptr<const Ring>> ring_; // replaced whole, read by any thread
  std::filesystem::path file_;                            // empty: not read from a file
  mutable std::mutex reload_mutex_;
  mutable std::chrono::steady_clock::time_point last_look_{};
};

} // namespace connector::core
