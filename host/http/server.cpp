#include "http/server.hpp"

#include "crypto/random.hpp"
#include "http/connection_admission.hpp"
#include "http/request_framing.hpp"
#include "http/response_wire.hpp"
#include "http/responses.hpp"
#include "logging/logger.hpp"
#include "text/hex.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <tuple>
#include <type_traits>

namespace connector::host {

namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;
constexpr auto use_tuple = asio::as_tuple(asio::use_awaitable);

namespace {

// A trace id names one request in the log and in the client's X-Request-Id; it is not a
// secret, so it needs no CSPRNG draw per request: 64 random bits drawn once per process (ids
// stay apart across processes and restarts), then a counter.
std::string new_trace_id() {
  static const std::string process_part = core::hex_encode(core::random_bytes(8));
  static std::atomic<uint64_t> requests{0};
  std::string id;
  id.reserve(process_part.size() + 16);
  id += process_part;
  core::append_hex_u64(id, requests.fetch_add(1, std::memory_order_relaxed));
  return id;
}

double millis_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
}

// What a client gets when its request could not be read: nothing when it went away or
// timed out, the envelope when the request was too large or not HTTP.
std::optional<core::ApiError> answer_to_unreadable(const beast::error_code& error) {
  if (error == beast::http::error::body_limit) return core::ApiError(core::ErrorCode::payload_too_large);
  if (error == beast::http::error::header_limit) return core::ApiError(core::ErrorCode::headers_too_large);
  if (error.category() == beast::http::make_error_code(beast::http::error::bad_method).category() &&
      error != beast::http::error::end_of_stream && error != beast::http::error::partial_message) {
    return core::ApiError(core::ErrorCode::malformed_request);
  }
  return std::nullopt;
}

// accept() fails this way when the process or the system is out of descriptors or kernel
// memory. Retrying at once fails again at once: the loop would spin a core and log without
// end while the connections that hold the descriptors finish.
bool out_of_resources(const beast::error_code& error) {
  return error == asio::error::no_descriptors || error == asio::error::no_buffer_space ||
         error == asio::error::no_memory || error == beast::error_code(ENFILE, boost::system::system_category());
}

// The pause after a failed accept for lack of resources: from 10 ms, doubled after each
// failure in a row, at most a second (what it takes an ordinary request to free its descriptor).
constexpr std::chrono::milliseconds first_accept_pause{10};
constexpr std::chrono::milliseconds longest_accept_pause{1000};
// How long, and how many bytes, a connection refused for its request is drained before it
// closes (see linger()).
constexpr std::chrono::seconds linger_time{1};
constexpr std::size_t linger_bytes = std::size_t{256} * 1024;
// A warning that recurs (failed accepts, shed connections) is logged once per interval.
constexpr std::chrono::seconds warning_interval{10};

} // namespace

struct HttpServer::Impl : std::enable_shared_from_this<HttpServer::Impl> {
  // A connection the server may have to close at stop: idle ones are closed at once, busy
  // ones after their answer.
  // Lives in its session's frame; the registry points at it while the session runs. `busy`
  // is written by the session without the registry's lock (twice per request) and read
  // by stop().
  struct Connection {
    beast::tcp_stream* stream = nullptr;
    std::atomic<bool> busy{false};
  };

  Impl(asio::io_context& io_context, std::vector<asio::io_context*> targets, const Router& r, ServerLimits l,
       std::shared_ptr<std::atomic<std::size_t>> count)
      : acceptor(asio::make_strand(io_context)), connection_contexts(std::move(targets)), router(r),
        limits(std::move(l)), connections(std::move(count)),
        admission(limits.max_connections, limits.max_connections_per_client) {
    if (connection_contexts.empty()) throw std::invalid_argument("HttpServer needs a context for its connections");
    // Asio makes a context's epoll instance when the context's first socket is made. Made
    // here, at start, it cannot fail later: accepting the first connection into a context
    // while descriptors are exhausted would otherwise throw out of the accept loop.
    for (asio::io_context* context : connection_contexts)
      tcp::socket reactor_made_now(*context);
  }

