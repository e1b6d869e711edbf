// Reads a JSON request body field by field, collecting every problem so that one 422 answer
// names them all: {"errors": [{"field": "slug", "message": "is required"}, ...]}.
#pragma once

#include "errors/expected.hpp"
#include "http/http_types.hpp"

#include <nlohmann/json.hpp>

#include <initializer_list>
#include <optional>
#include <string>

namespace connector::host {

class JsonBody {
public:
  // INVALID_REQUEST_BODY (400) for malformed JSON or a non-object; UNSUPPORTED_MEDIA_TYPE
  // (415) for a declared content type other than JSON.
  static core::Expected<JsonBody> parse(const Request& request);

  std::string required_string(const std::string& field, std::size_t max_length = 256);
  std::optional<std::string> optional_string(const std::string& field, std::size_t max_length = 256);
  nlohmann::json required_object(const std::string& field); // {} (and a problem) when absent
  nlohmann::json optional_object(const std::string& field); // {} when absent or null
  std::optional<bool> optional_bool(const std::string& field);
  bool has(const std::string& field) const { return document_.contains(field) && !document_[field].is_null(); }
  // Fields other than `known` are refused, so that a misspelt field is not silently ignored.
  void refuse_unknown_fields(std::initializer_list<const char*> known);

  // VALIDATION_ERROR listing every problem, or nullopt when the body was fine.
  std::optional<core::ApiError> problems() const;

private:
  explicit JsonBody(nlohmann::json document) : document_(std::move(document)) {}
  void problem(const std::string& field, const std::string& message);

  nlohmann::json document_;
  nlohmann::json errors_ = nlohmann::json::array();
};

// VALIDATION_ERROR naming one field, in the same shape JsonBody::problems() gives.
using core::field_error;

// Reads `limit` and `after` from a query string for listings; problems go to 422.
struct PageQuery {
  int limit = 50;
  std::string after;
  std::string workspace_id;
};
core::Expected<PageQuery> parse_page_query(const std::string& query);

// A boolean query parameter ("true"/"false"/"1"/"0"); `fallback` when absent; a
// VALIDATION_ERROR for anything else.
core::Expected<bool> query_flag(const std::string& query, const std::string& name, bool fallback);

} // namespace connector::host
