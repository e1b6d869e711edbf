#include "net/https_client.hpp"

#include "net/url_authority.hpp"
#include "threads/thread_name.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <charconv>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <thread>

namespace connector::core {
namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;
using Clock = std::chrono::steady_clock;
using boost::system::error_code;

// Errors come back as values (as_tuple), never as exceptions: every failure becomes an outcome.
constexpr auto as_result = net::as_tuple(net::use_awaitable);

// A response header block larger than this is refused as too large (Beast's default of 8 KiB
// is tight for providers that set many cookies).
constexpr std::uint32_t max_header_bytes = 64 * 1024;
// How long the polite TLS close after a complete answer may take (in the background).
constexpr std::chrono::milliseconds shutdown_grace{200};

std::string lowercase(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); });
  return out;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  return a.size() == b.size() && lowercase(a) == lowercase(b);
}

// RFC 9110 section 5.6.2: the characters of a method or a header name.
bool is_token(std::string_view text) {
  static constexpr std::string_view extra = "!#$%&'*+-.^_`|~";
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           extra.find(c) != std::string_view::npos;
  });
}

// A header value may not smuggle a second header or request in (CR, LF) or end early (NUL).
bool is_field_value(std::string_view text) { return text.find_first_of(std::string_view("\r\n\0", 3)) == text.npos; }

// An IP literal in its canonical text (so "::1" and "0:0::1" compare equal), or nullopt.
std::optional<std::string> canonical_ip(std::string_view text) {
  error_code error;
  const auto address = net::ip::make_address(std::string(text), error);
  if (error) return std::nullopt;
  return address.to_string();
}

// How an allow-list entry or a URL host compares: lower case, no IPv6 brackets, IPs canonical.
std::string host_key(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (auto ip = canonical_ip(host)) return *ip;
  return lowercase(host);
}

struct Destination {
  std::string host; // for DNS, SNI and certificate checks: lower case, IPv6 without brackets
  bool host_is_ip = false;
  std::uint16_t port = 443;
  std::string host_header;    // host, "[v6]" when IPv6, ":port" when not 443
  std::string request_target; // path and query
  std::string where;          // "host:port" for messages: the URL's path and query may carry secrets
};

// Only https://host[:port]/path?query (a fragment is dropped); no user-info, no IPvFuture.
std::optional<Destination> parse_destination(std::string_view url, std::string& problem) {
  const auto parsed = boost::urls::parse_uri(url);
  if (!parsed) {
    problem = "the URL is not a valid absolute URI";
    return std::nullopt;
  }
  const boost::urls::url_view& view = *parsed;
  if (view.scheme_id() != boost::urls::scheme::https) {
    problem = "only https:// URLs are allowed";
    return std::nullopt;
  }
  if (view.has_userinfo()) {
    problem = "user-info in the URL is not allowed";
    return std::nullopt;
  }
  if (!host_is_whole_authority(view)) {
    problem = "the URL's host is not a valid host name";
    return std::nullopt;
  }

  Destination destination;
  switch (view.host_type()) {
  case boost::urls::host_type::ipv4:
    destination.host = view.host_ipv4_address().to_string();
    destination.host_is_ip = true;
    destination.host_header = destination.host;
    break;
  case boost::urls::host_type::ipv6:
    destination.host = canonical_ip(view.host_ipv6_address().to_string()).value_or("");
    destination.host_is_ip = true;
    destination.host_header = "[" + destination.host + "]";
    break;
  case boost::urls::host_type::name: {
    // DNS names only: no percent-encoding, no sub-delimiters a resolver would not understand.
    const std::string_view name = view.encoded_host();
    const bool dns_like = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
      return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '.' ||
             c == '_';
    });
    if (!dns_like) {
      problem = "the URL's host is not a DNS name or IP address";
      return std::nullopt;
    }
    destination.host = lowercase(name);
    destination.host_header = destination.host;
    break;
  }
  default: problem = "the URL has no usable host"; return std::nullopt;
  }
  if (destination.host.empty()) {
    problem = "the URL has no usable host";
    return std::nullopt;
  }

  if (view.has_port() && !view.port().empty()) {
    // Parsed here: Boost.URL 1.81's port_number() wraps 99999 around to 34463.
    const std::string_view port_text = view.port();
    unsigned port = 0;
    const auto [end, error] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (error != std::errc{} || end != port_text.data() + port_text.size() || port == 0 || port > 65535) {
      problem = "the URL's port is not between 1 and 65535";
      return std::nullopt;
    }
    destination.port = static_cast<std::uint16_t>(port);
  }
  if (destination.port != 443) destination.host_header += ":" + std::to_string(destination.port);
  destination.where = destination.host_is_ip && destination.host.find(':') != std::string::npos
                          ? "[" + destination.host + "]:" + std::to_string(destination.port)
                          : destination.host + ":" + std::to_string(destination.port);

  destination.request_target = view.encoded_path().empty() ? "/" : std::string(view.encoded_path());
  if (view.has_query()) destination.request_target += "?" + std::string(view.encoded_query());
  return destination;
}