  tcp::acceptor acceptor;
  std::vector<asio::io_context*> connection_contexts;
  std::size_t next_context = 0; // only the accept loop touches it
  const Router& router;
  ServerLimits limits;
  std::shared_ptr<std::atomic<std::size_t>> connections;
  ConnectionAdmission admission;
  // Only the accept loop touches these.
  ThrottledWarning accept_failures{"accept failed", warning_interval};
  ThrottledWarning shed_connections{"connection refused: too many open", warning_interval};
  std::atomic<bool> stopping{false};
  std::mutex registry_mutex;
  std::map<uint64_t, Connection*> registry;
  uint64_t next_id = 0;

  asio::awaitable<void> accept_loop() {
    asio::steady_timer pause_timer(acceptor.get_executor());
    std::chrono::milliseconds pause = first_accept_pause;
    for (;;) {
      // Round robin: the connection's socket, timers and session all live on one context,
      // run by one thread, so nothing of it needs a strand.
      asio::io_context& target = *connection_contexts[next_context++ % connection_contexts.size()];
      auto [error, socket] = co_await acceptor.async_accept(target, use_tuple);
      if (error) {
        if (error == asio::error::operation_aborted || stopping.load()) co_return;
        accept_failures.happened(error.message());
        if (out_of_resources(error)) {
          pause_timer.expires_after(pause);
          co_await pause_timer.async_wait(use_tuple);
          pause = std::min(pause * 2, longest_accept_pause);
        }
        continue;
      }
      pause = first_accept_pause;
      beast::error_code ignored;
      const tcp::endpoint peer = socket.remote_endpoint(ignored);
      if (ignored) continue; // reset before it was accepted; the socket closes here
      if (admission.admit(peer.address()) != ConnectionAdmission::Verdict::admitted) {
        shed(socket, peer);
        continue;
      }
      connections->fetch_add(1);
      // An answer goes out in one write; Nagle's algorithm would only hold back the rare one
      // that follows a segment not yet acknowledged.
      socket.set_option(tcp::no_delay(true), ignored);
      auto executor = socket.get_executor();
      if (limits.tls) {
        asio::co_spawn(executor, tls_session(shared_from_this(), beast::tcp_stream(std::move(socket)), peer.address()),
                       asio::detached);
      } else {
        asio::co_spawn(executor, session(shared_from_this(), beast::tcp_stream(std::move(socket)), peer.address()),
                       asio::detached);
      }
    }
  }

  // A connection over a cap gets a 503 in the envelope if the socket takes it at once (it
  // always has room for a first write), and is closed without waiting: shedding must cost
  // less than serving. Over TLS the answer cannot be sent before a handshake, so it is only
  // closed.
  template <typename Socket> void shed(Socket& socket, const tcp::endpoint& peer) {
    shed_connections.happened(peer.address().to_string());
    beast::error_code ignored;
    if (!limits.tls) {
      Response response =
          bare_error_response(http_1_1, new_trace_id(), core::ApiError(core::ErrorCode::too_many_connections));
      response.set(beast::http::field::retry_after, "1");
      response.keep_alive(false);
      const ResponseWire wire(response, /*with_body=*/true);
      socket.non_blocking(true, ignored); // what the socket does not take at once is dropped
      socket.write_some(wire.buffers(), ignored);
      socket.shutdown(tcp::socket::shutdown_send, ignored);
    }
    socket.close(ignored);
  }

  void closed(const asio::ip::address& client) {
    admission.release(client);
    connections->fetch_sub(1);
  }

  uint64_t enroll(Connection* connection) {
    std::lock_guard lock(registry_mutex);
    const uint64_t id = next_id++;
    registry[id] = connection;
    return id;
  }
  void retire(uint64_t id) {
    std::lock_guard lock(registry_mutex);
    registry.erase(id);
  }

  static asio::awaitable<void> session(std::shared_ptr<Impl> self, beast::tcp_stream stream, asio::ip::address client) {
    co_await serve(self, stream);
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream.socket().close(ignored);
    self->closed(client);
  }

