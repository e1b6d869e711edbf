#include "plugins/plugin_file_check.hpp"

#include <connector/abi.h>

#include <elf.h>
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <bit>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <system_error>
#include <vector>

namespace connector::core {

static_assert(sizeof(void*) == 8, "the plugin checks read 64-bit ELF: the host is built for 64-bit machines");

namespace {

// No plugin comes near this; a larger file is refused rather than read into memory.
constexpr uint64_t max_plugin_bytes = uint64_t{256} << 20;
// A link to a link to a file in the folder is fine; a longer chain is refused rather than walked.
constexpr int max_link_hops = 8;

constexpr unsigned char host_elf_data = std::endian::native == std::endian::little ? ELFDATA2LSB : ELFDATA2MSB;
#if defined(__x86_64__)
constexpr int host_elf_machine = EM_X86_64;
#elif defined(__aarch64__)
constexpr int host_elf_machine = EM_AARCH64;
#elif defined(__riscv)
constexpr int host_elf_machine = EM_RISCV;
#elif defined(__powerpc64__)
constexpr int host_elf_machine = EM_PPC64;
#elif defined(__s390x__)
constexpr int host_elf_machine = EM_S390;
#else
constexpr int host_elf_machine = -1; // unknown here: the dynamic loader is the only judge
#endif

std::string errno_text(int error) { return std::generic_category().message(error); }

std::string octal_mode(mode_t mode) {
  std::array<char, 8> text{};
  std::snprintf(text.data(), text.size(), "%04o", static_cast<unsigned>(mode & 07777));
  return text.data();
}

std::string user_name(uid_t user) {
  std::string text = "uid " + std::to_string(user);
  std::array<char, 2048> buffer{};
  passwd entry{};
  passwd* found = nullptr;
  if (::getpwuid_r(user, &entry, buffer.data(), buffer.size(), &found) == 0 && found != nullptr &&
      found->pw_name != nullptr) {
    text += " (" + std::string(found->pw_name) + ")";
  }
  return text;
}

// Who, besides the host's user and root, can write what `info` describes; nullopt: nobody.
std::optional<std::string> writer_problem(const struct stat& info, const PluginTrust& trust) {
  if (info.st_uid != trust.host_user && info.st_uid != 0) {
    return "owned by " + user_name(info.st_uid) + ", neither the host's user (" + user_name(trust.host_user) +
           ") nor root";
  }
  if ((info.st_mode & S_IWOTH) != 0) return "writable by every user (mode " + octal_mode(info.st_mode) + ")";
  if ((info.st_mode & S_IWGRP) != 0) {
    return "writable by its group, gid " + std::to_string(info.st_gid) + " (mode " + octal_mode(info.st_mode) + ")";
  }
  return std::nullopt;
}

FileSignature signature_of(const struct stat& info) {
  return FileSignature{static_cast<uintmax_t>(info.st_dev),
                       static_cast<uintmax_t>(info.st_ino),
                       static_cast<uintmax_t>(info.st_size),
                       static_cast<int64_t>(info.st_mtim.tv_sec) * 1000000000 + info.st_mtim.tv_nsec,
                       static_cast<uint32_t>(info.st_mode),
                       static_cast<uint32_t>(info.st_uid),
                       static_cast<uint32_t>(info.st_gid)};
}

std::filesystem::path folder_of(const std::filesystem::path& file) {
  return file.has_parent_path() ? file.parent_path() : std::filesystem::path(".");
}

class Descriptor {
public:
  explicit Descriptor(int fd) : fd_(fd) {}
  ~Descriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  Descriptor(const Descriptor&) = delete;
  Descriptor& operator=(const Descriptor&) = delete;
  int get() const { return fd_; }

private:
  int fd_;
};

// Follows `file`'s chain of symbolic links one hop at a time, each hop only to a name directly
// in `folder` (so no link outside the folder, which another user might be able to change, is
// ever read); returns the file it ends at, or sets `problem`.
std::optional<std::filesystem::path> resolve_inside(const std::filesystem::path& file, std::string& problem) {
  std::error_code error;
  const std::filesystem::path folder = std::filesystem::canonical(folder_of(file), error);
  if (error) {
    problem = "cannot be read (its folder: " + error.message() + ")";
    return std::nullopt;
  }
  std::filesystem::path current = folder / file.filename();
  for (int hop = 0; hop < max_link_hops; ++hop) {
    struct stat link_info {};
    if (::lstat(current.c_str(), &link_info) != 0) {
      problem = "is a symbolic link to " + current.string() + ", which cannot be read (" + errno_text(errno) + ")";
      return std::nullopt;
    }
    if (!S_ISLNK(link_info.st_mode)) return current;
    const std::filesystem::path target = std::filesystem::read_symlink(current, error);
    if (error) {
      problem = "is a symbolic link that cannot be read (" + error.message() + ")";
      return std::nullopt;
    }
    const std::filesystem::path next = target.is_absolute() ? target : folder / target;
    const std::filesystem::path next_folder = std::filesystem::canonical(folder_of(next), error);
    if (error || next_folder != folder || !next.has_filename() || next.filename() == "." || next.filename() == "..") {
      problem = "is a symbolic link to " + next.lexically_normal().string() +
                ", outside the plugins folder: not followed (only links to files in the same folder are)";
      return std::nullopt;
    }
    current = folder / next.filename();
  }
  problem = "is a chain of more than " + std::to_string(max_link_hops) + " symbolic links: not followed";
  return std::nullopt;
}

// --- ELF: every read goes through read_at, which checks it against the size first.

template <typename T> std::optional<T> read_at(std::string_view bytes, uint64_t offset) {
  if (offset > bytes.size() || sizeof(T) > bytes.size() - offset) return std::nullopt;
  T value;
  std::memcpy(&value, bytes.data() + offset, sizeof value);
  return value;
}

bool fits(uint64_t size, uint64_t offset, uint64_t length) { return offset <= size && length <= size - offset; }

struct LoadSegment {
  uint64_t address = 0;
  uint64_t offset = 0;
  uint64_t file_size = 0; // checked to fit in the file
};

// The file offset of `length` bytes at virtual address `address`, when one loaded segment holds
// them all in the file.
std::optional<uint64_t> file_offset(const std::vector<LoadSegment>& loads, uint64_t address, uint64_t length) {
  for (const auto& segment : loads) {
    if (address < segment.address) continue;
    const uint64_t into = address - segment.address;
    if (into <= segment.file_size && length <= segment.file_size - into) return segment.offset + into;
  }
  return std::nullopt;
}

std::optional<uint64_t> checked_add(uint64_t a, uint64_t b) {
  if (b > UINT64_MAX - a) return std::nullopt;
  return a + b;
}

uint32_t gnu_hash(std::string_view name) {
  uint32_t hash = 5381;
  for (const char c : name)
    hash = hash * 33 + static_cast<unsigned char>(c);
  return hash;
}

uint32_t sysv_hash(std::string_view name) {
  uint32_t hash = 0;
  for (const char c : name) {
    hash = (hash << 4) + static_cast<unsigned char>(c);
    const uint32_t high = hash & 0xf0000000U;
    if (high != 0) hash ^= high >> 24;
    hash &= ~high;
  }
  return hash;
}

// The dynamic symbol table as the dynamic loader finds it: through the dynamic segment, not
// the section headers (which a loader never reads).
struct DynamicSymbols {
  std::string_view bytes;
  std::vector<LoadSegment> loads;
  uint64_t symbols = 0;      // DT_SYMTAB
  uint64_t strings = 0;      // file offset of DT_STRTAB
  uint64_t strings_size = 0; // DT_STRSZ