// Headers the client owns: framing and the target are decided here, never by a plugin.
bool is_reserved_header(std::string_view name) {
  for (std::string_view reserved : {"host", "content-length", "transfer-encoding", "connection", "te", "upgrade"}) {
    if (equals_ignoring_case(name, reserved)) return true;
  }
  return false;
}

std::optional<http::request<http::string_body>> build_request(const OutgoingRequest& request,
                                                              const Destination& destination,
                                                              const std::string& user_agent, std::string& problem) {
  if (!is_token(request.method)) {
    problem = "the request method is not a valid HTTP token";
    return std::nullopt;
  }
  http::request<http::string_body> message;
  message.method_string(request.method);
  message.target(destination.request_target);
  message.version(11);
  message.set(http::field::host, destination.host_header);
  if (!user_agent.empty()) message.set(http::field::user_agent, user_agent);
  std::size_t index = 0;
  for (const auto& [name, value] : request.headers) {
    ++index;
    // Position only: names and values may carry credentials.
    if (!is_token(name) || !is_field_value(value)) {
      problem = "request header #" + std::to_string(index) + " is not valid HTTP";
      return std::nullopt;
    }
    if (is_reserved_header(name)) continue;
    if (equals_ignoring_case(name, "user-agent")) {
      message.set(http::field::user_agent, value); // a provider may insist on its own
    } else {
      message.insert(name, value);
    }
  }
  // One request per connection: the server may close as soon as it has answered.
  message.set(http::field::connection, "close");
  const http::verb verb = message.method();
  if (!request.body.empty() || verb == http::verb::post || verb == http::verb::put || verb == http::verb::patch) {
    message.content_length(request.body.size());
  }
  message.body() = request.body;
  return message;
}

HttpsOutcome failed(HttpsFailure failure, std::string message) {
  HttpsOutcome outcome;
  outcome.failure = failure;
  outcome.message = std::move(message);
  return outcome;
}

std::string milliseconds_text(std::chrono::milliseconds duration) { return std::to_string(duration.count()) + " ms"; }

// Resolution runs getaddrinfo on a helper thread that cancel() cannot interrupt, so the
// coroutine does not wait for it: the answer arrives through a channel, and the deadline wins
// if it comes first. The shared state outlives an abandoned lookup.
struct PendingLookup {
  explicit PendingLookup(const net::any_io_executor& executor) : resolver(executor), answer(executor, 1) {}
  tcp::resolver resolver;
  net::experimental::concurrent_channel<void(error_code, tcp::resolver::results_type)> answer;
};

// Beast's timeout closes the socket; after that, any error is really the deadline.
bool is_timeout(const error_code& error) { return error == beast::error::timeout; }

// The server may close a Connection: close answer without a TLS close_notify; for a body that
// ends at the end of the stream, that is its end (what browsers and curl accept), not an error.
bool is_unclean_end_of_stream(const error_code& error) {
  return error == ssl::error::stream_truncated || error == net::error::eof;
}

} // namespace

