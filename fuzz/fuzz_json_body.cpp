// The JSON body reader (host/api/json_body.*) used the way the routes use it, and the
// listing query readers. Input: one byte choosing the Content-Type, a query string up to the
// first '\n', then the body.
#include "api/json_body.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace {

namespace http = connector::host::http;

constexpr std::string_view content_types[] = {"", // no header at all
                                              "application/json",
                                              "application/json; charset=utf-8",
                                              "Application/JSON ;charset=UTF-8",
                                              "application/jsonl",
                                              "text/plain"};

// Problems are sent to the client: they must serialise as responses.cpp does it, whatever
// the body held.
void check_serialisable(const connector::core::ApiError& error) {
  (void)error.envelope("trace_fuzz").dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto& content_type = content_types[data[0] % std::size(content_types)];
  std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::size_t newline = rest.find('\n');
  const std::string query(rest.substr(0, newline));
  rest = newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1);

  if (const auto page = connector::host::parse_page_query(query); !page) {
    check_serialisable(page.error());
  } else if (page->limit < 1 || page->limit > 200 || page->after.size() > 128) {
    __builtin_trap();
  }
  if (const auto flag = connector::host::query_flag(query, "cascade", false); !flag) check_serialisable(flag.error());

  connector::host::Request request{http::verb::post, "/", 11};
  if (!content_type.empty()) request.set(http::field::content_type, content_type);
  request.body() = std::string(rest);
  auto body = connector::host::JsonBody::parse(request);
  if (!body) {
    check_serialisable(body.error());
    return 0;
  }
  // What the routes ask of a body (flow_routes.cpp, workspace_routes.cpp, source_routes.cpp).
  (void)body->required_string("slug", 64);
  (void)body->required_string("redirect_url", 2048);
  const auto name = body->optional_string("name");
  if (name && (name->empty() || name->size() > 256)) __builtin_trap();
  const nlohmann::json options = body->optional_object("o_auth_input_configuration");
  if (!options.is_object()) __builtin_trap();
  (void)body->optional_bool("cascade");
  (void)body->has("configuration");
  body->refuse_unknown_fields({"slug", "redirect_url", "name", "o_auth_input_configuration", "cascade"});
  if (const auto problems = body->problems()) check_serialisable(*problems);
  return 0;
}