  // HTTPS: the handshake within the header timeout, then the same request loop over TLS.
  static asio::awaitable<void> tls_session(std::shared_ptr<Impl> self, beast::tcp_stream plain,
                                           asio::ip::address client) {
    beast::ssl_stream<beast::tcp_stream> stream(std::move(plain), *self->limits.tls);
    beast::get_lowest_layer(stream).expires_after(self->limits.header_timeout);
    auto [handshake_error] = co_await stream.async_handshake(asio::ssl::stream_base::server, use_tuple);
    if (!handshake_error) {
      co_await serve(self, stream);
      beast::get_lowest_layer(stream).expires_after(std::chrono::seconds(2));
      co_await stream.async_shutdown(use_tuple);
    }
    beast::error_code ignored;
    beast::get_lowest_layer(stream).socket().close(ignored);
    self->closed(client);
  }

  // Writes an answer within `timeout`. Over plain TCP the answer is first offered to the
  // socket directly: a few hundred bytes almost always fit its buffer, and then the answer
  // is out without arming the write timer, a completion queued on the io_context, the timer's
  // cancellation queued after it and the coroutine's resumption through both. What the
  // socket does not take goes the timed asynchronous way. TLS always does.
  template <typename Stream>
  static asio::awaitable<beast::error_code> send_directly_first(Stream& stream, const ResponseWire& wire,
                                                                std::chrono::steady_clock::duration timeout) {
    const std::array<asio::const_buffer, 2> buffers = wire.buffers();
    beast::buffers_suffix<std::array<asio::const_buffer, 2>> rest(buffers);
    if constexpr (std::is_same_v<Stream, beast::tcp_stream>) {
      beast::error_code error;
      // Non-blocking: write_some answers would_block instead of waiting for room.
      if (!stream.socket().non_blocking()) stream.socket().non_blocking(true, error);
      const std::size_t sent = error ? 0 : stream.socket().write_some(buffers, error);
      if (error && error != asio::error::would_block) co_return error;
      rest.consume(sent);
      if (beast::buffer_bytes(rest) == 0) co_return beast::error_code{};
    }
    beast::get_lowest_layer(stream).expires_after(timeout);
    auto [error, written] = co_await asio::async_write(stream, rest, use_tuple);
    (void)written;
    co_return error;
  }

  // After an error answer on a connection whose request was not read to its end: closing at
  // once, with the client's bytes unread, makes the kernel send a reset, and a reset can
  // destroy the answer in the client's buffer before the client reads it. So the sending side
  // is shut down and what still arrives is read and dropped, for a short bounded while.
  static asio::awaitable<void> linger(beast::tcp_stream& lowest) {
    beast::error_code ignored;
    lowest.socket().shutdown(tcp::socket::shutdown_send, ignored);
    lowest.expires_after(linger_time);
    std::array<char, 4096> discard{};
    for (std::size_t drained = 0; drained < linger_bytes;) {
      auto [error, read] = co_await lowest.async_read_some(asio::buffer(discard), use_tuple);
      if (error) break;
      drained += read;
    }
  }

  // A small request's body usually arrives with its header, and is then already in `buffer`
  // when the header has been read: parsed from there, the request is complete without a
  // second asynchronous read and its timer. True when the message is complete; `error` is set
  // when the buffered bytes are not a valid body (or exceed its limit).
  static bool body_complete_from_buffer(beast::http::request_parser<beast::http::string_body>& parser,
                                        beast::flat_buffer& buffer, beast::error_code& error) {
    parser.eager(true); // the whole body in one put, as beast::http::async_read does
    while (!parser.is_done() && buffer.size() > 0) {
      const std::size_t used = parser.put(buffer.data(), error);
      buffer.consume(used);
      if (error == beast::http::error::need_more) {
        error = {};
        break;
      }
      if (error) return false;
      if (used == 0) break; // no progress: the asynchronous read takes over
    }
    return parser.is_done();
  }

