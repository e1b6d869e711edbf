#include "crypto/sealer.hpp"

#include "crypto/random.hpp"

#include <connector/encoding.hpp>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <utility>

namespace connector::core {
namespace {

constexpr uint8_t envelope_version = 0x01;
constexpr std::size_t key_size = 32;
constexpr std::size_t key_id_size = 4;
constexpr std::size_t nonce_size = 12;
constexpr std::size_t tag_size = 16;
constexpr std::size_t envelope_overhead = 1 + key_id_size + nonce_size + tag_size;

// Key material passes through temporary strings (file text, decoded bytes); this wipes them
// whatever way the function leaves.
class WipeOnExit {
public:
  explicit WipeOnExit(std::string& secret) : secret_(secret) {}
  ~WipeOnExit() { OPENSSL_cleanse(secret_.data(), secret_.size()); }
  WipeOnExit(const WipeOnExit&) = delete;
  WipeOnExit& operator=(const WipeOnExit&) = delete;

private:
  std::string& secret_;
};

void wipe(std::vector<SealingKey>& ring) {
  for (auto& key : ring)
    OPENSSL_cleanse(key.bytes.data(), key.bytes.size());
  ring.clear();
}

struct CipherContextDeleter {
  void operator()(EVP_CIPHER_CTX* context) const { EVP_CIPHER_CTX_free(context); }
};
using CipherContext = std::unique_ptr<EVP_CIPHER_CTX, CipherContextDeleter>;

// AES-256-GCM fetched once: the legacy EVP_aes_256_gcm() makes OpenSSL 3 look the cipher up
// in the provider registry at every initialisation. Never freed: it lives as long as OpenSSL.
const EVP_CIPHER* aes_256_gcm() {
  static EVP_CIPHER* const cipher = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  if (cipher == nullptr) throw std::runtime_error("AES-256-GCM is not available from OpenSSL");
  return cipher;
}

const unsigned char* bytes_of(std::string_view text) { return reinterpret_cast<const unsigned char*>(text.data()); }

// A context keyed with the sealing key: `keyed` is nullptr if OpenSSL fails.
CipherContext keyed_sealing_context(const SealingKey& key) {
  CipherContext context(EVP_CIPHER_CTX_new());
  const bool keyed =
      context && EVP_EncryptInit_ex(context.get(), aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce_size), nullptr) == 1 &&
      EVP_EncryptInit_ex(context.get(), nullptr, nullptr, bytes_of(key.bytes), nullptr) == 1;
  return keyed ? std::move(context) : CipherContext();
}

// ---- base64 (RFC 4648 section 4, padded): written with the SDK's encoder, read strictly: the key
// file is hand-edited at times ----

int base64_value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (std::size_t i = 0; i < text.size(); i += 4) {
    const bool last_group = i + 4 == text.size();
    const std::size_t padding = last_group ? static_cast<std::size_t>(text[i + 3] == '=') + (text[i + 2] == '=') : 0;
    if (padding == 1 && text[i + 3] != '=') return std::nullopt; // "x=y" style padding in the middle
    unsigned group = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      const int value = j >= 4 - padding ? 0 : base64_value(text[i + j]);
      if (value < 0) {
        OPENSSL_cleanse(out.data(), out.size());
        return std::nullopt;
      }
      group = (group << 6) | static_cast<unsigned>(value);
    }
    out.push_back(static_cast<char>((group >> 16) & 0xff));
    if (padding < 2) out.push_back(static_cast<char>((group >> 8) & 0xff));
    if (padding < 1) out.push_back(static_cast<char>(group & 0xff));
  }
  return out;
}

// ---- the key file ----

std::runtime_error key_file_error(const std::filesystem::path& file, const std::string& problem) {
  return std::runtime_error("key file " + file.string() + ": " + problem);
}

std::string errno_text(int error) { return std::generic_category().message(error); }

class FileDescriptor {
public:
  explicit FileDescriptor(int descriptor) : descriptor_(descriptor) {}
  ~FileDescriptor() {
    if (descriptor_ >= 0) ::close(descriptor_);
  }
  FileDescriptor(FileDescriptor&& other) noexcept : descriptor_(std::exchange(other.descriptor_, -1)) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return descriptor_; }
  bool valid() const { return descriptor_ >= 0; }
  // close() reports late write errors (NFS and the like), so callers that wrote check it.
  int close() {
    const int result = ::close(descriptor_);
    descriptor_ = -1;
    return result;
  }

