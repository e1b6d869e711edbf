// Helpers for the tests of sources, workspaces and tokens (docs/sources-and-tokens.md): any
// API method, a whole OAuth flow that ends in a source, tokens minted straight from the
// provider double, raw looks at the SQLite files, and callers released together on threads.
#pragma once

#include "integration/host_fixture.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <string>

namespace connector::testing {

inline constexpr const char* github_definition = "ef69ef6e-aa7f-4af1-a01d-ef775033524e";
inline constexpr const char* google_sheets_definition = "71607ba1-c0ac-4799-8049-7f4b90dd50f7";
inline constexpr const char* credentials_read_permissions = "sources credentials:read";
// The organization's security settings (redirect allow-list, OAuth apps) need "admin".
inline constexpr const char* admin_permissions = "sources credentials:read admin";

// An API call with any method: Authorization: Bearer <key>; a JSON body unless `body` is null.
HttpResult api_call(const std::string& method, const std::string& url, const std::string& key,
                    const nlohmann::json& body = nullptr);

struct FlowResult {
  std::string connection_id;
  std::string consent_url; // the provider's authorization URL the host made
  nlohmann::json source;   // the answer of sources/oauth/callback
  std::string source_id() const { return source.value("source_id", ""); }
};

// Sends the browser through the double's consent stand-in and the host's provider-facing
// callback; returns where the host sent the browser at the end (the client's redirect_url).
// Throws std::runtime_error naming the step that went wrong.
std::string consent_and_callback(const std::string& authorization_url);

// A whole native flow (sources/oauth, consent, callback, sources/oauth/callback) in
// `workspace_id`; throws std::runtime_error naming the step that went wrong.
FlowResult run_flow(const HostProcess& host, const std::string& org, const std::string& key,
                    const std::string& workspace_id, const std::string& definition_id,
                    const std::string& name = "A source from a flow");

// A live GitHub access token issued by the double to `client_id`, as a user's own token would
// be (the double's authorize and token endpoints, called directly).
std::string mint_github_token(const ProviderDouble& provider, const std::string& client_id = "test-client-id",
                              const std::string& client_secret = "test-client-secret");

// Whether the double accepts `token` on GitHub's GET /user (true) or Google's Drive about.
bool github_token_works(const ProviderDouble& provider, const std::string& token);
bool google_token_works(const ProviderDouble& provider, const std::string& token);

// POST sources/{id}/access-token.
HttpResult request_access_token(const HostProcess& host, const std::string& org, const std::string& key,
                                const std::string& source_id, bool force_refresh = false);
// GET sources/{id} as JSON (null when not 200).
nlohmann::json get_source(const HostProcess& host, const std::string& org, const std::string& key,
                          const std::string& source_id);

// The answer of sqlite3 -readonly on the host's database (one line per row, no header).
std::string sqlite_query(const std::filesystem::path& data_dir, const std::string& sql);
std::filesystem::path database_file(const std::filesystem::path& data_dir);
// The bytes of a file; empty when it does not exist.
std::string file_bytes(const std::filesystem::path& file);
std::string hex_to_bytes(const std::string& hex);

// Runs fn(0) ... fn(n-1) on n threads released at the same moment; waits for all.
void run_concurrently(int n, const std::function<void(int)>& fn);

// The error envelope with this HTTP status and code (and a consistent error.status).
::testing::AssertionResult is_error(const HttpResult& result, int status, const std::string& code);

// Counts in the double's stats; 0 when absent.
int stat_count(const nlohmann::json& stats, const std::string& outcome);

} // namespace connector::testing
