#include "support/test_http.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>

#include <stdexcept>

namespace connector::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

template <typename Stream>
HttpResult exchange(Stream& stream, const std::string& method, const std::string& host, const std::string& target,
                    const std::map<std::string, std::string>& headers, const std::string& body) {
  http::request<http::string_body> request(http::verb::get, target, 11);
  request.method_string(method); // any token, so tests can send methods HTTP does not define
  request.set(http::field::host, host);
  for (const auto& [name, value] : headers)
    request.set(name, value);
  request.body() = body;
  request.prepare_payload();
  http::write(stream, request);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(16 * 1024 * 1024);
  http::read(stream, buffer, parser);
  const auto& response = parser.get();
  HttpResult result;
  result.status = static_cast<int>(response.result_int());
  for (const auto& field : response) {
    std::string name(field.name_string());
    for (auto& c : name)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    result.headers[name] = std::string(field.value());
  }
  result.body = response.body();
  return result;
}

} // namespace

HttpResult http_request(const std::string& method, const std::string& url,
                        const std::map<std::string, std::string>& headers, const std::string& body,
                        const std::string& ca_file) {
  const auto parsed = boost::urls::parse_absolute_uri(url);
  if (!parsed) throw std::invalid_argument("bad test URL: " + url);
  const std::string host(parsed->encoded_host());
  const bool tls = parsed->scheme() == "https";
  const std::string port = parsed->has_port() ? std::string(parsed->port()) : (tls ? "443" : "80");
  std::string target(parsed->encoded_path());
  if (target.empty()) target = "/";
  if (parsed->has_query()) target += "?" + std::string(parsed->encoded_query());
  const std::string host_header = host + ":" + port;

  asio::io_context io;
  tcp::resolver resolver(io);
  const auto endpoints = resolver.resolve(host, port);
  if (!tls) {
    beast::tcp_stream stream(io);
    stream.connect(endpoints);
    return exchange(stream, method, host_header, target, headers, body);
  }
  asio::ssl::context context(asio::ssl::context::tls_client);
  context.set_verify_mode(asio::ssl::verify_peer);
  if (!ca_file.empty()) context.load_verify_file(ca_file);
  beast::ssl_stream<beast::tcp_stream> stream(io, context);
  stream.set_verify_callback(asio::ssl::host_name_verification(host));
  beast::get_lowest_layer(stream).connect(endpoints);
  stream.handshake(asio::ssl::stream_base::client);
  return exchange(stream, method, host_header, target, headers, body);
}

HttpResult api_post(const std::string& url, const std::string& key, const nlohmann::json& body) {
  return http_request("POST", url, {{"Authorization", "Bearer " + key}, {"Content-Type", "application/json"}},
                      body.dump());
}

HttpResult api_get(const std::string& url, const std::string& key) {
  return http_request("GET", url, {{"Authorization", "Bearer " + key}});
}

struct KeepAliveConnection::State {
  asio::io_context io;
  beast::tcp_stream stream{io};
  std::string host_header;
};

KeepAliveConnection::KeepAliveConnection(const std::string& host, unsigned short port)
    : state_(std::make_unique<State>()) {
  state_->stream.connect(tcp::endpoint(asio::ip::make_address(host), port));
  state_->host_header = host + ":" + std::to_string(port);
}

KeepAliveConnection::~KeepAliveConnection() = default;

HttpResult KeepAliveConnection::request(const std::string& method, const std::string& target,
                                        const std::map<std::string, std::string>& headers, const std::string& body) {
  return exchange(state_->stream, method, state_->host_header, target, headers, body);
}

std::string raw_exchange(const std::string& host, unsigned short port, const std::string& bytes) {
  asio::io_context io;
  tcp::socket socket(io);
  socket.connect({asio::ip::make_address(host), port});
  // The host may answer and close before it has read everything (an oversized header, a
  // refused framing): what it sent is still there to read, so a failed write is not an error.
  beast::error_code error;
  asio::write(socket, asio::buffer(bytes), error);
  socket.shutdown(tcp::socket::shutdown_send, error);
  std::string answer;
  std::array<char, 4096> chunk{};
  for (;;) {
    const std::size_t n = socket.read_some(asio::buffer(chunk), error);
    answer.append(chunk.data(), n);
    if (error) break;
  }
  return answer;
}

} // namespace connector::testing
