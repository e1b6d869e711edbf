#include "http/request_framing.hpp"

#include <boost/beast/core/string.hpp>

namespace connector::host {

namespace {

std::string_view trimmed(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t'))
    text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t'))
    text.remove_suffix(1);
  return text;
}

} // namespace

std::string_view framing_problem(const http::request_header<>& header, bool chunked) {
  const auto hosts = header.count(http::field::host);
  if (header.version() >= 11 && hosts != 1) return "An HTTP/1.1 request needs exactly one Host header.";
  if (hosts > 1) return "A request may carry one Host header only.";

  const auto codings = header.count(http::field::transfer_encoding);
  if (codings == 0) return {};
  if (header.version() < 11) return "Transfer-Encoding is not allowed on HTTP/1.0.";
  if (header.count(http::field::content_length) != 0) {
    return "A request must not carry both Transfer-Encoding and Content-Length.";
  }
  // One field whose whole value is "chunked": a coding list ending in anything else leaves
  // the body's end to the connection's close (RFC 9112 §6.3), and any other coding is one
  // this host does not decode.
  const auto value = header[http::field::transfer_encoding];
  if (codings != 1 || !chunked || !boost::beast::iequals(trimmed({value.data(), value.size()}), "chunked")) {
    return "Only Transfer-Encoding: chunked is accepted.";
  }
  return {};
}

} // namespace connector::host
