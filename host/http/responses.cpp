#include "http/responses.hpp"

#include <algorithm>
#include <array>

namespace connector::host {

namespace {

Response base(unsigned version, const std::string& trace_id, http::status status) {
  Response response(status, version);
  response.set(http::field::server, "connector-host");
  response.set("X-Request-Id", trace_id);
  response.set(http::field::cache_control, "no-store");
  response.set("X-Content-Type-Options", "nosniff");
  return response;
}

std::string html_escape(const std::string& text) {
  std::string out;
  for (const char c : text) {
    switch (c) {
    case '<': out += "&lt;"; break;
    case '>': out += "&gt;"; break;
    case '&': out += "&amp;"; break;
    case '"': out += "&quot;"; break;
    case '\'': out += "&#39;"; break;
    default: out.push_back(c);
    }
  }
  return out;
}

} // namespace

Response json_response(const RequestContext& context, http::status status, const nlohmann::json& body) {
  Response response = base(context.request.version(), context.trace_id, status);
  response.set(http::field::content_type, "application/json");
  // Replace rather than throw on invalid UTF-8 from stored text.
  response.body() = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  response.prepare_payload();
  return response;
}

namespace {

// True when `text` can stand between JSON quotes as it is. A table, because every byte of
// every consent URL an authorize answers with passes here.
bool needs_no_escaping(std::string_view text) {
  static constexpr auto plain = [] {
    std::array<bool, 256> table{};
    for (int byte = 0x20; byte < 0x7f; ++byte)
      table[byte] = byte != '"' && byte != '\\';
    return table;
  }();
  return std::all_of(text.begin(), text.end(), [](char c) { return plain[static_cast<unsigned char>(c)]; });
}

} // namespace

Response json_strings_response(const RequestContext& context, http::status status,
                               std::initializer_list<std::pair<std::string_view, std::string_view>> members) {
  const bool plain = std::all_of(members.begin(), members.end(), [](const auto& member) {
    return needs_no_escaping(member.first) && needs_no_escaping(member.second);
  });
  if (!plain) {
    nlohmann::json body = nlohmann::json::object();
    for (const auto& [name, value] : members)
      body[std::string(name)] = value;
    return json_response(context, status, body);
  }
  Response response = base(context.request.version(), context.trace_id, status);
  response.set(http::field::content_type, "application/json");
  std::string& body = response.body();
  body.push_back('{');
  for (const auto& [name, value] : members) {
    if (body.size() > 1) body.push_back(',');
    body.append("\"").append(name).append("\":\"").append(value).push_back('"');
  }
  body.push_back('}');
  response.prepare_payload();
  return response;
}

Response bare_error_response(unsigned version, const std::string& trace_id, const core::ApiError& error) {
  Response response = base(version, trace_id, static_cast<http::status>(error.status()));
  response.set(http::field::content_type, "application/json");
  response.body() = error.envelope(trace_id).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  // An error that says when to try again (429, 503) says it in the header too (RFC 9110 §10.2.3).
  if (const auto retry = error.details.find("retry_after_seconds");
      retry != error.details.end() && retry->is_number_integer()) {
    response.set(http::field::retry_after, std::to_string(std::max<int64_t>(1, retry->get<int64_t>())));
  }
  response.prepare_payload();
  return response;
}

Response error_response(const RequestContext& context, const core::ApiError& error) {
  return bare_error_response(context.request.version(), context.trace_id, error);
}

Response redirect_response(const RequestContext& context, const std::string& location) {
  Response response = base(context.request.version(), context.trace_id, http::status::found);
  response.set(http::field::location, location);
  response.set("Referrer-Policy", "no-referrer"); // the callback URL carried a code
  response.prepare_payload();
  return response;
}

Response page_response(const RequestContext& context, int status, const std::string& message) {
  Response response = base(context.request.version(), context.trace_id, static_cast<http::status>(status));
  response.set(http::field::content_type, "text/html; charset=utf-8");
  response.set("Content-Security-Policy", "default-src 'none'");
  response.set("Referrer-Policy", "no-referrer");
  response.body() = "<!doctype html><html><head><meta charset=\"utf-8\"><title>Sign-in could not be completed</title>"
                    "</head><body><h1>Sign-in could not be completed</h1><p>" +
                    html_escape(message) + "</p><p>Reference: " + html_escape(context.trace_id) +
                    "</p></body></html>\n";
  response.prepare_payload();
  return response;
}

Response empty_response(const RequestContext& context, http::status status) {
  Response response = base(context.request.version(), context.trace_id, status);
  response.prepare_payload();
  return response;
}

} // namespace connector::host