  enum class Match { no, yes, damaged };

  // Whether symbol `index` is named `name`.
  Match named(uint64_t index, std::string_view name, Elf64_Sym& symbol) const {
    const auto address = checked_add(symbols, index * sizeof(Elf64_Sym)); // index < 2^32: no overflow
    if (!address) return Match::damaged;
    const auto at = file_offset(loads, *address, sizeof(Elf64_Sym));
    if (!at) return Match::damaged;
    symbol = *read_at<Elf64_Sym>(bytes, *at);
    if (symbol.st_name >= strings_size || name.size() + 1 > strings_size - symbol.st_name) return Match::no;
    const char* text = bytes.data() + strings + symbol.st_name;
    return std::memcmp(text, name.data(), name.size()) == 0 && text[name.size()] == '\0' ? Match::yes : Match::no;
  }

  // GNU hash lookup (DT_GNU_HASH): the bucket, then its chain until the end bit. Each step moves
  // four bytes on and stays inside one segment of the file, so the walk is bounded by its size.
  std::optional<std::string> find_gnu(uint64_t table, std::string_view name, std::optional<Elf64_Sym>& found) const {
    const auto header_at = file_offset(loads, table, 16);
    if (!header_at) return "its GNU hash table lies outside the file";
    const uint32_t buckets = *read_at<uint32_t>(bytes, *header_at);
    const uint32_t first_symbol = *read_at<uint32_t>(bytes, *header_at + 4);
    const uint32_t bloom_words = *read_at<uint32_t>(bytes, *header_at + 8);
    if (buckets == 0) return std::nullopt;
    const auto buckets_address = checked_add(table, 16 + uint64_t{bloom_words} * 8);
    if (!buckets_address) return "its GNU hash table is damaged";
    const auto buckets_at = file_offset(loads, *buckets_address, uint64_t{buckets} * 4);
    if (!buckets_at) return "its GNU hash table lies outside the file";
    const uint64_t chains_address = *buckets_address + uint64_t{buckets} * 4;
    const uint32_t hash = gnu_hash(name);
    uint64_t index = *read_at<uint32_t>(bytes, *buckets_at + uint64_t{hash % buckets} * 4);
    if (index == 0) return std::nullopt;
    if (index < first_symbol) return "its GNU hash table is damaged";
    for (uint64_t steps = 0; steps <= bytes.size() / 4; ++steps, ++index) {
      const auto chain_address = checked_add(chains_address, (index - first_symbol) * 4);
      const auto chain_at = chain_address ? file_offset(loads, *chain_address, 4) : std::nullopt;
      if (!chain_at) return "its GNU hash chain runs outside the file";
      const uint32_t chain = *read_at<uint32_t>(bytes, *chain_at);
      if ((chain | 1U) == (hash | 1U)) {
        Elf64_Sym symbol{};
        const Match match = named(index, name, symbol);
        if (match == Match::damaged) return "a symbol it hashes lies outside the file";
        if (match == Match::yes) {
          found = symbol;
          return std::nullopt;
        }
      }
      if ((chain & 1U) != 0) return std::nullopt;
    }
    return "its GNU hash chain does not end";
  }

