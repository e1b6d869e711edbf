// Raw bytes from a client, read as the server's session reads them (host/http/server.cpp):
// Beast's request parser with the host's header and body limits, the header's framing check
// (request_framing.hpp) before the body, then, for each request read (pipelined ones too),
// the real router with the real route table, store, key ring and plugins
// (support/fuzz_host.hpp), and the answer's bytes as they would be written. Every error
// answer must carry the envelope, and none may be a 500.
#include "support/fuzz_host.hpp"

#include "http/request_framing.hpp"
#include "http/response_wire.hpp"
#include "http/responses.hpp"
#include "http/server.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace {

namespace beast = boost::beast;
namespace core = connector::core;
using connector::host::Request;

const connector::host::ServerLimits limits; // the server's defaults
constexpr int max_requests_per_input = 4;   // pipelining: a few reach every follow-up path

// The server's answer to a request it could not read (answer_to_unreadable in server.cpp).
std::optional<core::ApiError> answer_to_unreadable(const beast::error_code& error) {
  if (error == beast::http::error::body_limit) return core::ApiError(core::ErrorCode::payload_too_large);
  if (error == beast::http::error::header_limit) return core::ApiError(core::ErrorCode::headers_too_large);
  if (error == beast::http::error::end_of_stream || error == beast::http::error::partial_message) return std::nullopt;
  return core::ApiError(core::ErrorCode::malformed_request);
}

void answer(const connector::host::Response& response, bool with_body) {
  connector::fuzz::check_answer(response);
  const connector::host::ResponseWire wire(response, with_body);
  (void)wire.buffers();
}

// Feeds `rest` to the parser until `done` holds; what was used is removed from `rest`. When
// the parser can go no further on what is left, the client is taken to have closed the
// connection.
template <typename Done>
beast::error_code feed(beast::http::request_parser<beast::http::string_body>& parser, std::string_view& rest,
                       Done done) {
  beast::error_code error;
  while (!done()) {
    std::size_t used = 0;
    if (!rest.empty()) {
      used = parser.put(boost::asio::buffer(rest.data(), rest.size()), error);
      rest.remove_prefix(used);
      if (error == beast::http::error::need_more) error = {};
      if (error) return error;
    }
    if (used == 0) {
      parser.put_eof(error);
      if (!error && !done()) error = beast::http::error::partial_message;
      return error;
    }
  }
  return error;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  auto& host = connector::fuzz::FuzzHost::instance();
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  for (int index = 0; index < max_requests_per_input && !rest.empty(); ++index) {
    beast::http::request_parser<beast::http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits.header_bytes));
    parser.body_limit(limits.body_bytes);
    beast::error_code error = feed(parser, rest, [&] { return parser.is_header_done(); });
    if (!error) {
      if (const auto problem = connector::host::framing_problem(parser.get().base(), parser.chunked());
          !problem.empty()) {
        answer(connector::host::bare_error_response(
                   connector::host::http_1_1, "trace_fuzz",
                   core::ApiError(core::ErrorCode::malformed_request, std::string(problem))),
               true);
        return 0; // the connection ends
      }
      parser.eager(true);
      error = feed(parser, rest, [&] { return parser.is_done(); });
    }
    if (error) {
      if (const auto refusal = answer_to_unreadable(error)) {
        answer(connector::host::bare_error_response(connector::host::http_1_1, "trace_fuzz", *refusal), true);
      }
      return 0; // the connection ends
    }
    const Request& request = parser.get();
    answer(host.dispatch(request), request.method() != connector::host::http::verb::head);
    if (!request.keep_alive()) return 0;
  }
  return 0;
}
