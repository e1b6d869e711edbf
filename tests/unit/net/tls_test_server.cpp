#include "unit/net/tls_test_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <cstdlib>
#include <stdexcept>

namespace connector::test {
namespace {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

constexpr auto as_result = net::as_tuple(net::use_awaitable);

bool all_files_present(const std::filesystem::path& directory) {
  for (const char* name : {"ca.pem", "server.pem", "server-key.pem", "wrong-host.pem", "wrong-host-key.pem",
                           "untrusted.pem", "untrusted-key.pem"}) {
    if (!std::filesystem::exists(directory / name)) return false;
  }
  return true;
}

} // namespace

const std::filesystem::path& test_tls_dir() {
  static const std::filesystem::path directory = [] {
    std::filesystem::path dir = CONNECTOR_TEST_TLS_DIR;
    if (!all_files_present(dir)) {
      // Running the binary by hand, outside CTest's fixture: make the PKI now.
      const std::string command = std::string("'") + CONNECTOR_TEST_TLS_SCRIPT + "' '" + dir.string() + "'";
      if (std::system(command.c_str()) != 0 || !all_files_present(dir)) {
        throw std::runtime_error("cannot create the test PKI with " + command);
      }
    }
    return dir;
  }();
  return directory;
}

TestResponse make_response(unsigned status, std::string body) {
  TestResponse response{static_cast<http::status>(status), 11};
  response.set(http::field::content_type, "text/plain");
  response.body() = std::move(body);
  response.prepare_payload();
  return response;
}

TlsTestServer::TlsTestServer(const std::string& certificate, Handler handler, Behaviour behaviour,
                             const std::string& listen_address)
    : handler_(std::move(handler)), behaviour_(behaviour) {
  const std::filesystem::path& dir = test_tls_dir();
  tls_.use_certificate_chain_file((dir / (certificate + ".pem")).string());
  tls_.use_private_key_file((dir / (certificate + "-key.pem")).string(), net::ssl::context::pem);

  const tcp::endpoint endpoint(net::ip::make_address(listen_address), 0);
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen();
  port_ = acceptor_.local_endpoint().port();
  start_accepting();
  thread_ = std::thread([this] { io_.run(); });
}

TlsTestServer::~TlsTestServer() {
  io_.stop();
  thread_.join();
}

std::vector<TestRequest> TlsTestServer::requests() const {
  const std::lock_guard lock(requests_mutex_);
  return requests_;
}

void TlsTestServer::start_accepting() {
  acceptor_.async_accept([this](boost::system::error_code error, tcp::socket socket) {
    if (error) return;
    ++accepted_;
    serve(std::move(socket));
    start_accepting();
  });
}

void TlsTestServer::serve(tcp::socket socket) {
  net::co_spawn(
      io_,
      [this, socket = std::move(socket)]() mutable -> net::awaitable<void> {
        if (behaviour_ == Behaviour::silent_before_handshake) {
          // Swallow the ClientHello and whatever follows until the client gives up.
          char sink[4096];
          for (;;) {
            auto [error, count] = co_await socket.async_read_some(net::buffer(sink), as_result);
            if (error) co_return;
          }
        }
        beast::ssl_stream<beast::tcp_stream> stream(std::move(socket), tls_);
        if (auto [error] = co_await stream.async_handshake(net::ssl::stream_base::server, as_result); error) {
          co_return; // the client refused the certificate: expected in the TLS failure tests
        }
        beast::flat_buffer buffer;
        TestRequest request;
        if (auto [error, count] = co_await http::async_read(stream, buffer, request, as_result); error) co_return;
        {
          const std::lock_guard lock(requests_mutex_);
          requests_.push_back(request);
        }
        if (behaviour_ == Behaviour::silent_after_request) {
          // Keep the connection open, saying nothing, until the client closes it.
          TestRequest never;
          co_await http::async_read(stream, buffer, never, as_result);
          co_return;
        }
        TestResponse response = handler_(request);
        co_await http::async_write(stream, response, as_result);
        co_await stream.async_shutdown(as_result);
      },
      net::detached);
}

} // namespace connector::test
