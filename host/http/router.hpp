// Maps "METHOD /path/{param}/..." to handlers, authenticates the routes that need a key,
// and turns every failure into the error envelope. The route table is also what the
// OpenAPI test compares against the document.
#pragma once

#include "errors/expected.hpp"
#include "http/http_types.hpp"

#include <boost/asio/awaitable.hpp>

#include <functional>
#include <span>
#include <string>
#include <vector>

namespace connector::host {

// Checks the request's API key; the router then checks the key's organization against
// {org_id} and the route's permission.
using Authenticator = std::function<core::Expected<core::ApiKeyRecord>(const Request&)>;

struct Route {
  http::verb method;
  std::string pattern; // "/v1/organizations/{org_id}/knowledge/connectors/workspaces"
  bool authenticated = true;
  std::string permission{}; // what the key must hold (auth/permissions.hpp); empty only on public routes
  Handler handler;
  // A GET route answers HEAD too (the handler runs, the body is dropped), unless its GET is
  // not safe to repeat: the provider callback spends its state, so HEAD there is 405.
  bool answers_head = true;
};

// Told about every answered request: the route pattern ("unmatched" when none matched), the
// method, the status and the seconds it took (for /metrics).
using RequestObserver =
    std::function<void(const std::string& route, const std::string& method, unsigned status, double seconds)>;

class Router {
public:
  explicit Router(Authenticator authenticate) : authenticate_(std::move(authenticate)) {}
  void set_observer(RequestObserver observer) { observer_ = std::move(observer); }

  void add(Route route);
  const std::vector<Route>& routes() const { return routes_; }

  // Answers one request; never throws. `route` gets the matched pattern ("unmatched" when
  // none did), for the access log.
  boost::asio::awaitable<Response> dispatch(const Request& request, std::string trace_id, std::string& route) const;

private:
  struct Match {
    const Route* route = nullptr;
    std::map<std::string, std::string> params;
    bool path_known = false; // some route has this path with another method
  };
  // The routes whose patterns have as many segments as the path: only they can fit it.
  std::span<const std::size_t> same_length(const std::vector<std::string>& segments) const;
  Match match(http::verb method, const std::vector<std::string>& segments) const;
  // The methods the path's most specific routes accept, for a 405's Allow.
  std::string allowed_methods(const std::vector<std::string>& segments) const;
  boost::asio::awaitable<Response> answer(const Request& request, std::string trace_id, std::string& route) const;

  Authenticator authenticate_;
  RequestObserver observer_;
  std::vector<Route> routes_;
  std::vector<std::vector<std::string>> route_segments_;   // routes_[i].pattern split once, at add()
  std::vector<std::size_t> route_literals_;                // how many of those are not parameters
  std::vector<std::vector<std::size_t>> routes_by_length_; // indexes into routes_, by segment count
};

// Splits "/a/b/c" into {"a","b","c"}; percent-escapes in segments are decoded.
std::vector<std::string> split_path(const std::string& path);

} // namespace connector::host
