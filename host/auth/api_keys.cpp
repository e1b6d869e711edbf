#include "auth/api_keys.hpp"

#include "crypto/digest.hpp"
#include "crypto/random.hpp"
#include "oauth/ids.hpp"
#include "store/store_readers.hpp"
#include "time/unix_time.hpp"

#include <algorithm>
#include <array>

namespace connector::host {

namespace {

constexpr std::string_view key_prefix = "chk_";

bool well_formed(const std::string& key) {
  if (key.size() != key_prefix.size() + 43 || key.compare(0, key_prefix.size(), key_prefix) != 0) return false;
  // base64url, checked through a table: find_first_not_of searches its set once per byte.
  static constexpr auto base64url = [] {
    std::array<bool, 256> table{};
    for (const char c : std::string_view("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"))
      table[static_cast<unsigned char>(c)] = true;
    return table;
  }();
  return std::all_of(key.begin() + static_cast<std::ptrdiff_t>(key_prefix.size()), key.end(),
                     [](char c) { return base64url[static_cast<unsigned char>(c)]; });
}

std::string trim(std::string_view text) {
  const auto first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  const auto last = text.find_last_not_of(" \t");
  return std::string(text.substr(first, last - first + 1));
}

} // namespace

NewApiKey make_api_key(const std::string& organization_id, const std::string& name, const std::string& permissions) {
  NewApiKey key;
  key.secret = std::string(key_prefix) + core::random_token(256);
  key.record.id = core::make_id("key");
  key.record.organization_id = organization_id;
  key.record.name = name;
  key.record.key_hash = core::sha256_hex(key.secret);
  key.record.permissions = permissions;
  key.record.created_at = core::unix_now();
  return key;
}

std::optional<std::string> presented_key(const Request& request) {
  if (const auto authorization = request.find(http::field::authorization); authorization != request.end()) {
    const std::string value = trim(authorization->value());
    if (value.size() > 7 && (value.compare(0, 7, "Bearer ") == 0 || value.compare(0, 7, "bearer ") == 0)) {
      return trim(std::string_view(value).substr(7));
    }
    return std::string(); // present but not a bearer key
  }
  if (const auto api_key = request.find("X-API-Key"); api_key != request.end()) return trim(api_key->value());
  return std::nullopt;
}

core::Expected<core::ApiKeyRecord> ApiKeyAuthenticator::authenticate(const Request& request) {
  const auto key = presented_key(request);
  if (!key) return core::ApiError(core::ErrorCode::authentication_required);
  if (!well_formed(*key)) return core::ApiError(core::ErrorCode::invalid_api_key);
  const std::string hash = core::sha256_hex(*key);
  const int64_t generation = readers_.cache_generation(core::cache_generation_max_age);
  auto found = known_.find(hash, generation);
  if (!found) {
    found = readers_.read_now([&](core::Store& s) { return s.find_api_key_by_hash(hash); });
    if (found && !found->revoked_at) known_.put(hash, *found, generation);
  }
  if (!found || found->revoked_at) return core::ApiError(core::ErrorCode::invalid_api_key);
  return std::move(*found);
}

} // namespace connector::host
