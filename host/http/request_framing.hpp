// The checks a request's header must pass before its body is read or it is answered, so
// that no two parties on the path can disagree about where a request ends (request
// smuggling, RFC 9112 §6.3 and §11.2) or which site it is for (§3.2).
#pragma once

#include "http/http_types.hpp"

#include <string_view>

namespace connector::host {

// Why the header cannot be served, or an empty view when it can. `chunked` is what the
// parser decided from Transfer-Encoding. Such a request is answered 400 and the connection
// closed, since the rest of its bytes cannot be trusted to be a next request.
//  - Transfer-Encoding is accepted only as a single "chunked" (the one coding the host
//    decodes), only on HTTP/1.1, and never together with Content-Length.
//  - HTTP/1.1 needs exactly one Host field; HTTP/1.0 at most one.
std::string_view framing_problem(const http::request_header<>& header, bool chunked);

} // namespace connector::host
