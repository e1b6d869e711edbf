// The request and response types every route sees, and what a route is handed.
#pragma once

#include "store/records.hpp"

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <functional>
#include <map>
#include <optional>
#include <string>

namespace connector::host {

namespace http = boost::beast::http;
using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// Beast spells an HTTP version as major * 10 + minor; answers the server makes before it has
// read a request (a refusal, a shed connection) speak HTTP/1.1.
constexpr unsigned http_1_1 = 11;

struct RequestContext {
  const Request& request;
  std::string trace_id;
  std::string path;                               // without the query
  std::string query;                              // raw, without '?'
  std::map<std::string, std::string> path_params; // {org_id} -> value
  std::optional<core::ApiKeyRecord> api_key;      // set for authenticated routes

  const std::string& param(const std::string& name) const { return path_params.at(name); }
};

using Handler = std::function<boost::asio::awaitable<Response>(RequestContext&)>;

} // namespace connector::host