private:
  int descriptor_;
};

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
    text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r'))
    text.remove_suffix(1);
  return text;
}

// The file must be a regular file nobody but its owner can read or write: it holds the keys
// that guard every stored credential.
void check_private_regular_file(const std::filesystem::path& file, int descriptor) {
  struct stat status {};
  if (::fstat(descriptor, &status) != 0) throw key_file_error(file, "cannot stat: " + errno_text(errno));
  if (!S_ISREG(status.st_mode)) throw key_file_error(file, "not a regular file");
  if ((status.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
    throw key_file_error(file, "readable or writable by group or others; restrict it with chmod 600");
  }
}

std::string read_all(const std::filesystem::path& file, int descriptor) {
  std::string content;
  std::array<char, 4096> chunk{};
  for (;;) {
    const ssize_t count = ::read(descriptor, chunk.data(), chunk.size());
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) {
      const int error = errno;
      OPENSSL_cleanse(content.data(), content.size());
      OPENSSL_cleanse(chunk.data(), chunk.size());
      throw key_file_error(file, "cannot read: " + errno_text(error));
    }
    if (count == 0) break;
    // Growing the string could leave a copy of earlier bytes in freed memory; reserve ahead
    // generously instead (key files are small).
    if (content.capacity() < content.size() + static_cast<std::size_t>(count)) {
      std::string bigger;
      bigger.reserve((content.size() + static_cast<std::size_t>(count)) * 2);
      bigger = content;
      OPENSSL_cleanse(content.data(), content.size());
      content.swap(bigger);
    }
    content.append(chunk.data(), static_cast<std::size_t>(count));
  }
  OPENSSL_cleanse(chunk.data(), chunk.size());
  return content;
}

void write_all(const std::filesystem::path& file, int descriptor, std::string_view text) {
  while (!text.empty()) {
    const ssize_t count = ::write(descriptor, text.data(), text.size());
    if (count < 0 && errno == EINTR) continue;
    if (count < 0) throw key_file_error(file, "cannot write: " + errno_text(errno));
    text.remove_prefix(static_cast<std::size_t>(count));
  }
}

// Makes a rename or a creation durable: the directory entry is what changed.
void sync_directory(const std::filesystem::path& directory) {
  FileDescriptor handle(::open(directory.empty() ? "." : directory.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (handle.valid()) ::fsync(handle.get());
}

// Like create_directories, but every directory it creates is mode 0700 (the umask cannot widen
// that; existing directories are left as they are).
void create_private_directories(const std::filesystem::path& file, const std::filesystem::path& directory) {
  if (directory.empty()) return;
  std::error_code error;
  if (std::filesystem::is_directory(directory, error)) return;
  create_private_directories(file,
                             directory.parent_path() == directory ? std::filesystem::path{} : directory.parent_path());
  if (::mkdir(directory.c_str(), 0700) != 0 && errno != EEXIST) {
    throw key_file_error(file, "cannot create directory " + directory.string() + ": " + errno_text(errno));
  }
}

// Joins texts that hold keys into one buffer sized up front, so no reallocation leaves an
// unwiped copy behind.
template <typename... Parts> std::string concatenate_secret(const Parts&... parts) {
  std::string joined;
  joined.reserve((std::string_view(parts).size() + ...));
  (joined.append(std::string_view(parts)), ...);
  return joined;
}

std::string fresh_key_line(uint32_t id) {
  std::string key = random_bytes(key_size);
  WipeOnExit wipe_key(key);
  std::string encoded = connector::sdk::base64_encode(key);
  WipeOnExit wipe_encoded(encoded);
  return concatenate_secret(std::to_string(id), ":", encoded, "\n");
}

std::vector<SealingKey> parse_key_file(const std::filesystem::path& file, std::string_view content) {
  std::vector<SealingKey> ring;
  try {
    std::size_t line_number = 0;
    while (!content.empty()) {
      ++line_number;
      const std::size_t end = content.find('\n');
      const std::string_view line = trim(content.substr(0, end));
      content.remove_prefix(end == std::string_view::npos ? content.size() : end + 1);
      if (line.empty() || line.front() == '#') continue;

      const std::string where = "line " + std::to_string(line_number) + ": ";
      const std::size_t colon = line.find(':');
      if (colon == std::string_view::npos) throw key_file_error(file, where + "expected <id>:<base64 key>");
      const std::string_view id_text = trim(line.substr(0, colon));
      uint32_t id = 0;
      const auto [id_end, id_error] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), id);
      if (id_text.empty() || id_error != std::errc{} || id_end != id_text.data() + id_text.size()) {
        throw key_file_error(file, where + "the key id is not a number between 0 and 4294967295");
      }
      std::optional<std::string> bytes = base64_decode(trim(line.substr(colon + 1)));
      if (!bytes || bytes->size() != key_size) {
        if (bytes) OPENSSL_cleanse(bytes->data(), bytes->size());
        throw key_file_error(file, where + "the key is not the base64 of 32 bytes");
      }
      if (std::any_of(ring.begin(), ring.end(), [id](const SealingKey& key) { return key.id == id; })) {
        OPENSSL_cleanse(bytes->data(), bytes->size());
        throw key_file_error(file, where + "key id " + std::to_string(id) + " appears twice");
      }
      ring.push_back(SealingKey{id, std::move(*bytes)});
    }
  } catch (...) {
    wipe(ring);
    throw;
  }
  if (ring.empty()) throw key_file_error(file, "holds no key");
  return ring;
}

