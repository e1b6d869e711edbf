#include "api/json_body.hpp"

#include <boost/beast/core/string.hpp>
#include <connector/encoding.hpp>

#include <string_view>

namespace connector::host {

namespace {

// No request of this API nests beyond a few levels; a limit well above that keeps a hostile
// body from making every later recursive walk (validation, serialisation, destruction) deep.
constexpr std::size_t max_nesting = 64;

// True when brackets outside strings nest deeper than `limit`; one pass over the bytes, no
// recursion. Malformed text is left for the parser to refuse.
bool nests_deeper_than(std::string_view text, std::size_t limit) {
  // No more opening brackets than the limit cannot nest past it: counted with memchr (a few
  // calls for an ordinary body), this settles almost every body without the walk below.
  std::size_t openings = 0;
  for (const char opening : {'[', '{'}) {
    for (std::size_t at = text.find(opening); at != std::string_view::npos && openings <= limit;
         at = text.find(opening, at + 1))
      ++openings;
  }
  if (openings <= limit) return false;
  std::size_t depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i; // the escaped character cannot end the string
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > limit) return true;
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return false;
}

} // namespace

core::Expected<JsonBody> JsonBody::parse(const Request& request) {
  if (const auto type = request.find(http::field::content_type); type != request.end()) {
    // The media type is what comes before any parameter (`; charset=utf-8`), in any case.
    std::string_view media_type(type->value().data(), type->value().size());
    media_type = media_type.substr(0, media_type.find(';'));
    while (!media_type.empty() && (media_type.back() == ' ' || media_type.back() == '\t'))
      media_type.remove_suffix(1);
    if (!boost::beast::iequals(media_type, "application/json")) {
      return core::ApiError(core::ErrorCode::unsupported_media_type);
    }
  }
  if (nests_deeper_than(request.body(), max_nesting)) {
    return core::ApiError(core::ErrorCode::invalid_request_body,
                          "The request body nests deeper than " + std::to_string(max_nesting) + " levels.");
  }
  nlohmann::json document = nlohmann::json::parse(request.body(), nullptr, /*allow_exceptions=*/false);
  if (document.is_discarded()) return core::ApiError(core::ErrorCode::invalid_request_body);
  if (!document.is_object()) {
    return core::ApiError(core::ErrorCode::invalid_request_body, "The request body must be a JSON object.");
  }
  return JsonBody(std::move(document));
}

void JsonBody::problem(const std::string& field, const std::string& message) {
  errors_.push_back({{"field", field}, {"message", message}});
}

std::optional<std::string> JsonBody::optional_string(const std::string& field, std::size_t max_length) {
  const auto it = document_.find(field);
  if (it == document_.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) {
    problem(field, "must be a string");
    return std::nullopt;
  }
  const auto& text = it->get_ref<const std::string&>();
  if (text.empty()) {
    problem(field, "must not be empty");
    return std::nullopt;
  }
  if (text.size() > max_length) {
    problem(field, "must be at most " + std::to_string(max_length) + " characters");
    return std::nullopt;
  }
  return text;
}

std::string JsonBody::required_string(const std::string& field, std::size_t max_length) {
  if (!document_.contains(field) || document_[field].is_null()) {
    problem(field, "is required");
    return {};
  }
  return optional_string(field, max_length).value_or("");
}

nlohmann::json JsonBody::required_object(const std::string& field) {
  if (!has(field)) {
    problem(field, "is required");
    return nlohmann::json::object();
  }
  return optional_object(field);
}

nlohmann::json JsonBody::optional_object(const std::string& field) {
  const auto it = document_.find(field);
  if (it == document_.end() || it->is_null()) return nlohmann::json::object();
  if (!it->is_object()) {
    problem(field, "must be an object");
    return nlohmann::json::object();
  }
  return *it;
}

std::optional<bool> JsonBody::optional_bool(const std::string& field) {
  const auto it = document_.find(field);
  if (it == document_.end() || it->is_null()) return std::nullopt;
  if (!it->is_boolean()) {
    problem(field, "must be true or false");
    return std::nullopt;
  }
  return it->get<bool>();
}

void JsonBody::refuse_unknown_fields(std::initializer_list<const char*> known) {
  for (const auto& [name, value] : document_.items()) {
    bool listed = false;
    for (const char* field : known)
      listed = listed || name == field;
    if (!listed) problem(name, "is not a field of this request");
  }
}

std::optional<core::ApiError> JsonBody::problems() const {
  if (errors_.empty()) return std::nullopt;
  return core::ApiError(core::ErrorCode::validation_error, {}, {}, {{"errors", errors_}});
}

core::Expected<PageQuery> parse_page_query(const std::string& query) {
  PageQuery page;
  nlohmann::json errors = nlohmann::json::array();
  for (const auto& [name, value] : sdk::form_decode(query)) {
    if (name == "limit") {
      if (value.empty() || value.size() > 3 || value.find_first_not_of("0123456789") != std::string::npos ||
          std::stoi(value) < 1 || std::stoi(value) > 200) {
        errors.push_back({{"field", "limit"}, {"message", "must be a whole number from 1 to 200"}});
      } else {
        page.limit = std::stoi(value);
      }
    } else if (name == "after" || name == "cursor") {
      page.after = value.substr(0, 128);
    } else if (name == "workspace_id") {
      page.workspace_id = value.substr(0, 128);
    }
  }
  if (!errors.empty()) return core::ApiError(core::ErrorCode::validation_error, {}, {}, {{"errors", errors}});
  return page;
}

core::Expected<bool> query_flag(const std::string& query, const std::string& name, bool fallback) {
  bool value = fallback;
  for (const auto& [key, text] : sdk::form_decode(query)) {
    if (key != name) continue;
    if (text == "true" || text == "1") {
      value = true;
    } else if (text == "false" || text == "0") {
      value = false;
    } else {
      return field_error(name, "must be true or false");
    }
  }
  return value;
}

} // namespace connector::host