const char* to_string(HttpsFailure failure) {
  switch (failure) {
  case HttpsFailure::none: return "none";
  case HttpsFailure::bad_url: return "bad_url";
  case HttpsFailure::not_allowed: return "not_allowed";
  case HttpsFailure::resolve: return "resolve";
  case HttpsFailure::connect: return "connect";
  case HttpsFailure::tls: return "tls";
  case HttpsFailure::timeout: return "timeout";
  case HttpsFailure::too_large: return "too_large";
  case HttpsFailure::protocol: return "protocol";
  }
  return "unknown";
}

struct HttpsClient::State {
  State(net::any_io_executor executor_, HttpsClientOptions options_)
      : executor(std::move(executor_)), options(std::move(options_)) {}

  net::any_io_executor executor;
  HttpsClientOptions options;
  // Shared by every connection; only read once load_system_ca() has run, which
  // OpenSSL allows across threads.
  ssl::context tls{ssl::context::tls_client};
  std::once_flag system_ca_once;
  std::string system_ca_error; // set once, under system_ca_once
  std::thread warm_up_thread;

  // Parsing the system's CA bundle takes tens of milliseconds, most of the host's start-up,
  // and only outgoing requests need it: it is loaded by the first of warm_up() (after the
  // host listens) and the first request, the other waiting for it.
  const std::string& load_system_ca() {
    std::call_once(system_ca_once, [this] {
      if (!options.use_system_ca) return;
      error_code error;
      tls.set_default_verify_paths(error);
      if (error) system_ca_error = "cannot load the system's CA certificates: " + error.message();
    });
    return system_ca_error;
  }

  boost::asio::awaitable<HttpsOutcome> exchange(const OutgoingRequest& request,
                                                const std::vector<std::string>& allowed_hosts, Clock::time_point start);
};

HttpsClient::HttpsClient(boost::asio::any_io_executor executor, HttpsClientOptions options)
    : state_(std::make_unique<State>(std::move(executor), std::move(options))) {
  ssl::context& tls = state_->tls;
  // TLS 1.2 is the oldest any provider still needs; 1.0 and 1.1 are broken.
  SSL_CTX_set_min_proto_version(tls.native_handle(), TLS1_2_VERSION);
  tls.set_options(ssl::context::default_workarounds | ssl::context::no_compression);
  tls.set_verify_mode(ssl::verify_peer);
  error_code error;
  if (!state_->options.extra_ca_file.empty()) {
    tls.load_verify_file(state_->options.extra_ca_file, error);
    if (error) {
      throw std::runtime_error("cannot load CA file " + state_->options.extra_ca_file + ": " + error.message());
    }
  }
}

HttpsClient::~HttpsClient() {
  if (state_->warm_up_thread.joinable()) state_->warm_up_thread.join();
}

void HttpsClient::warm_up() {
  if (state_->warm_up_thread.joinable()) return;
  state_->warm_up_thread = std::thread([state = state_.get()] {
    name_this_thread("ca-warm-up");
    state->load_system_ca();
  });
}

boost::asio::awaitable<HttpsOutcome> HttpsClient::send(OutgoingRequest request,
                                                       std::vector<std::string> allowed_hosts) {
  const auto start = Clock::now();
  HttpsOutcome outcome;
  try {
    if (const std::string& problem = state_->load_system_ca(); !problem.empty()) {
      outcome = failed(HttpsFailure::tls, problem);
      outcome.elapsed = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
      co_return outcome;
    }
    outcome = co_await state_->exchange(request, allowed_hosts, start);
  } catch (const std::exception& error) {
    // Nothing below should throw on bad input; this is for resource exhaustion and the like.
    outcome = failed(HttpsFailure::protocol, std::string("internal error: ") + error.what());
  }
  outcome.elapsed = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - start);
  co_return outcome;
}