  // SysV hash lookup (DT_HASH): the bucket, then the chain; at most nchain steps, so a chain
  // that loops ends.
  std::optional<std::string> find_sysv(uint64_t table, std::string_view name, std::optional<Elf64_Sym>& found) const {
    const auto header_at = file_offset(loads, table, 8);
    if (!header_at) return "its hash table lies outside the file";
    const uint32_t buckets = *read_at<uint32_t>(bytes, *header_at);
    const uint32_t chains = *read_at<uint32_t>(bytes, *header_at + 4);
    if (buckets == 0) return std::nullopt;
    const auto words_at = file_offset(loads, table + 8, (uint64_t{buckets} + chains) * 4);
    if (!words_at) return "its hash table lies outside the file";
    const uint64_t chains_at = *words_at + uint64_t{buckets} * 4;
    uint32_t index = *read_at<uint32_t>(bytes, *words_at + uint64_t{sysv_hash(name) % buckets} * 4);
    for (uint64_t steps = 0; index != STN_UNDEF; ++steps) {
      if (index >= chains || steps >= chains) return "its hash table is damaged";
      Elf64_Sym symbol{};
      const Match match = named(index, name, symbol);
      if (match == Match::damaged) return "a symbol it hashes lies outside the file";
      if (match == Match::yes) {
        found = symbol;
        return std::nullopt;
      }
      index = *read_at<uint32_t>(bytes, chains_at + uint64_t{index} * 4);
    }
    return std::nullopt;
  }
};

std::optional<std::string> export_problem(std::string_view bytes, const std::vector<LoadSegment>& loads,
                                          const Elf64_Phdr& dynamic) {
  const std::string_view wanted = CONNECTOR_NEGOTIATE_SYMBOL;
  const std::string missing = "does not export " + std::string(wanted);
  uint64_t symtab = 0, strtab = 0, strsz = 0, syment = sizeof(Elf64_Sym), gnu_table = 0, sysv_table = 0;
  const uint64_t entries = dynamic.p_filesz / sizeof(Elf64_Dyn); // the segment fits: checked before
  for (uint64_t i = 0; i < entries; ++i) {
    const Elf64_Dyn entry = *read_at<Elf64_Dyn>(bytes, dynamic.p_offset + i * sizeof(Elf64_Dyn));
    if (entry.d_tag == DT_NULL) break;
    switch (entry.d_tag) {
    case DT_SYMTAB: symtab = entry.d_un.d_ptr; break;
    case DT_STRTAB: strtab = entry.d_un.d_ptr; break;
    case DT_STRSZ: strsz = entry.d_un.d_val; break;
    case DT_SYMENT: syment = entry.d_un.d_val; break;
    case DT_GNU_HASH: gnu_table = entry.d_un.d_ptr; break;
    case DT_HASH: sysv_table = entry.d_un.d_ptr; break;
    default: break;
    }
  }
  if (symtab == 0 || strtab == 0 || (gnu_table == 0 && sysv_table == 0)) return missing + " (no dynamic symbol table)";
  if (syment != sizeof(Elf64_Sym)) return "a dynamic symbol table of entry size " + std::to_string(syment);
  const auto strings_at = file_offset(loads, strtab, strsz);
  if (!strings_at || strsz == 0) return "a dynamic string table outside the file";

  DynamicSymbols table{bytes, loads, symtab, *strings_at, strsz};
  std::optional<Elf64_Sym> symbol;
  // The dynamic loader prefers the GNU table when there is one.
  const auto damaged =
      gnu_table != 0 ? table.find_gnu(gnu_table, wanted, symbol) : table.find_sysv(sysv_table, wanted, symbol);
  if (damaged) return "a damaged dynamic symbol table: " + *damaged;
  if (!symbol) return missing;
  if (symbol->st_shndx == SHN_UNDEF) return missing + " (it only refers to it)";
  if (ELF64_ST_TYPE(symbol->st_info) != STT_FUNC) return missing + " as a function";
  const unsigned binding = ELF64_ST_BIND(symbol->st_info);
  const unsigned visibility = ELF64_ST_VISIBILITY(symbol->st_other);
  if ((binding != STB_GLOBAL && binding != STB_WEAK) || (visibility != STV_DEFAULT && visibility != STV_PROTECTED)) {
    return missing + " (it is not visible outside the library)";
  }
  return std::nullopt;
}

} // namespace

PluginTrust PluginTrust::of_this_process() { return PluginTrust{::geteuid()}; }

std::optional<FileSignature> file_signature(const std::filesystem::path& file) {
  struct stat info {};
  if (::stat(file.c_str(), &info) != 0) return std::nullopt;
  return signature_of(info);
}

std::optional<std::string> plugins_folder_problem(const std::filesystem::path& folder, const PluginTrust& trust) {
  struct stat info {};
  if (::stat(folder.c_str(), &info) != 0) return "cannot read the plugins folder (" + errno_text(errno) + ")";
  if (!S_ISDIR(info.st_mode)) return "the plugins folder is not a folder";
  if (const auto problem = writer_problem(info, trust)) {
    return "the plugins folder is " + *problem +
           ": nothing in it is loaded, since only the host's user and root may be able to put code there";
  }
  return std::nullopt;
}

PluginFileRead read_plugin_file(const std::filesystem::path& file, const PluginTrust& trust) {
  const auto refuse = [](std::string problem) { return PluginFileRead{std::nullopt, std::move(problem)}; };
  struct stat entry {};
  if (::lstat(file.c_str(), &entry) != 0) return refuse("cannot be read (" + errno_text(errno) + ")");
  std::filesystem::path target = file;
  if (S_ISLNK(entry.st_mode)) {
    std::string problem;
    const auto resolved = resolve_inside(file, problem);
    if (!resolved) return refuse(problem);
    target = *resolved;
  }
  // O_NOFOLLOW: the name resolved above is not swapped for a link in between; O_NONBLOCK: a
  // FIFO wearing a module's name does not hang the scan.
  const Descriptor fd(::open(target.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY));
  if (fd.get() < 0) return refuse("cannot be read (" + errno_text(errno) + ")");
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) return refuse("cannot be read (" + errno_text(errno) + ")");
  if (!S_ISREG(info.st_mode)) return refuse("is not a regular file");
  if (const auto problem = writer_problem(info, trust)) {
    return refuse("is " + *problem + ": only the host's user and root may be able to change a plugin");
  }
  if (static_cast<uint64_t>(info.st_size) > max_plugin_bytes) {
    return refuse("is larger than " + std::to_string(max_plugin_bytes >> 20) + " MiB, more than any plugin");
  }
  std::string bytes(static_cast<std::size_t>(info.st_size), '\0');
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::pread(fd.get(), bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return refuse("cannot be read (" + errno_text(errno) + ")");
    if (n == 0) return refuse("became shorter while being read (is it still being copied?)");
    done += static_cast<std::size_t>(n);
  }
  return PluginFileRead{PluginFileBytes{std::move(bytes), signature_of(info)}, {}};
}

