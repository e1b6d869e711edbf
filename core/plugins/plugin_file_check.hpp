// What the host checks about a plugin file before handing it to the dynamic loader. Loading a
// library runs its code (constructors run inside dlopen, before any ABI check), so a file
// another user could have written is refused unread, and a file is read once, through one
// descriptor, and checked as hostile bytes: an ELF shared library for this machine that
// exports the negotiation function. These checks keep other users' code out; they do not make
// a plugin safe to run (docs/plugin-authors-guide.md, "What the host checks before loading").
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace connector::core {

// Identifies one version of a file on disk: a replaced file (new inode), a rewritten one (new
// size or time) or one whose owner or mode changed differs.
struct FileSignature {
  uintmax_t device = 0;
  uintmax_t inode = 0;
  uintmax_t size = 0;
  int64_t modified_ns = 0;
  uint32_t mode = 0;
  uint32_t owner = 0;
  uint32_t group = 0;
  bool operator==(const FileSignature&) const = default;
};
// Follows a symbolic link, as loading does.
std::optional<FileSignature> file_signature(const std::filesystem::path& file);

// The users who may be able to write what the host loads: its own (effective) user and root.
struct PluginTrust {
  uid_t host_user = 0;
  static PluginTrust of_this_process();
};

// Why `folder` must not be loaded from (it is not a folder, or a user other than the host's or
// root can write it: another owner, group or world write permission); nullopt when it may.
std::optional<std::string> plugins_folder_problem(const std::filesystem::path& folder, const PluginTrust& trust);

// A plugin file read for loading: its bytes, and the file they came from as it was then.
struct PluginFileBytes {
  std::string bytes;
  FileSignature signature;
};
struct PluginFileRead {
  std::optional<PluginFileBytes> file; // empty when refused
  std::string problem;                 // why, without the file's name
};

// Reads `file`, a name in its folder, refusing it when it is not a regular file, when a user
// other than the host's or root can write it, when it is a symbolic link to anything but a file
// directly in the same folder (never followed out of it), or when it is larger than any plugin.
PluginFileRead read_plugin_file(const std::filesystem::path& file, const PluginTrust& trust);

// Why `bytes` are no loadable plugin for this host: not ELF, another class, byte order or
// machine, not a shared library, headers or segments past the end (a file still being
// copied), or no defined function `connector_plugin_negotiate` in its dynamic symbol table.
// The bytes are hostile: every offset and count is checked against their size and every loop
// is bounded by it.
std::optional<std::string> elf_plugin_problem(std::string_view bytes);

} // namespace connector::core