// Creates the file with one fresh key. Returns false when someone else created it first.
bool create_key_file(const std::filesystem::path& file) {
  create_private_directories(file, file.parent_path());
  FileDescriptor handle(::open(file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!handle.valid()) {
    if (errno == EEXIST) return false;
    throw key_file_error(file, "cannot create: " + errno_text(errno));
  }
  try {
    // The umask may have narrowed 0600, never widened it; make it exactly 0600.
    if (::fchmod(handle.get(), 0600) != 0) throw key_file_error(file, "cannot chmod: " + errno_text(errno));
    std::string key_line = fresh_key_line(1);
    WipeOnExit wipe_key_line(key_line);
    std::string content =
        concatenate_secret("# Sealing keys: <id>:<base64 of 32 bytes>. The highest id seals; all open.\n", key_line);
    WipeOnExit wipe_content(content);
    write_all(file, handle.get(), content);
    if (::fsync(handle.get()) != 0) throw key_file_error(file, "cannot fsync: " + errno_text(errno));
    if (handle.close() != 0) throw key_file_error(file, "cannot close: " + errno_text(errno));
  } catch (...) {
    // A half-written key file would fail every later start; better no file at all.
    ::unlink(file.c_str());
    throw;
  }
  sync_directory(file.parent_path());
  return true;
}

FileDescriptor open_key_file(const std::filesystem::path& file) {
  FileDescriptor handle(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
  if (!handle.valid()) throw key_file_error(file, "cannot open: " + errno_text(errno));
  check_private_regular_file(file, handle.get());
  return handle;
}

} // namespace

// ---- Sealer ----

// Contexts keyed with the sealing key, kept between seals so that a seal only sets its nonce:
// keying a context (the cipher's set-up, the key expansion, GCM's tables) was most of a small
// seal's cost. A context is mutable state and seal() is called from every connection thread,
// so each seal borrows one (as many exist as seals ever ran at once). They are the Sealer's:
// freeing them with it (EVP_CIPHER_CTX_free cleanses them) leaves no key schedule behind.
struct Sealer::SealingContexts {
  std::mutex mutex;
  std::vector<CipherContext> idle;

  CipherContext take(const SealingKey& key) {
    {
      const std::lock_guard lock(mutex);
      if (!idle.empty()) {
        CipherContext context = std::move(idle.back());
        idle.pop_back();
        return context;
      }
    }
    return keyed_sealing_context(key); // outside the lock: keying is the slow part
  }

  void give_back(CipherContext context) {
    const std::lock_guard lock(mutex);
    idle.push_back(std::move(context));
  }
};

struct Sealer::Ring {
  std::vector<SealingKey> keys;
  mutable SealingContexts contexts;

  explicit Ring(std::vector<SealingKey> ring) : keys(std::move(ring)) {}
  ~Ring() { wipe(keys); }
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;
};

namespace {

// Checks a ring and orders it highest id first: that key seals, and the search in open()
// meets the newest keys first.
std::vector<SealingKey> checked_ring(std::vector<SealingKey> ring) {
  try {
    if (ring.empty()) throw std::invalid_argument("the sealing key ring is empty");
    for (std::size_t i = 0; i < ring.size(); ++i) {
      if (ring[i].bytes.size() != key_size) {
        throw std::invalid_argument("sealing key " + std::to_string(ring[i].id) + " is not 32 bytes long");
      }
      for (std::size_t j = 0; j < i; ++j) {
        if (ring[j].id == ring[i].id) {
          throw std::invalid_argument("sealing key id " + std::to_string(ring[i].id) + " appears twice");
        }
      }
    }
  } catch (...) {
    wipe(ring);
    throw;
  }
  std::sort(ring.begin(), ring.end(), [](const SealingKey& a, const SealingKey& b) { return a.id > b.id; });
  return ring;
}

} // namespace

Sealer::Sealer(std::vector<SealingKey> ring) : ring_(std::make_shared<const Ring>(checked_ring(std::move(ring)))) {}

Sealer::~Sealer() = default;

Sealer::Sealer(Sealer&& other) noexcept : ring_(other.ring_.exchange(nullptr)), file_(std::move(other.file_)) {}

Sealer& Sealer::operator=(Sealer&& other) noexcept {
  if (this != &other) {
    ring_.store(other.ring_.exchange(nullptr));
    file_ = std::move(other.file_);
  }
  return *this;
}

std::shared_ptr<const Sealer::Ring> Sealer::ring() const {
  std::shared_ptr<const Ring> ring = ring_.load(std::memory_order_acquire);
  if (!ring) throw std::logic_error("a moved-from Sealer was used");
  return ring;
}

uint32_t Sealer::current_key_id() const { return ring()->keys.front().id; }

std::vector<uint32_t> Sealer::key_ids() const {
  std::vector<uint32_t> ids;
  for (const auto& key : ring()->keys)
    ids.push_back(key.id);
  return ids;
}

bool Sealer::has_key(uint32_t id) const {
  const auto ring = this->ring();
  return std::any_of(ring->keys.begin(), ring->keys.end(), [id](const SealingKey& key) { return key.id == id; });
}

std::optional<uint32_t> Sealer::key_id_of(std::span<const uint8_t> envelope) {
  if (envelope.size() < envelope_overhead || envelope[0] != envelope_version) return std::nullopt;
  uint32_t key_id = 0;
  for (std::size_t i = 1; i <= key_id_size; ++i)
    key_id = (key_id << 8) | envelope[i];
  return key_id;
}

std::vector<uint32_t> Sealer::reload_key_file() {
  if (file_.empty()) throw std::logic_error("this Sealer was not read from a key file");
  Sealer again = from_key_file(file_, false);
  ring_.store(again.ring_.exchange(nullptr), std::memory_order_release);
  return key_ids();
}

bool Sealer::look_for_key(uint32_t id) const {
  if (file_.empty()) return false;
  const std::lock_guard lock(reload_mutex_);
  if (has_key(id)) return true; // another thread read the file meanwhile
  const auto now = std::chrono::steady_clock::now();
  if (now - last_look_ < std::chrono::seconds(1)) return false;
  last_look_ = now;
  try {
    Sealer again = from_key_file(file_, false);
    if (!again.has_key(id)) return false;
    // The file's ring, which has every key the running ring has unless one was retired.
    ring_.store(again.ring_.exchange(nullptr), std::memory_order_release);
    return true;
  } catch (const std::exception&) {
    return false; // a key file being rewritten or broken: the ring stays, the secret stays closed
  }
}

std::vector<uint8_t> Sealer::seal(std::string_view plaintext, std::string_view associated_data) const {
  const std::shared_ptr<const Ring> ring = this->ring();
  if (plaintext.size() > static_cast<std::size_t>(INT_MAX) - tag_size ||
      associated_data.size() > static_cast<std::size_t>(INT_MAX)) {
    throw std::length_error("too large to seal");
  }
  const SealingKey& key = ring->keys.front();

  std::vector<uint8_t> envelope(envelope_overhead + plaintext.size());
  uint8_t* out = envelope.data();
  *out++ = envelope_version;
  for (int shift = 24; shift >= 0; shift -= 8)
    *out++ = static_cast<uint8_t>((key.id >> shift) & 0xff);
  uint8_t* nonce = out;
  // A fresh random nonce per seal: with 96 bits, repeats stay negligible for far more seals
  // than one key will ever see (rotate keys well before 2^32 seals).
  fill_random(nonce, nonce_size);
  out += nonce_size;

  CipherContext context = ring->contexts.take(key);
  int written = 0;
  // A null key with an IV keeps the context's key schedule and starts a new message.
  const bool sealed =
      context && EVP_EncryptInit_ex(context.get(), nullptr, nullptr, nullptr, nonce) == 1 &&
      EVP_EncryptUpdate(context.get(), nullptr, &written, bytes_of(associated_data),
                        static_cast<int>(associated_data.size())) == 1 &&
      EVP_EncryptUpdate(context.get(), out, &written, bytes_of(plaintext), static_cast<int>(plaintext.size())) == 1 &&
      EVP_EncryptFinal_ex(context.get(), out + written, &written) == 1 &&
      EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_GCM_GET_TAG, static_cast<int>(tag_size),
                          envelope.data() + envelope.size() - tag_size) == 1;
  // A context that failed is in an unknown state: it is freed, not given back.
  if (!sealed) throw std::runtime_error("AES-256-GCM encryption failed");
  ring->contexts.give_back(std::move(context));
  return envelope;
}