std::optional<std::string> elf_plugin_problem(std::string_view bytes) {
  const uint64_t size = bytes.size();
  if (size < EI_NIDENT) return "too short to be a shared library";
  if (std::memcmp(bytes.data(), ELFMAG, SELFMAG) != 0) return "not an ELF file";
  const auto elf_class = static_cast<unsigned char>(bytes[EI_CLASS]);
  if (elf_class != ELFCLASS64) {
    return std::string("an ELF file of the wrong class (") + (elf_class == ELFCLASS32 ? "32-bit" : "unknown class") +
           "; this host loads only 64-bit ELF)";
  }
  if (static_cast<unsigned char>(bytes[EI_DATA]) != host_elf_data) return "an ELF file of the other byte order";
  const auto header = read_at<Elf64_Ehdr>(bytes, 0);
  if (!header) return "too short to be a shared library";
  if (header->e_type != ET_DYN) return "not a shared library (ELF type " + std::to_string(header->e_type) + ")";
  if (host_elf_machine >= 0 && header->e_machine != host_elf_machine) {
    return "built for another machine (ELF machine " + std::to_string(header->e_machine) + ", this host's is " +
           std::to_string(host_elf_machine) + ")";
  }
  if (header->e_phentsize != sizeof(Elf64_Phdr) ||
      !fits(size, header->e_phoff, uint64_t{header->e_phnum} * sizeof(Elf64_Phdr))) {
    return "truncated or damaged (program headers past the end of the file)";
  }
  std::vector<LoadSegment> loads;
  std::optional<Elf64_Phdr> dynamic;
  for (uint16_t i = 0; i < header->e_phnum; ++i) {
    const Elf64_Phdr segment = *read_at<Elf64_Phdr>(bytes, header->e_phoff + uint64_t{i} * sizeof(Elf64_Phdr));
    if ((segment.p_type == PT_LOAD || segment.p_type == PT_DYNAMIC) &&
        !fits(size, segment.p_offset, segment.p_filesz)) {
      // The dynamic loader maps segments straight from the file: one past its end would be
      // pages that kill the process with SIGBUS when touched.
      return "truncated (a segment ends past the end of the file; is it still being copied?)";
    }
    if (segment.p_type == PT_LOAD) loads.push_back({segment.p_vaddr, segment.p_offset, segment.p_filesz});
    if (segment.p_type == PT_DYNAMIC && !dynamic) dynamic = segment;
  }
  if (header->e_shoff != 0 && !fits(size, header->e_shoff, uint64_t{header->e_shnum} * header->e_shentsize)) {
    return "truncated (section headers past the end of the file; is it still being copied?)";
  }
  if (!dynamic) return "does not export " + std::string(CONNECTOR_NEGOTIATE_SYMBOL) + " (no dynamic segment)";
  return export_problem(bytes, loads, *dynamic);
}

} // namespace connector::core
