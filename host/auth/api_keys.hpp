// API keys: "chk_" + 256 random bits, shown once at creation and stored only as a SHA-256
// hash. A key belongs to one organization and carries permissions.
#pragma once

#include "errors/expected.hpp"
#include "http/http_types.hpp"
#include "store/records.hpp"

#include <boost/asio/awaitable.hpp>

#include <string>

namespace connector::core {
class StoreExecutor;
}

namespace connector::host {

inline constexpr const char* default_key_permissions = "sources";

struct NewApiKey {
  core::ApiKeyRecord record;
  std::string secret; // the only time it exists outside the caller's hands
};

NewApiKey make_api_key(const std::string& organization_id, const std::string& name, const std::string& permissions);

// The key a request presents: "Authorization: Bearer <key>" or "X-API-Key: <key>".
std::optional<std::string> presented_key(const Request& request);

// Checks the presented key against the store: AUTHENTICATION_REQUIRED without one,
// INVALID_API_KEY for an unknown, malformed or revoked one.
boost::asio::awaitable<core::Expected<core::ApiKeyRecord>> authenticate(core::StoreExecutor& store,
                                                                        const Request& request);

} // namespace connector::host