std::optional<std::string> Sealer::open(std::span<const uint8_t> envelope, std::string_view associated_data) const {
  if (envelope.size() < envelope_overhead || envelope[0] != envelope_version) return std::nullopt;
  constexpr auto evp_limit = static_cast<std::size_t>(INT_MAX); // EVP lengths are ints
  if (envelope.size() > evp_limit || associated_data.size() > evp_limit) {
    return std::nullopt;
  }
  const uint32_t key_id = *key_id_of(envelope);
  std::shared_ptr<const Ring> ring = this->ring();
  const auto find_key = [&] {
    return std::find_if(ring->keys.begin(), ring->keys.end(), [key_id](const SealingKey& k) { return k.id == key_id; });
  };
  auto key = find_key();
  if (key == ring->keys.end()) {
    if (!look_for_key(key_id)) return std::nullopt;
    ring = this->ring();
    key = find_key();
    if (key == ring->keys.end()) return std::nullopt;
  }

  const uint8_t* nonce = envelope.data() + 1 + key_id_size;
  const uint8_t* ciphertext = nonce + nonce_size;
  const std::size_t ciphertext_size = envelope.size() - envelope_overhead;
  // The tag is copied out: OpenSSL takes it through a non-const pointer.
  std::array<uint8_t, tag_size> tag{};
  std::copy_n(envelope.end() - static_cast<std::ptrdiff_t>(tag_size), tag_size, tag.begin());

  std::string plaintext(ciphertext_size, '\0');
  CipherContext context(EVP_CIPHER_CTX_new());
  int written = 0;
  int final_written = 0;
  const bool opened =
      context && EVP_DecryptInit_ex(context.get(), aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
      EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_GCM_SET_IVLEN, static_cast<int>(nonce_size), nullptr) == 1 &&
      EVP_DecryptInit_ex(context.get(), nullptr, nullptr, bytes_of(key->bytes), nonce) == 1 &&
      EVP_DecryptUpdate(context.get(), nullptr, &written, bytes_of(associated_data),
                        static_cast<int>(associated_data.size())) == 1 &&
      EVP_DecryptUpdate(context.get(), reinterpret_cast<unsigned char*>(plaintext.data()), &written, ciphertext,
                        static_cast<int>(ciphertext_size)) == 1 &&
      EVP_CIPHER_CTX_ctrl(context.get(), EVP_CTRL_GCM_SET_TAG, static_cast<int>(tag_size), tag.data()) == 1 &&
      EVP_DecryptFinal_ex(context.get(), reinterpret_cast<unsigned char*>(plaintext.data()) + written,
                          &final_written) == 1;
  if (!opened) {
    // Unauthenticated plaintext must not linger in freed memory either.
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return std::nullopt;
  }
  return plaintext;
}

