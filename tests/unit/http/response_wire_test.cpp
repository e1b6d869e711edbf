#include "http/response_wire.hpp"
#include "http/responses.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/write.hpp>
#include <gtest/gtest.h>

#include <sstream>
#include <string>

using namespace connector::host;

namespace {

std::string concatenated(const ResponseWire& wire) {
  std::string out;
  for (const auto& buffer : wire.buffers())
    out.append(static_cast<const char*>(buffer.data()), buffer.size());
  return out;
}

// What Beast's own serializer writes for `response`.
std::string beast_wire(const Response& response) {
  std::ostringstream out;
  out << response;
  return out.str();
}

// The answers a route gives, in their real shapes: the helpers' headers, a keep-alive
// decision, an HTTP/1.0 client, an empty body, a status Beast has no name for.
std::vector<Response> sample_responses() {
  std::vector<Response> samples;
  for (const unsigned version : {11U, 10U}) {
    Request request{http::verb::post, "/v1/x", version};
    const RequestContext context{request, "trace-7", "/v1/x", "", {}, {}};
    samples.push_back(json_strings_response(context, http::status::ok, {{"connection_id", "conn_1"}}));
    samples.push_back(json_response(context, http::status::created, {{"name", "caf\xc3\xa9"}, {"n", 3}}));
    samples.push_back(redirect_response(context, "https://app.example.com/back?status=success"));
    samples.push_back(page_response(context, 400, "This sign-in link has <expired>."));
    samples.push_back(empty_response(context, http::status::no_content));
    samples.push_back(error_response(context, connector::core::ApiError(connector::core::ErrorCode::invalid_api_key)));
    Response closing = json_strings_response(context, http::status::too_many_requests, {{"a", "b"}});
    closing.keep_alive(false);
    samples.push_back(closing);
    Response kept = json_strings_response(context, http::status::ok, {{"a", "b"}});
    kept.keep_alive(true);
    samples.push_back(kept);
  }
  Response unnamed(static_cast<http::status>(599), 11);
  unnamed.body() = "x";
  unnamed.prepare_payload();
  samples.push_back(unnamed);
  return samples;
}

} // namespace

TEST(ResponseWire, WritesWhatBeastWritesByteForByte) {
  for (const Response& response : sample_responses()) {
    const ResponseWire wire(response, /*with_body=*/true);
    EXPECT_EQ(concatenated(wire), beast_wire(response));
  }
}

TEST(ResponseWire, AnAnswerToHeadKeepsItsHeadersAndLeavesOutItsBody) {
  for (const Response& response : sample_responses()) {
    const std::string full = beast_wire(response);
    const std::string head = full.substr(0, full.find("\r\n\r\n") + 4);
    const ResponseWire wire(response, /*with_body=*/false);
    EXPECT_EQ(concatenated(wire), head);
    if (!response.body().empty()) {
      EXPECT_NE(head.find("Content-Length: " + std::to_string(response.body().size()) + "\r\n"), std::string::npos)
          << head;
    }
  }
}
