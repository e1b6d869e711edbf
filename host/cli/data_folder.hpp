// The data folder holds the database (sealed credentials, key hashes) and usually the key
// ring: it and its files are the host user's alone. Every command that opens the store goes
// through here first, so that a `keys create` run before the first `serve` cannot leave
// them readable by other users.
#pragma once

#include <filesystem>

namespace connector::host {

// Creates `data_dir` if needed and makes it 0700; creates `database_file` empty with mode
// 0600 when it does not exist yet (SQLite gives its -wal and -shm files the database's
// mode), and makes an existing one and its -wal and -shm 0600 (an empty `database_file`: the
// store is not in the folder, which still holds the key ring and plugin copies). Throws std::system_error
// naming the path when a mode cannot be set: a folder the host cannot make private is not
// one to keep credentials in.
void prepare_data_folder(const std::filesystem::path& data_dir, const std::filesystem::path& database_file);

} // namespace connector::host
