// The permissions an API key can hold: the one list of words `keys create --permissions`
// accepts, and what each route may ask for (Route::permission). A key holds a space-separated
// set of them; no permission implies another.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace connector::host {

// The organization's connectors: flows, workspaces, sources, source definitions, tests. What
// a key gets when nothing else is asked for.
inline constexpr const char* sources_permission = "sources";
// Reading a source's access token (POST sources/{id}/access-token).
inline constexpr const char* credentials_read_permission = "credentials:read";
// The organization's security settings (the redirect allow-list, its and its workspaces'
// OAuth apps) and the operator's views (/v1/admin/...).
inline constexpr const char* admin_permission = "admin";

inline constexpr const char* default_key_permissions = sources_permission;

bool is_known_permission(std::string_view word);

// The permission list normalised (words once each, single spaces), or nullopt naming the
// first unknown word in `unknown`: a misspelt permission must not silently make a weaker key.
std::optional<std::string> parse_permissions(std::string_view text, std::string& unknown);

// True when the space-separated `held` contains `permission`.
bool holds_permission(std::string_view held, std::string_view permission);

} // namespace connector::host
