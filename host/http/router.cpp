#include "http/router.hpp"

#include "http/responses.hpp"

#include <connector/encoding.hpp>

#include <chrono>
#include <exception>

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

void Router::add(Route route) {
  route_segments_.push_back(split_path(route.pattern));
  routes_.push_back(std::move(route));
}

Router::Match Router::match(http::verb method, const std::string& path) const {
  Match result;
  const auto segments = split_path(path);
  for (std::size_t index = 0; index < routes_.size(); ++index) {
    const Route& route = routes_[index];
    const auto& pattern = route_segments_[index];
    if (pattern.size() != segments.size()) continue;
    const auto is_parameter = [](const std::string& part) {
      return part.size() > 2 && part.front() == '{' && part.back() == '}';
    };
    bool same = true;
    for (std::size_t i = 0; i < pattern.size() && same; ++i)
      same = is_parameter(pattern[i]) ? !segments[i].empty() : pattern[i] == segments[i];
    if (!same) continue;
    result.path_known = true;
    if (route.method == method || (method == http::verb::head && route.method == http::verb::get)) {
      // Parameters are copied only for the route that answers.
      for (std::size_t i = 0; i < pattern.size(); ++i) {
        if (is_parameter(pattern[i])) result.params[pattern[i].substr(1, pattern[i].size() - 2)] = segments[i];
      }
      result.route = &route;
      return result;
    }
  }
  return result;
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
    Match found = match(request.method(), context.path);
    if (found.route == nullptr) {
      co_return error_response(context, core::ApiError(found.path_known ? core::ErrorCode::method_not_allowed
                                                                        : core::ErrorCode::route_not_found));
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
      if (!route.permission.empty() &&
          (" " + key->permissions + " ").find(" " + route.permission + " ") == std::string::npos) {
        co_return error_response(context, core::ApiError(core::ErrorCode::insufficient_permissions, {}, {},
                                                         {{"required_permission", route.permission}}));
      }
      context.api_key = std::move(key.value());
    }
    co_return co_await route.handler(context);
  } catch (const std::exception& e) {
    co_return error_response(context, core::ApiError(core::ErrorCode::internal_error, {}, e.what()));
  }
}

} // namespace connector::host
