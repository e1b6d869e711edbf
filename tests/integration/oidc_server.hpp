// The real authorization server of the end-to-end tests: tests/peers/oidc-server.js
// (oidc-provider 8) over TLS with the test CA's server certificate, as a process on loopback.
#pragma once

#include "integration/host_fixture.hpp"

#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace connector::testing {

// A port the kernel calls free on 127.0.0.1, released at once for someone else to bind. A
// server and the host must sometimes know each other's address before either starts (the
// server's registered redirect_uri is the host's callback); another program can take the port
// in between, so a caller that binds it retries when the bind fails with "in use".
unsigned short free_loopback_port();

// The Google Sheets plugin's settings (as CONNECTOR_GOOGLE_SHEETS_* variables) that point its
// every endpoint at a server wearing Google's paths, so nothing can leave for the real Google;
// the issuer makes the host compare the callback's iss with the server's own.
std::map<std::string, std::string> google_sheets_settings_at(const std::string& issuer, const std::string& client_id,
                                                             const std::string& client_secret);

// node tests/peers/oidc-server.js --flavour FLAVOUR with one client whose only registered
// redirect_uri is `redirect_uri`.
class OidcServer {
public:
  // `options`: more of oidc-server.js's options, e.g. --rotate-refresh-tokens.
  OidcServer(const std::filesystem::path& log_dir, const std::string& flavour, const std::string& client_id,
             const std::string& client_secret, const std::string& redirect_uri,
             const std::vector<std::string>& options = {});

  const std::string& issuer() const { return issuer_; }
  int pid() const { return process_->pid(); }
  std::string log() const { return process_->stderr_text(); }
  nlohmann::json stats() const;
  void reset_stats() const; // the counters /__control/stats reports start again from zero

private:
  std::unique_ptr<ChildProcess> process_;
  std::string issuer_;
};

} // namespace connector::testing
