#include "http/router.hpp"

#include "auth/permissions.hpp"
#include "http/responses.hpp"
#include "store/store.hpp"

#include <connector/encoding.hpp>

#include <algorithm>
#include <chrono>
#include <exception>
#include <stdexcept>

namespace connector::host {

namespace {

// Path segments use percent-encoding only ('+' stays '+').
std::string percent_decoded(const std::string& segment) {
  std::string decoded;
  for (std::size_t i = 0; i < segment.size(); ++i) {
    if (segment[i] == '%' && i + 2 < segment.size()) {
      decoded += sdk::form_decode_component(segment.substr(i, 3));
      i += 2;
    } else {
      decoded.push_back(segment[i]);
    }
  }
  return decoded;
}

} // namespace

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> segments;
  std::size_t start = 1;
  while (start <= path.size()) {
    const std::size_t end = path.find('/', start);
    const std::size_t stop = end == std::string::npos ? path.size() : end;
    std::string segment = path.substr(start, stop - start);
    if (segment.find('%') != std::string::npos) segment = percent_decoded(segment);
    segments.push_back(std::move(segment));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return segments;
}

namespace {

bool is_parameter(const std::string& part) { return part.size() > 2 && part.front() == '{' && part.back() == '}'; }

// How many of a path's segments a pattern names literally where another pattern has a
// parameter: "sources/authorize" is more specific than "sources/{source_id}".
std::size_t literal_segments(const std::vector<std::string>& pattern) {
  std::size_t count = 0;
  for (const auto& part : pattern)
    count += is_parameter(part) ? 0 : 1;
  return count;
}

// Whether a path fits a pattern of as many segments.
bool fits(const std::vector<std::string>& pattern, const std::vector<std::string>& segments) {
  // From the last segment back: the routes share their first ones (v1/organizations/{org_id}/…)
  // and differ at the end, so a route that does not fit is usually told by one comparison.
  for (std::size_t i = pattern.size(); i-- > 0;) {
    if (is_parameter(pattern[i]) ? segments[i].empty() : pattern[i] != segments[i]) return false;
  }
  return true;
}

bool method_accepts(const Route& route, http::verb method) {
  return route.method == method ||
         (method == http::verb::head && route.method == http::verb::get && route.answers_head);
}

} // namespace

void Router::add(Route route) {
  // Every route a key reaches says what the key must hold: a forgotten permission would make
  // the route open to any key of the organization.
  if (route.authenticated && !is_known_permission(route.permission)) {
    throw std::logic_error("route " + route.pattern + " needs a known permission");
  }
  route_segments_.push_back(split_path(route.pattern));
  route_literals_.push_back(literal_segments(route_segments_.back()));
  const std::size_t length = route_segments_.back().size();
  if (routes_by_length_.size() <= length) routes_by_length_.resize(length + 1);
  routes_by_length_[length].push_back(routes_.size());
  routes_.push_back(std::move(route));
}

std::span<const std::size_t> Router::same_length(const std::vector<std::string>& segments) const {
  if (segments.size() >= routes_by_length_.size()) return {};
  return routes_by_length_[segments.size()];
}

Router::Match Router::match(http::verb method, const std::vector<std::string>& segments) const {
  // The path's most specific patterns win, whatever the method: GET sources/authorize is a
  // wrong method on sources/authorize (405), not a lookup of a source named "authorize".
  // One pass: the most literal pattern of the path, and the most literal one that also
  // takes the method; the route answers only when they are equally specific.
  Match result;
  std::size_t most_literal = 0;
  std::size_t answering = routes_.size();
  for (const std::size_t index : same_length(segments)) {
    if (!fits(route_segments_[index], segments)) continue;
    const std::size_t literals = route_literals_[index];
    if (!result.path_known || literals > most_literal) most_literal = literals;
    result.path_known = true;
    if (method_accepts(routes_[index], method) &&
        (answering == routes_.size() || literals > route_literals_[answering])) {
      answering = index;
    }
  }
  if (answering == routes_.size() || route_literals_[answering] != most_literal) return result;
  const Route& route = routes_[answering];
  const auto& pattern = route_segments_[answering];
  // Parameters are copied only for the route that answers.
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (is_parameter(pattern[i])) result.params[pattern[i].substr(1, pattern[i].size() - 2)] = segments[i];
  }
  result.route = &route;
  return result;
}

std::string Router::allowed_methods(const std::vector<std::string>& segments) const {
  std::size_t most_literal = 0;
  for (const std::size_t index : same_length(segments)) {
    if (fits(route_segments_[index], segments)) most_literal = std::max(most_literal, route_literals_[index]);
  }
  std::string allow;
  for (const std::size_t index : same_length(segments)) {
    if (!fits(route_segments_[index], segments) || route_literals_[index] != most_literal) continue;
    const Route& route = routes_[index];
    if (!allow.empty()) allow += ", ";
    allow += std::string(http::to_string(route.method));
    if (route.method == http::verb::get && route.answers_head) allow += ", HEAD";
  }
  return allow;
}

boost::asio::awaitable<Response> Router::dispatch(const Request& request, std::string trace_id,
                                                  std::string& route) const {
  const auto started = std::chrono::steady_clock::now();
  route = "unmatched";
  Response response = co_await answer(request, std::move(trace_id), route);
  if (observer_) {
    observer_(route, std::string(request.method_string()), response.result_int(),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }
  co_return response;
}

boost::asio::awaitable<Response> Router::answer(const Request& request, std::string trace_id,
                                                std::string& route_name) const {
  const std::string target(request.target());
  const std::size_t question = target.find('?');
  RequestContext context{request,
                         std::move(trace_id),
                         target.substr(0, question),
                         question == std::string::npos ? std::string() : target.substr(question + 1),
                         {},
                         {}};
  try {
    const auto segments = split_path(context.path);
    Match found = match(request.method(), segments);
    if (found.route == nullptr) {
      if (!found.path_known) co_return error_response(context, core::ApiError(core::ErrorCode::route_not_found));
      const std::string allow = allowed_methods(segments);
      Response refused =
          error_response(context, core::ApiError(core::ErrorCode::method_not_allowed, {}, {}, {{"allow", allow}}));
      refused.set(http::field::allow, allow);
      co_return refused;
    }
    const Route& route = *found.route;
    context.path_params = std::move(found.params);
    route_name = route.pattern;

    if (route.authenticated) {
      auto key = authenticate_(request);
      if (!key) co_return error_response(context, key.error());
      const auto org = context.path_params.find("org_id");
      if (org != context.path_params.end() && org->second != key->organization_id) {
        co_return error_response(context, core::ApiError(core::ErrorCode::organization_access_denied, {}, {},
                                                         {{"organization_id", org->second}}));
      }
      if (!holds_permission(key->permissions, route.permission)) {
        co_return error_response(context, core::ApiError(core::ErrorCode::insufficient_permissions, {}, {},
                                                         {{"required_permission", route.permission}}));
      }
      context.api_key = std::move(key.value());
    }
    co_return co_await route.handler(context);
  } catch (const core::StorageFull& e) {
    co_return error_response(context, core::ApiError(core::ErrorCode::storage_full, {}, e.what()));
  } catch (const core::StoreUnavailable& e) {
    co_return error_response(context, core::ApiError(core::ErrorCode::store_unavailable, {}, e.what()));
  } catch (const std::exception& e) {
    co_return error_response(context, core::ApiError(core::ErrorCode::internal_error, {}, e.what()));
  }
}

} // namespace connector::host
