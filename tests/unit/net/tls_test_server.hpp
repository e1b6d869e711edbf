// A small HTTPS server for the client tests: listens on a loopback address and an ephemeral
// port, serves each connection from its own coroutine on its own thread, and records what it
// was sent. Certificates come from the test CA (tests/tls/make-test-ca.sh).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace connector::test {

using TestRequest = boost::beast::http::request<boost::beast::http::string_body>;
using TestResponse = boost::beast::http::response<boost::beast::http::string_body>;

// The directory holding ca.pem, server.pem, ...; runs make-test-ca.sh first when a file is
// missing (CTest's fixture normally made them already).
const std::filesystem::path& test_tls_dir();

class TlsTestServer {
public:
  enum class Behaviour {
    answer,                  // read a request, answer with the handler's response, close
    silent_after_request,    // complete the handshake, read the request, never answer
    silent_before_handshake, // accept the TCP connection, never speak TLS
  };
  using Handler = std::function<TestResponse(const TestRequest&)>;

  // certificate: "server", "wrong-host" or "untrusted" (file stems in test_tls_dir()).
  // Throws when the address cannot be bound (e.g. no IPv6 on this machine).
  TlsTestServer(const std::string& certificate, Handler handler, Behaviour behaviour = Behaviour::answer,
                const std::string& listen_address = "127.0.0.1");
  ~TlsTestServer();
  TlsTestServer(const TlsTestServer&) = delete;
  TlsTestServer& operator=(const TlsTestServer&) = delete;

  std::uint16_t port() const { return port_; }
  std::size_t connections_accepted() const { return accepted_.load(); }
  std::vector<TestRequest> requests() const;

private:
  void start_accepting();
  void serve(boost::asio::ip::tcp::socket socket);

  Handler handler_;
  Behaviour behaviour_;
  boost::asio::ssl::context tls_{boost::asio::ssl::context::tls_server};
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_{io_};
  std::uint16_t port_ = 0;
  std::atomic<std::size_t> accepted_{0};
  mutable std::mutex requests_mutex_;
  std::vector<TestRequest> requests_;
  std::thread thread_;
};

// A plain response with the given status, body and Content-Length.
TestResponse make_response(unsigned status, std::string body);

} // namespace connector::test