  // Reads requests and answers them until the client or the server ends the connection.
  template <typename Stream> static asio::awaitable<void> serve(std::shared_ptr<Impl> self, Stream& stream) {
    beast::tcp_stream& lowest = beast::get_lowest_layer(stream);
    Connection connection;
    connection.stream = &lowest;
    const uint64_t id = self->enroll(&connection);
    beast::flat_buffer buffer;
    bool first = true;
    while (!self->stopping.load()) {
      beast::http::request_parser<beast::http::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(self->limits.header_bytes));
      parser.body_limit(self->limits.body_bytes);
      lowest.expires_after(first ? self->limits.header_timeout : self->limits.idle_timeout);
      first = false;
      // The header first: its framing is checked before any of the body is read, and the
      // body then gets a deadline of its own.
      auto [read_error, read_bytes] = co_await beast::http::async_read_header(stream, buffer, parser, use_tuple);
      std::optional<core::ApiError> answer;
      if (!read_error) {
        if (const auto problem = framing_problem(parser.get().base(), parser.chunked()); !problem.empty()) {
          answer = core::ApiError(core::ErrorCode::malformed_request, std::string(problem));
        } else if (!body_complete_from_buffer(parser, buffer, read_error) && !read_error) {
          lowest.expires_after(self->limits.body_timeout);
          std::tie(read_error, read_bytes) = co_await beast::http::async_read(stream, buffer, parser, use_tuple);
        }
      }
      (void)read_bytes;
      if (read_error) answer = answer_to_unreadable(read_error);
      // A request refused for its framing ends the connection too: the rest of its bytes
      // are not requests.
      if (read_error || answer) {
        if (answer) {
          Response response = bare_error_response(http_1_1, new_trace_id(), *answer);
          response.keep_alive(false);
          const ResponseWire wire(response, /*with_body=*/true);
          const beast::error_code write_error = co_await send_directly_first(stream, wire, self->limits.write_timeout);
          if (!write_error) co_await linger(lowest);
        }
        break; // closed, timed out or unusable: the connection ends
      }

      connection.busy.store(true);
      const auto started = std::chrono::steady_clock::now();
      const Request& request = parser.get();
      std::string trace_id = new_trace_id();
      std::string route;
      Response response = co_await self->router.dispatch(request, trace_id, route);
      const bool keep_alive = request.keep_alive() && !self->stopping.load();
      response.keep_alive(keep_alive);
      const ResponseWire wire(response, /*with_body=*/request.method() != beast::http::verb::head);
      const beast::error_code write_error = co_await send_directly_first(stream, wire, self->limits.write_timeout);
      if (log_enabled(LogLevel::info)) {
        const std::string target(request.target());
        log(LogLevel::info, "request",
            {{"trace_id", trace_id},
             {"method", std::string(request.method_string())},
             {"path", target.substr(0, target.find('?'))}, // the query may hold a code or state
             {"route", route},
             {"status", response.result_int()},
             {"latency_ms", millis_since(started)}});
      }
      connection.busy.store(false);
      if (write_error || !keep_alive) break;
    }
    self->retire(id);
  }
};

HttpServer::HttpServer(asio::io_context& io, std::vector<asio::io_context*> connection_contexts, const Router& router,
                       ServerLimits limits)
    : connections_(std::make_shared<std::atomic<std::size_t>>(0)) {
  impl_ = std::make_shared<Impl>(io, std::move(connection_contexts), router, std::move(limits), connections_);
}

HttpServer::~HttpServer() = default;

void HttpServer::start(const tcp::endpoint& endpoint) {
  impl_->acceptor.open(endpoint.protocol());
  impl_->acceptor.set_option(asio::socket_base::reuse_address(true));
  impl_->acceptor.bind(endpoint);
  impl_->acceptor.listen(asio::socket_base::max_listen_connections);
  asio::co_spawn(impl_->acceptor.get_executor(), impl_->accept_loop(), asio::detached);
}

tcp::endpoint HttpServer::local_endpoint() const { return impl_->acceptor.local_endpoint(); }

void HttpServer::stop() {
  impl_->stopping.store(true);
  asio::post(impl_->acceptor.get_executor(), [impl = impl_] {
    beast::error_code ignored;
    impl->acceptor.close(ignored);
  });
  std::lock_guard lock(impl_->registry_mutex);
  for (auto& [id, connection] : impl_->registry) {
    if (connection->busy.load()) continue; // it closes itself after answering
    beast::tcp_stream* stream = connection->stream;
    // Checked again on the connection's own thread, where the session is either waiting for
    // a request (cancel it) or answering one (it ends itself after the answer).
    asio::post(stream->get_executor(), [stream, impl = impl_, id = id] {
      std::lock_guard inner(impl->registry_mutex);
      const auto found = impl->registry.find(id);
      if (found != impl->registry.end() && !found->second->busy.load()) stream->cancel();
    });
  }
}

} // namespace connector::host
