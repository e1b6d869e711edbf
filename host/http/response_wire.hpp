// A response as the bytes that go on the wire: the status line and the header block written
// into one string, the body sent from where it already is.
//
// Beast's own serializer walks a chain of buffer views over every field; for the small
// answers this host gives (a few hundred bytes) that took more instructions than building
// the whole answer. The output is byte-for-byte what Beast writes, which a test checks.
#pragma once

#include "http/http_types.hpp"

#include <boost/asio/buffer.hpp>

#include <array>
#include <string>
#include <string_view>

namespace connector::host {

class ResponseWire {
public:
  // `with_body` is false for the answer to a HEAD request: the same header block
  // (Content-Length included, as RFC 9110 asks), and no body.
  ResponseWire(const Response& response, bool with_body);

  // For async_write; valid while this object and the response live, unchanged.
  std::array<boost::asio::const_buffer, 2> buffers() const;

private:
  std::string head_;
  std::string_view body_;
};

} // namespace connector::host