// ---- key files ----

Sealer Sealer::from_key_file(const std::filesystem::path& file, bool create_if_missing) {
  if (create_if_missing) {
    struct stat status {};
    if (::lstat(file.c_str(), &status) != 0) {
      if (errno != ENOENT) throw key_file_error(file, "cannot stat: " + errno_text(errno));
      create_key_file(file); // false: created meanwhile by someone else; read theirs
    }
  }
  FileDescriptor handle = open_key_file(file);
  std::string content = read_all(file, handle.get());
  WipeOnExit wipe_content(content);
  Sealer sealer(parse_key_file(file, content));
  sealer.file_ = file;
  return sealer;
}

namespace {

// Replaces a key file's text with edit(old text), under an exclusive lock, so that two edits at
// once cannot both read the old file and lose one of their changes. The new text is written
// beside the file and renamed over it: readers see the old file or the new one.
template <typename Edit> void rewrite_key_file(const std::filesystem::path& file, Edit edit) {
  for (;;) {
    FileDescriptor handle = open_key_file(file);
    if (::flock(handle.get(), LOCK_EX) != 0) throw key_file_error(file, "cannot lock: " + errno_text(errno));
    // Start over if a rename replaced the file while we waited for the lock.
    struct stat opened {};
    struct stat current {};
    if (::fstat(handle.get(), &opened) != 0) throw key_file_error(file, "cannot stat: " + errno_text(errno));
    if (::stat(file.c_str(), &current) != 0 || current.st_ino != opened.st_ino || current.st_dev != opened.st_dev) {
      continue;
    }

    std::string content = read_all(file, handle.get());
    WipeOnExit wipe_content(content);
    std::string new_content = edit(content);
    WipeOnExit wipe_new_content(new_content);

    std::string temporary_name = file.string() + ".XXXXXX";
    const int temporary_descriptor = ::mkstemp(temporary_name.data()); // creates it 0600
    if (temporary_descriptor < 0) throw key_file_error(file, "cannot create a temporary file: " + errno_text(errno));
    FileDescriptor temporary(temporary_descriptor);
    try {
      if (::fchmod(temporary.get(), 0600) != 0) throw key_file_error(file, "cannot chmod: " + errno_text(errno));
      write_all(file, temporary.get(), new_content);
      if (::fsync(temporary.get()) != 0) throw key_file_error(file, "cannot fsync: " + errno_text(errno));
      if (temporary.close() != 0) throw key_file_error(file, "cannot close: " + errno_text(errno));
      if (::rename(temporary_name.c_str(), file.c_str()) != 0) {
        throw key_file_error(file, "cannot replace: " + errno_text(errno));
      }
    } catch (...) {
      ::unlink(temporary_name.c_str());
      throw;
    }
    sync_directory(file.parent_path());
    return;
  }
}

// The highest key id in a key file's text (which must parse).
uint32_t highest_key_id(const std::filesystem::path& file, std::string_view content) {
  std::vector<SealingKey> ring = parse_key_file(file, content);
  uint32_t highest = 0;
  for (const auto& key : ring)
    highest = std::max(highest, key.id);
  wipe(ring);
  return highest;
}

} // namespace

