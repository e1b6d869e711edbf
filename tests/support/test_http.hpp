// A small synchronous HTTP(S) client for integration tests: one request per connection,
// redirects never followed (the tests look at each Location themselves).
#pragma once

#include <map>
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

// Sends raw bytes and returns the raw answer (for malformed-HTTP and limit tests).
std::string raw_exchange(const std::string& host, unsigned short port, const std::string& bytes);

} // namespace connector::testing
