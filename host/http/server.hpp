// The HTTP/1.1 listener and its sessions (Boost.Beast, C++20 coroutines): one coroutine per
// connection on a single-threaded io_context, a parser with header and body limits, a
// timeout on every read and write, request framing checked before a body is read, caps on
// open connections, keep-alive, and a graceful stop that lets accepted requests finish.
#pragma once

#include "http/router.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <vector>

namespace boost::asio::ssl {
class context;
}

namespace connector::host {

struct ServerLimits {
  std::size_t header_bytes = std::size_t{16} * 1024; // beyond: 431
  std::size_t body_bytes = std::size_t{64} * 1024;   // beyond: 413
  // A new connection's first request header must arrive within header_timeout (a client
  // that trickles it holds a descriptor for nothing); a header on a kept-alive connection
  // within idle_timeout; a body, once its header is in, within body_timeout.
  std::chrono::seconds header_timeout{10};
  std::chrono::seconds body_timeout{30};
  std::chrono::seconds idle_timeout{60};
  std::chrono::seconds write_timeout{30};
  // Connections open at once, in all and from one client address; a connection beyond either
  // is answered 503 TOO_MANY_CONNECTIONS and closed at once.
  std::size_t max_connections = 4096;
  std::size_t max_connections_per_client = 256;
  // Set: serve HTTPS with this context (certificate and key loaded); null: plain HTTP.
  std::shared_ptr<boost::asio::ssl::context> tls;
};

class HttpServer {
public:
  // The acceptor runs on `io`; each accepted connection goes to the next of
  // `connection_contexts` in turn, and its session, socket and timers stay there. Each of
  // those contexts must be run by exactly one thread: a session then needs no strand.
  HttpServer(boost::asio::io_context& io, std::vector<boost::asio::io_context*> connection_contexts,
             const Router& router, ServerLimits limits);
  ~HttpServer();

  // Binds and starts accepting; throws std::system_error if the address cannot be bound.
  void start(const boost::asio::ip::tcp::endpoint& endpoint);
  boost::asio::ip::tcp::endpoint local_endpoint() const;

  // Stops accepting and closes idle connections; requests in progress finish and their
  // connections close after answering.
  void stop();
  std::size_t open_connections() const { return connections_->load(); }

private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
  std::shared_ptr<std::atomic<std::size_t>> connections_;
};

} // namespace connector::host
