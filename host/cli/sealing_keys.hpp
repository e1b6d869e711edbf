// The sealing keys a store needs: every key id its secrets were sealed with must be in the
// key file a replica uses, or that replica could not open them. serve checks at start and
// before it takes a changed key file on SIGHUP; encryption retire checks before it removes a
// key.
#pragma once

#include "crypto/sealer.hpp"
#include "store/store_executor.hpp"

#include <cstdint>
#include <filesystem>
#include <map>

namespace connector::host {

// Throws std::runtime_error naming each key id the stored secrets use that `sealer` lacks, how
// many secrets it seals and the key file.
void require_keys_for_stored_secrets(const std::map<uint32_t, int64_t>& secrets_by_key, const core::Sealer& sealer,
                                     const std::filesystem::path& key_file);

std::map<uint32_t, int64_t> count_secrets_by_key(core::StoreExecutor& store);

} // namespace connector::host