bool host_is_allowed(const std::string& allowed, std::string_view host) {
  const std::string key = host_key(host);
  if (allowed.size() > 2 && allowed.compare(0, 2, "*.") == 0) {
    const std::string domain = lowercase(std::string_view(allowed).substr(1)); // ".domain"
    if (canonical_ip(key) || key.size() <= domain.size() ||
        key.compare(key.size() - domain.size(), domain.size(), domain) != 0) {
      return false;
    }
    return key.find('.') == key.size() - domain.size(); // exactly one label before the domain
  }
  return host_key(allowed) == key;
}

boost::asio::awaitable<HttpsOutcome> HttpsClient::State::exchange(const OutgoingRequest& request,
                                                                  const std::vector<std::string>& allowed_hosts,
                                                                  Clock::time_point start) {
  using namespace net::experimental::awaitable_operators;

  // ---- what and where, decided before anything touches the network ----
  std::string problem;
  const std::optional<Destination> destination = parse_destination(request.url, problem);
  if (!destination) co_return failed(HttpsFailure::bad_url, problem);
  const Destination& to = *destination;

  const std::string key = host_key(to.host);
  if (std::none_of(allowed_hosts.begin(), allowed_hosts.end(),
                   [&](const std::string& allowed) { return host_is_allowed(allowed, to.host); })) {
    co_return failed(HttpsFailure::not_allowed, to.host + " is not among the hosts this provider may reach");
  }

  std::optional<http::request<http::string_body>> message = build_request(request, to, options.user_agent, problem);
  if (!message) co_return failed(HttpsFailure::protocol, to.where + ": " + problem);

  // The connection (lookup, TCP and TLS handshake) must be up by connect_deadline; everything
  // is over by total_deadline.
  const Clock::time_point total_deadline = start + options.total_timeout;
  const Clock::time_point connect_deadline = std::min(total_deadline, start + options.connect_timeout);
  const auto timed_out = [&](std::string_view phase) {
    const bool connect_limit = Clock::now() < total_deadline && connect_deadline < total_deadline;
    return failed(HttpsFailure::timeout,
                  to.where + ": timed out " + std::string(phase) + " (" +
                      (connect_limit ? "connect timeout " + milliseconds_text(options.connect_timeout)
                                     : "total timeout " + milliseconds_text(options.total_timeout)) +
                      ")");
  };

  // ---- find the server ----
  tcp::resolver::results_type endpoints;
  if (to.host_is_ip) {
    endpoints = tcp::resolver::results_type::create(tcp::endpoint(net::ip::make_address(to.host), to.port), to.host,
                                                    std::to_string(to.port));
  } else {
    auto lookup = std::make_shared<PendingLookup>(executor);
    lookup->resolver.async_resolve(to.host, std::to_string(to.port), tcp::resolver::numeric_service,
                                   [lookup](error_code error, tcp::resolver::results_type results) {
                                     lookup->answer.try_send(error, std::move(results));
                                   });
    net::steady_timer deadline(executor, connect_deadline);
    auto first = co_await (lookup->answer.async_receive(as_result) || deadline.async_wait(as_result));
    if (first.index() == 1) {
      lookup->resolver.cancel();
      co_return timed_out("resolving the host name");
    }
    auto [error, results] = std::get<0>(std::move(first));
    if (error) co_return failed(HttpsFailure::resolve, to.where + ": cannot resolve the host name: " + error.message());
    endpoints = std::move(results);
  }

  // ---- connect and handshake ----
  beast::ssl_stream<beast::tcp_stream> stream(executor, tls);
  SSL* connection = stream.native_handle();
  if (to.host_is_ip) {
    // Certificates name IP addresses in iPAddress SANs; SNI must not carry an IP (RFC 6066).
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(connection), to.host.c_str()) != 1) {
      co_return failed(HttpsFailure::tls, to.where + ": cannot set up IP address verification");
    }
  } else {
    // OpenSSL checks the name during the handshake (no partial wildcards like "a*.example"),
    // and SNI picks the right certificate on shared servers.
    SSL_set_hostflags(connection, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    // SSL_set_tlsext_host_name() spelled out: the macro's C-style cast trips -Wold-style-cast.
    const bool sni_set = SSL_ctrl(connection, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name,
                                  const_cast<char*>(to.host.c_str())) == 1;
    if (SSL_set1_host(connection, to.host.c_str()) != 1 || !sni_set) {
      co_return failed(HttpsFailure::tls, to.where + ": cannot set up host name verification");
    }
  }

  beast::tcp_stream& socket = beast::get_lowest_layer(stream);
  socket.expires_at(connect_deadline);
  if (auto [error, endpoint] = co_await socket.async_connect(endpoints, as_result); error) {
    if (is_timeout(error)) co_return timed_out("connecting");
    co_return failed(HttpsFailure::connect, to.where + ": cannot connect: " + error.message());
  }
  if (auto [error] = co_await stream.async_handshake(ssl::stream_base::client, as_result); error) {
    if (is_timeout(error)) co_return timed_out("during the TLS handshake");
    const long verify_result = SSL_get_verify_result(connection);
    if (verify_result != X509_V_OK) {
      co_return failed(HttpsFailure::tls,
                       to.where + ": certificate verification failed: " + X509_verify_cert_error_string(verify_result));
    }
    co_return failed(HttpsFailure::tls, to.where + ": TLS handshake failed: " + error.message());
  }

  // ---- ask and read the answer ----
  socket.expires_at(total_deadline);
  if (auto [error, written] = co_await http::async_write(stream, *message, as_result); error) {
    if (is_timeout(error)) co_return timed_out("sending the request");
    co_return failed(HttpsFailure::connect,
                     to.where + ": connection lost while sending the request: " + error.message());
  }

  beast::flat_buffer buffer;
  std::optional<http::response_parser<http::string_body>> parser;
  for (;;) {
    parser.emplace();
    parser->header_limit(max_header_bytes);
    parser->body_limit(options.max_response_bytes);
    if (message->method() == http::verb::head) parser->skip(true);
    auto [error, read] = co_await http::async_read(stream, buffer, *parser, as_result);
    if (error && is_unclean_end_of_stream(error) && parser->is_header_done() && !parser->chunked() &&
        !parser->content_length()) {
      parser->put_eof(error);
    }
    if (error) {
      if (is_timeout(error)) co_return timed_out("waiting for the answer");
      if (error == http::error::body_limit || error == http::error::header_limit ||
          error == http::error::buffer_overflow) {
        co_return failed(HttpsFailure::too_large, to.where + ": the answer is larger than " +
                                                      std::to_string(options.max_response_bytes) + " bytes");
      }
      if (error == http::error::end_of_stream) {
        co_return failed(HttpsFailure::connect, to.where + ": the server closed the connection without answering");
      }
      if (error.category() == http::make_error_code(http::error::end_of_stream).category()) {
        co_return failed(HttpsFailure::protocol, to.where + ": malformed HTTP answer: " + error.message());
      }
      co_return failed(HttpsFailure::connect,
                       to.where + ": connection lost while reading the answer: " + error.message());
    }
    // Interim answers (100 Continue, 103 Early Hints) precede the real one.
    const unsigned status = parser->get().result_int();
    if (status < 100 || status >= 200 || status == 101) break;
  }

  HttpsOutcome outcome;
  http::response<http::string_body> response = parser->release();
  outcome.answer.status = response.result_int();
  for (const auto& field : response) {
    outcome.answer.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  }
  outcome.answer.body = std::move(response.body());

  // ---- close politely, but briefly and on the side: the answer is already complete ----
  // The TLS close waits for the server's close_notify, a round trip the caller need not pay.
  socket.expires_at(std::min(total_deadline, Clock::now() + shutdown_grace));
  auto closing = std::make_shared<beast::ssl_stream<beast::tcp_stream>>(std::move(stream));
  net::co_spawn(
      executor, [closing]() -> net::awaitable<void> { co_await closing->async_shutdown(as_result); }, net::detached);
  co_return outcome;
}

} // namespace connector::core
