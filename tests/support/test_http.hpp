// A small synchronous HTTP(S) client for integration tests: one request per connection,
// redirects never followed (the tests look at each Location themselves).
#pragma once

#include <map>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

namespace connector::testing {

struct HttpResult {
  int status = 0;
  std::map<std::string, std::string> headers; // lower-case names
  std::string body;

  nlohmann::json json() const { return nlohmann::json::parse(body, nullptr, false); }
  std::string header(const std::string& lower_name) const {
    const auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

// `url` is http://host:port/path?query or https://...; for https the server is verified
// against `ca_file`. Raw headers are sent as given; the body as given.
HttpResult http_request(const std::string& method, const std::string& url,
                        const std::map<std::string, std::string>& headers = {}, const std::string& body = {},
                        const std::string& ca_file = {});

// JSON helpers for the API: Authorization: Bearer <key>, Content-Type: application/json.
HttpResult api_post(const std::string& url, const std::string& key, const nlohmann::json& body);
HttpResult api_get(const std::string& url, const std::string& key);

// One plain-HTTP connection kept open across requests (keep-alive), for tests about what
// happens to live connections: a reload must not drop them, a stop must answer what they sent.
class KeepAliveConnection {
public:
  KeepAliveConnection(const std::string& host, unsigned short port); // throws when it cannot connect
  ~KeepAliveConnection();
  KeepAliveConnection(const KeepAliveConnection&) = delete;
  KeepAliveConnection& operator=(const KeepAliveConnection&) = delete;

  // Sends one request on this connection and reads its answer; throws boost::system::system_error
  // when the connection ends before a whole answer arrives.
  HttpResult request(const std::string& method, const std::string& target,
                     const std::map<std::string, std::string>& headers = {}, const std::string& body = {});

private:
  struct State;
  std::unique_ptr<State> state_;
};

// Sends raw bytes and returns the raw answer (for malformed-HTTP and limit tests).
std::string raw_exchange(const std::string& host, unsigned short port, const std::string& bytes);

} // namespace connector::testing