uint32_t Sealer::add_key_to_file(const std::filesystem::path& file) {
  uint32_t new_id = 0;
  rewrite_key_file(file, [&](const std::string& content) {
    const uint32_t highest = highest_key_id(file, content);
    if (highest == UINT32_MAX) throw key_file_error(file, "no key id left after 4294967295");
    new_id = highest + 1;
    std::string new_line = fresh_key_line(new_id);
    WipeOnExit wipe_new_line(new_line);
    return concatenate_secret(content, !content.empty() && content.back() != '\n' ? "\n" : "", new_line);
  });
  return new_id;
}

void Sealer::remove_key_from_file(const std::filesystem::path& file, uint32_t id) {
  rewrite_key_file(file, [&](const std::string& content) {
    if (highest_key_id(file, content) == id) {
      throw key_file_error(file, "key " + std::to_string(id) + " is the current key, which seals; rotate first");
    }
    // Keeps every line (comments included) but the key's own.
    std::string kept;
    kept.reserve(content.size());
    bool found = false;
    for (std::size_t start = 0; start < content.size();) {
      const std::size_t end = std::min(content.find('\n', start), content.size());
      const std::string_view line(content.data() + start, end - start);
      const std::string_view trimmed = trim(line);
      const std::string_view id_text = trim(trimmed.substr(0, trimmed.find(':')));
      uint32_t line_id = 0;
      const bool is_key = !trimmed.empty() && trimmed.front() != '#' && trimmed.find(':') != std::string_view::npos &&
                          std::from_chars(id_text.data(), id_text.data() + id_text.size(), line_id).ec == std::errc{};
      if (is_key && line_id == id) {
        found = true;
      } else {
        kept.append(line).append(end < content.size() ? "\n" : "");
      }
      start = end + 1;
    }
    if (!found) throw key_file_error(file, "holds no key " + std::to_string(id));
    return kept;
  });
}

} // namespace connector::core
