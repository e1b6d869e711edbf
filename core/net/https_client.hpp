// The host's one way out to providers: HTTPS only, certificate and host-name verification
// always on, a CA bundle of the operator's choice, connect and total timeouts, a cap on the
// answer's size, no redirects followed, and only to hosts the plugin declared.
#pragma once

#include "plugins/provider_types.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace connector::core {

struct HttpsClientOptions {
  std::string extra_ca_file; // PEM bundle trusted beside the system's (tests: their own CA)
  bool use_system_ca = true;
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds total_timeout{15000};
  std::size_t max_response_bytes = std::size_t{1024} * 1024;
  std::string user_agent = "connector-host";
};

enum class HttpsFailure {
  none,
  bad_url,     // not https://host[:port]/..., or user-info present
  not_allowed, // host not in the allow-list
  resolve,     // DNS
  connect,
  tls,       // handshake or verification
  timeout,   // connect or total
  too_large, // answer over max_response_bytes
  protocol   // malformed HTTP
};
const char* to_string(HttpsFailure failure);

struct HttpsOutcome {
  HttpsFailure failure = HttpsFailure::none;
  std::string message; // for logs and error details; never contains request headers or body
  ProviderAnswer answer;
  std::chrono::microseconds elapsed{0};
  bool ok() const { return failure == HttpsFailure::none; }
};

// Whether a request may go to `host`: it is `allowed` (names compared without case, IP
// addresses in canonical form), or `allowed` is "*.domain" and `host` is one DNS label under
// that domain (a Shopify store's {shop}.myshopify.com; never an IP address).
bool host_is_allowed(const std::string& allowed, std::string_view host);

class HttpsClient {
public:
  // Throws std::runtime_error at start-up if the extra CA file cannot be loaded. The system's
  // CAs are loaded by warm_up() or the first request, whichever comes first.
  HttpsClient(boost::asio::any_io_executor executor, HttpsClientOptions options);
  ~HttpsClient();

  // Loads the system's CAs on a thread of its own, so the first request finds them ready.
  void warm_up();
  HttpsClient(const HttpsClient&) = delete;
  HttpsClient& operator=(const HttpsClient&) = delete;

  // Sends one request and reads the whole answer. Hosts compare case-insensitively and
  // without the port; a 3xx answer is returned as it is, never followed. Never throws for
  // network or input problems: they come back as the outcome's failure. Parameters are taken
  // by value because the coroutine may start after the caller's temporaries are gone
  // (co_spawn(ex, client.send(make_request(), hosts), ...)).
  boost::asio::awaitable<HttpsOutcome> send(OutgoingRequest request, std::vector<std::string> allowed_hosts);

private:
  struct State;
  std::unique_ptr<State> state_;
};

} // namespace connector::core
