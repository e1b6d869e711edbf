#include "integration/oidc_server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <stdexcept>

namespace connector::testing {

unsigned short free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
                  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  ::close(fd);
  if (!ok) throw std::runtime_error("no free loopback port");
  return ntohs(address.sin_port);
}

OidcServer::OidcServer(const std::filesystem::path& log_dir, const std::string& flavour, const std::string& client_id,
                       const std::string& client_secret, const std::string& redirect_uri,
                       const std::vector<std::string>& options) {
  const auto tls = tls_dir();
  std::vector<std::string> command{"/usr/bin/node",   (source_dir() / "tests/peers/oidc-server.js").string(),
                                   "--cert",          (tls / "server.pem").string(),
                                   "--key",           (tls / "server-key.pem").string(),
                                   "--flavour",       flavour,
                                   "--port",          "0",
                                   "--client-id",     client_id,
                                   "--client-secret", client_secret,
                                   "--redirect-uri",  redirect_uri};
  command.insert(command.end(), options.begin(), options.end());
  process_ = std::make_unique<ChildProcess>(command, std::map<std::string, std::string>{}, log_dir, "oidc-server");
  // oidc-provider needs a second or two (an RSA key is made at start-up).
  const auto line = process_->wait_for_stdout("\"issuer\"", std::chrono::seconds(30));
  if (!line) throw std::runtime_error("oidc-server.js did not start: " + process_->stderr_text());
  issuer_ = nlohmann::json::parse(*line).at("issuer").get<std::string>();
}

std::map<std::string, std::string> google_sheets_settings_at(const std::string& issuer, const std::string& client_id,
                                                             const std::string& client_secret) {
  return {{"CONNECTOR_GOOGLE_SHEETS_CLIENT_ID", client_id},
          {"CONNECTOR_GOOGLE_SHEETS_CLIENT_SECRET", client_secret},
          {"CONNECTOR_GOOGLE_SHEETS_AUTH_URI", issuer + "/o/oauth2/v2/auth"},
          {"CONNECTOR_GOOGLE_SHEETS_TOKEN_URI", issuer + "/token"},
          {"CONNECTOR_GOOGLE_SHEETS_REVOKE_URI", issuer + "/revoke"},
          {"CONNECTOR_GOOGLE_SHEETS_DRIVE_API_URL", issuer},
          {"CONNECTOR_GOOGLE_SHEETS_API_BASE_URL", issuer},
          {"CONNECTOR_GOOGLE_SHEETS_ISSUER", issuer}};
}

nlohmann::json OidcServer::stats() const {
  return http_request("GET", issuer_ + "/__control/stats", {}, {}, (tls_dir() / "ca.pem").string()).json();
}

void OidcServer::reset_stats() const {
  const auto reset = http_request("POST", issuer_ + "/__control/reset", {}, {}, (tls_dir() / "ca.pem").string());
  if (reset.status != 200) throw std::runtime_error("oidc-server.js refused the reset: " + reset.body);
}

} // namespace connector::testing
