// API keys: "chk_" + 256 random bits, shown once at creation and stored only as a SHA-256
// hash. A key belongs to one organization and carries permissions.
#pragma once

#include "auth/permissions.hpp"
#include "errors/expected.hpp"
#include "http/http_types.hpp"
#include "store/generation_cache.hpp"
#include "store/records.hpp"

#include <string>

namespace connector::core {
class StoreReaders;
}

namespace connector::host {

struct NewApiKey {
  core::ApiKeyRecord record;
  std::string secret; // the only time it exists outside the caller's hands
};

NewApiKey make_api_key(const std::string& organization_id, const std::string& name, const std::string& permissions);

// The key a request presents: "Authorization: Bearer <key>" or "X-API-Key: <key>".
std::optional<std::string> presented_key(const Request& request);

// Checks presented keys against the store: AUTHENTICATION_REQUIRED without one,
// INVALID_API_KEY for an unknown, malformed or revoked one. Keys found are kept in memory
// while the database's cache generation holds, so a request reads no key from SQLite; a key
// revoked with the CLI while the host runs is refused within core::cache_generation_max_age.
// Unknown keys are not kept: guessing cannot fill the memory.
class ApiKeyAuthenticator {
public:
  explicit ApiKeyAuthenticator(core::StoreReaders& readers) : readers_(readers) {}

  core::Expected<core::ApiKeyRecord> authenticate(const Request& request);

private:
  core::StoreReaders& readers_;
  core::GenerationCache<core::ApiKeyRecord> known_{10000}; // by key hash
};

} // namespace connector::host
