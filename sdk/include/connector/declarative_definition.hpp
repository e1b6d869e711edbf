// A declarative provider definition: one JSON document that says, for one slug, how its OAuth
// dialect goes (consent URL, token endpoint, refresh, revocation, check call), quirks included,
// as data. parse_definition() validates a document completely and says precisely what is wrong
// with it (the JSON path and the rule); declarative_provider.hpp runs what it describes.
//
// Definitions are untrusted input (a file dropped into a plugins folder): nothing here
// recurses over the document or runs a pattern engine. Values that reach a URL are checked
// against a fixed set of kinds (a DNS label, an https origin, a tenant, an unreserved token, a
// list of choices) when the operator's settings or a flow's options supply them, so that no
// value can change a URL's host or add to its query (no host injection).
//
// The format, version 1 (docs/plugin-authors-guide.md has a worked example):
//   definition_version  1
//   slug, display_name, version, documentation_url (https: the provider's OAuth documentation)
//   source_definitions  [{"id": UUID, "name": …}]
//   hosts               DNS names the instance may call besides its URLs' own hosts
//   variables           {name: {"from": "settings"|"flow_options"|"token_answer"|"callback",
//                        "kind": KIND, "values": […], "default": …, "description": …}}; KIND:
//                        dns_label, https_origin, tenant, token, one_of. A URL's host may use
//                        settings variables only. token_answer and callback variables are the
//                        grant's metadata (ABI 1.1): kept from the code exchange's answer
//                        ("at": a JSON pointer into it) or its redirect ("parameter": the query
//                        parameter), shown on the source, and usable in the refresh, revocation
//                        and check URLs (Intuit's realmId in the company's URL).
//   issuer              the RFC 9207 issuer (a template), when the provider sends `iss`
//   authorization       {"url", "scopes": {"default": […], "separator": " "|",", "parameter"},
//                        "parameters": {name: template}, "pkce": "required"|"supported"|"none"}
//   token               {"url", "client_authentication": "client_secret_post"|"client_secret_basic",
//                        "body": "form"|"json"|"query" (the parameters in the URL's query, no
//                        body: ClickUp's), "accept", "tokens_at": JSON pointer,
//                        "error_at", "error_description_at", "default_expires_in",
//                        "grant_gone_errors" (codes at error_at that mean the code or the
//                        refresh token is dead, where the provider does not say invalid_grant),
//                        "refresh": {"supported": bool, "rotates": bool, "url" (when refreshing
//                        has an endpoint of its own: Figma's)}}
//   revocation          {"url", "style": "rfc7009"|"bearer", "token": "refresh_token"|"access_token",
//                        "client_authentication", "body": "form"|"json" (Intuit's)}
//   check               {"url", "method": "GET"|"POST", "body" (JSON text, with POST),
//                        "token_header" (the header that carries the token: "Authorization", or
//                        the API's own, Shopify's X-Shopify-Access-Token),
//                        "authorization" (the scheme, "Bearer"; "" for the token alone),
//                        "headers" (constant ones the API requires),
//                        "account_id", "account_name" (JSON pointers), "error_at" (an error in
//                        a 2xx answer), "grant_gone_errors" (its codes that mean consent again),
//                        "grant_gone_statuses" (HTTP statuses that say the token is dead: [401])}
// Templates name variables in braces ("https://{subdomain}.zendesk.com/oauth/tokens"); every
// name must be declared.
#ifndef CONNECTOR_DECLARATIVE_DEFINITION_HPP
#define CONNECTOR_DECLARATIVE_DEFINITION_HPP

#include <connector/encoding.hpp>
#include <connector/oauth2.hpp>
#include <connector/provider.hpp>
#include <connector/settings.hpp>

#include <nlohmann/json.hpp>

#include <cctype>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace connector::sdk::declarative {

enum class VariableSource { settings, flow_options, token_answer, callback };
enum class VariableKind { dns_label, https_origin, tenant, token, one_of };
enum class Pkce { required, supported, none };
enum class ClientAuthentication { secret_post, secret_basic };
enum class BodyEncoding { form, json, query };
enum class RevokedToken { refresh_token, access_token };
enum class RevocationStyle { rfc7009, bearer };

struct Variable {
  std::string name;
  VariableSource source = VariableSource::settings;
  VariableKind kind = VariableKind::token;
  std::vector<std::string> values; // one_of's choices
  std::optional<std::string> default_value;
  std::string description;
  nlohmann::json::json_pointer at; // token_answer: where in the code exchange's answer
  std::string parameter;           // callback: the redirect's query parameter

  bool is_metadata() const { return source == VariableSource::token_answer || source == VariableSource::callback; }
};

struct TokenEndpoint {
  std::string url; // a template
  ClientAuthentication client_authentication = ClientAuthentication::secret_post;
  BodyEncoding body = BodyEncoding::form;
  std::string accept = "application/json";
  TokenAnswerShape answer; // where the tokens and the error sit (tokens_at, error_at, error_description_at)
  std::optional<int64_t> default_expires_in;  // when the answer has no expires_in
  std::vector<std::string> grant_gone_errors; // its codes for a dead code or refresh token (Slack's invalid_code)
  bool refresh_supported = false;
  bool refresh_token_rotates = false; // a refresh answer must then carry a new refresh token
  std::string refresh_url;            // a template; empty: refresh at `url` too
};

struct Revocation {
  std::string url;
  // rfc7009: the token in a form, the client authenticated. bearer: a POST authorized by the
  // access token itself, nothing in the body (Dropbox's, Linear's).
  RevocationStyle style = RevocationStyle::rfc7009;
  RevokedToken token = RevokedToken::refresh_token; // the access token when there is no refresh token
  ClientAuthentication client_authentication = ClientAuthentication::secret_post;
  BodyEncoding body = BodyEncoding::form; // form or json
};

struct Check { // a cheap authenticated call that names the account
  std::string url;
  std::string method = "GET";                 // or POST, with `body` (Dropbox's RPC, a GraphQL query)
  std::string body;                           // sent as JSON with a POST
  std::string token_header = "Authorization"; // or the API's own (Shopify's X-Shopify-Access-Token)
  std::string authorization = "Bearer";       // the scheme before the token; empty: the token alone (ClickUp)
  Headers headers;                            // constant ones the API requires (Notion-Version)
  nlohmann::json::json_pointer account_id;
  nlohmann::json::json_pointer account_name;
  std::optional<nlohmann::json::json_pointer> error_at; // an error spelled in a 2xx answer (Slack's `error`)
  std::vector<std::string> grant_gone_errors;           // those of its codes that mean consent is needed again
  std::vector<unsigned> grant_gone_statuses = {401};    // the statuses that say the token is dead (Figma's 403)
};

struct Definition {
  std::string slug;
  std::string display_name;
  std::string version;
  std::string documentation_url;
  std::vector<SourceDefinition> source_definitions;
  std::vector<std::string> hosts;
  std::vector<Variable> variables;
  std::string issuer; // a template; empty: the provider sends no iss

  std::string authorization_url; // a template
  std::vector<std::string> default_scopes;
  std::string scope_separator = " ";
  std::string scope_parameter = "scope";
  Params authorization_parameters; // values are templates
  Pkce pkce = Pkce::supported;

  TokenEndpoint token;
  std::optional<Revocation> revocation;
  std::optional<Check> check;

  // Every URL template it has: consent, token, refresh, revocation, check, issuer.
  std::vector<const std::string*> urls() const {
    std::vector<const std::string*> all = {&authorization_url, &token.url};
    if (!token.refresh_url.empty()) all.push_back(&token.refresh_url);
    if (revocation) all.push_back(&revocation->url);
    if (check) all.push_back(&check->url);
    if (!issuer.empty()) all.push_back(&issuer);
    return all;
  }

  const Variable* variable(std::string_view name) const {
    for (const auto& v : variables) {
      if (v.name == name) return &v;
    }
    return nullptr;
  }
};

namespace detail {

[[noreturn]] inline void refuse(const std::string& path, const std::string& rule) {
  throw InvalidInput("definition: " + path + ": " + rule);
}

inline bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
inline bool is_unreserved_char(char c) {
  return is_lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '-' || c == '.' || c == '_' || c == '~';
}

// RFC 1035 label, lower case: 1-63 of [a-z0-9-], not starting or ending with '-'.
inline bool is_dns_label(std::string_view text) {
  if (text.empty() || text.size() > 63 || text.front() == '-' || text.back() == '-') return false;
  for (const char c : text) {
    if (!is_lower_alnum(c) && c != '-') return false;
  }
  return true;
}

// A DNS name of labels as above, 1-253 characters.
inline bool is_dns_name(std::string_view text) {
  if (text.empty() || text.size() > 253) return false;
  std::size_t start = 0;
  for (;;) {
    const std::size_t dot = text.find('.', start);
    if (!is_dns_label(text.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start))) {
      return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

inline bool is_uuid(std::string_view text) {
  if (text.size() != 36) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return false;
    } else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))) {
      return false;
    }
  }
  return true;
}

// 1-128 unreserved characters (RFC 3986): safe anywhere in a URL's path or query.
inline bool is_unreserved_token(std::string_view text) {
  if (text.empty() || text.size() > 128) return false;
  for (const char c : text) {
    if (!is_unreserved_char(c)) return false;
  }
  return true;
}

inline bool is_variable_name(std::string_view text) {
  if (text.empty() || text.size() > 32 || !(text.front() >= 'a' && text.front() <= 'z')) return false;
  for (const char c : text) {
    if (!is_lower_alnum(c) && c != '_') return false;
  }
  return true;
}

// The names a template uses, in order; refuses unbalanced braces.
inline std::vector<std::string> template_names(std::string_view text, const std::string& path) {
  std::vector<std::string> names;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '}') refuse(path, "a '}' without its '{'");
    if (text[i] != '{') continue;
    const std::size_t close = text.find('}', i);
    if (close == std::string_view::npos) refuse(path, "a '{' without its '}'");
    const std::string_view name = text.substr(i + 1, close - i - 1);
    if (!is_variable_name(name)) refuse(path, "'{" + std::string(name) + "}' is not a variable name");
    names.emplace_back(name);
    i = close;
  }
  return names;
}

// Reads one JSON object, refusing members it does not know: a misspelt key is an error, not
// a silently ignored quirk.
class Members {
public:
  Members(const nlohmann::json& object, std::string path, std::initializer_list<const char*> known)
      : object_(object), path_(std::move(path)) {
    if (!object.is_object()) refuse(path_, "must be an object");
    for (const auto& item : object.items()) {
      bool found = false;
      for (const char* name : known)
        found = found || item.key() == name;
      if (!found) refuse(at(item.key()), "is not a known member");
    }
  }

  std::string at(const std::string& name) const { return path_ + "." + name; }
  const nlohmann::json* find(const char* name) const {
    const auto it = object_.find(name);
    return it == object_.end() ? nullptr : &*it;
  }
  const nlohmann::json& required(const char* name) const {
    const nlohmann::json* value = find(name);
    if (value == nullptr) refuse(at(name), "is required");
    return *value;
  }
  std::string string(const char* name, bool required_member, std::size_t max_size = 2048) const {
    const nlohmann::json* value = required_member ? &required(name) : find(name);
    if (value == nullptr) return {};
    if (!value->is_string() || value->get_ref<const std::string&>().empty() ||
        value->get_ref<const std::string&>().size() > max_size) {
      refuse(at(name), "must be a non-empty string of at most " + std::to_string(max_size) + " characters");
    }
    return value->get<std::string>();
  }
  template <typename Enum>
  Enum choice(const char* name, std::initializer_list<std::pair<const char*, Enum>> choices, Enum fallback) const {
    const nlohmann::json* value = find(name);
    if (value == nullptr) return fallback;
    std::string allowed;
    for (const auto& [text, result] : choices) {
      if (value->is_string() && value->get_ref<const std::string&>() == text) return result;
      allowed += (allowed.empty() ? "" : ", ") + std::string(text);
    }
    refuse(at(name), "must be one of " + allowed);
  }
  bool boolean(const char* name, bool fallback) const {
    const nlohmann::json* value = find(name);
    if (value == nullptr) return fallback;
    if (!value->is_boolean()) refuse(at(name), "must be true or false");
    return value->get<bool>();
  }
  nlohmann::json::json_pointer pointer(const char* name, const char* fallback) const {
    const std::string text = find(name) == nullptr ? fallback : string(name, false, 200);
    if (!text.empty() && text.front() != '/') refuse(at(name), "must be a JSON pointer (\"\" or starting with '/')");
    try {
      return nlohmann::json::json_pointer(text);
    } catch (const nlohmann::json::exception&) {
      refuse(at(name), "is not a valid JSON pointer");
    }
  }

private:
  const nlohmann::json& object_;
  std::string path_;
};

inline std::vector<std::string> scope_array(const nlohmann::json& value, const std::string& path) {
  try {
    return scope_list(value, path);
  } catch (const InvalidInput& refusal) {
    refuse(path, refusal.what());
  }
}

inline Variable read_variable(const std::string& name, const nlohmann::json& value, const std::string& path) {
  if (!is_variable_name(name)) refuse(path, "a variable name is 1-32 of [a-z0-9_], starting with a letter");
  if (name == "client_id" || name == "client_secret" || name == "scopes") {
    refuse(path, "is a setting every definition has already");
  }
  const Members members(value, path, {"from", "kind", "values", "default", "description", "at", "parameter"});
  Variable variable;
  variable.name = name;
  variable.source = members.choice<VariableSource>("from",
                                                   {{"settings", VariableSource::settings},
                                                    {"flow_options", VariableSource::flow_options},
                                                    {"token_answer", VariableSource::token_answer},
                                                    {"callback", VariableSource::callback}},
                                                   VariableSource::settings);
  if ((members.find("at") != nullptr) != (variable.source == VariableSource::token_answer)) {
    refuse(members.at("at"), "belongs to, and is required by, \"from\": \"token_answer\"");
  }
  if ((members.find("parameter") != nullptr) != (variable.source == VariableSource::callback)) {
    refuse(members.at("parameter"), "belongs to, and is required by, \"from\": \"callback\"");
  }
  if (variable.source == VariableSource::token_answer) variable.at = members.pointer("at", "");
  if (variable.source == VariableSource::callback) {
    variable.parameter = members.string("parameter", true, 64);
    static constexpr const char* the_redirects_own[] = {"code", "state", "iss", "error", "error_description"};
    for (const char* own : the_redirects_own) {
      if (variable.parameter == own) refuse(members.at("parameter"), "is the redirect's own, not metadata");
    }
    if (!is_unreserved_token(variable.parameter)) refuse(members.at("parameter"), "must be a plain parameter name");
  }
  if (members.find("kind") == nullptr) refuse(members.at("kind"), "is required");
  variable.kind = members.choice<VariableKind>("kind",
                                               {{"dns_label", VariableKind::dns_label},
                                                {"https_origin", VariableKind::https_origin},
                                                {"tenant", VariableKind::tenant},
                                                {"token", VariableKind::token},
                                                {"one_of", VariableKind::one_of}},
                                               VariableKind::token);
  if (const nlohmann::json* values = members.find("values")) {
    if (variable.kind != VariableKind::one_of) refuse(members.at("values"), "belongs to kind one_of only");
    if (!values->is_array() || values->empty() || values->size() > 50) {
      refuse(members.at("values"), "must be an array of 1-50 choices");
    }
    for (const auto& choice : *values) {
      if (!choice.is_string() || !is_unreserved_token(choice.get_ref<const std::string&>())) {
        refuse(members.at("values"), "choices are 1-128 unreserved characters ([A-Za-z0-9._~-])");
      }
      variable.values.push_back(choice.get<std::string>());
    }
  } else if (variable.kind == VariableKind::one_of) {
    refuse(members.at("values"), "is required for kind one_of");
  }
  if (members.find("default") != nullptr) {
    if (variable.is_metadata()) refuse(members.at("default"), "metadata is what the provider sends, without default");
    variable.default_value = members.string("default", false, 253);
  }
  variable.description = members.string("description", false, 500);
  return variable;
}

inline void read_source_definitions(const Members& members, Definition& out) {
  const nlohmann::json& list = members.required("source_definitions");
  const std::string path = members.at("source_definitions");
  if (!list.is_array() || list.empty() || list.size() > 20) refuse(path, "must be an array of 1-20 entries");
  for (std::size_t i = 0; i < list.size(); ++i) {
    const Members entry(list[i], path + "[" + std::to_string(i) + "]", {"id", "name"});
    SourceDefinition definition{entry.string("id", true, 36), entry.string("name", true, 100)};
    if (!is_uuid(definition.id)) refuse(entry.at("id"), "must be a UUID");
    out.source_definitions.push_back(std::move(definition));
  }
}

// Where a URL template's authority ends: after "https://host" or after a leading {origin}.
inline std::size_t authority_end(std::string_view url) {
  if (!url.empty() && url.front() == '{') return url.find('}') + 1;
  const std::size_t end = url.find_first_of("/?", 8);
  return end == std::string_view::npos ? url.size() : end;
}

// When a URL is called: before the grant (the consent URL, the code exchange), when the
// grant's metadata is not known yet, or after it.
enum class Called { before_grant, after_grant };

inline const char* source_name(VariableSource source) {
  switch (source) {
  case VariableSource::settings: return "settings";
  case VariableSource::flow_options: return "flow options";
  case VariableSource::token_answer: return "the token answer";
  case VariableSource::callback: return "the redirect";
  }
  return "";
}

// A flow option that names a URL's first label before a written domain ("shop" and
// "myshopify.com" in "https://{shop}.myshopify.com/admin"), the one way a flow option may take
// part in a host: a DNS label before a fixed domain of two labels or more, so that the egress
// allow-list knows the domain ("*.myshopify.com") once the instance is configured.
struct FlowLabel {
  std::string variable;
  std::string domain;
};

inline std::optional<FlowLabel> flow_label(std::string_view url, const Definition& definition) {
  constexpr std::string_view scheme = "https://{";
  if (url.substr(0, scheme.size()) != scheme) return std::nullopt;
  const std::size_t close = url.find('}');
  const std::string_view name = url.substr(scheme.size(), close - scheme.size());
  const Variable* label = definition.variable(name);
  if (label == nullptr || label->source != VariableSource::flow_options || label->kind != VariableKind::dns_label) {
    return std::nullopt;
  }
  const std::size_t end = authority_end(url);
  if (close + 1 >= end || url[close + 1] != '.') return std::nullopt;
  const std::string_view domain = url.substr(close + 2, end - close - 2);
  if (domain.find('.') == std::string_view::npos || !is_dns_name(domain)) return std::nullopt;
  return FlowLabel{std::string(name), std::string(domain)};
}

// A URL template: https (written, or an https_origin setting in front), every name declared,
// nothing but settings in the authority (the egress allow-list is known once the instance is
// configured) besides a flow option as the first label of a written domain (flow_label),
// metadata only after the grant, no fragment.
inline std::string read_url(const Members& members, const char* name, const Definition& definition,
                            Called called = Called::after_grant) {
  std::string url = members.string(name, true);
  const std::string path = members.at(name);
  const std::vector<std::string> names = template_names(url, path);
  for (const std::string& variable : names) {
    if (definition.variable(variable) == nullptr) {
      refuse(path, "names {" + variable + "}, which is not declared in variables");
    }
  }
  const bool origin_first = url.front() == '{';
  if (!origin_first && url.rfind("https://", 0) != 0) refuse(path, "must start with https:// or an https_origin");
  if (url.find('#') != std::string::npos) refuse(path, "must not have a fragment");
  for (const char c : url) {
    // RFC 3986's characters (and the template's braces): a space or a quote is no URL's.
    if (!is_unreserved_char(c) && std::string_view(":/?[]@!$&'()*+,;=%{}").find(c) == std::string_view::npos) {
      refuse(path, "holds a character no URL may (escape it as %XX)");
    }
  }
  const std::size_t end = authority_end(url);
  std::size_t position = 0;
  for (const std::string& variable : names) {
    const Variable& declared = *definition.variable(variable);
    position = url.find("{" + variable + "}", position);
    const bool in_authority = position < end;
    if (declared.kind == VariableKind::https_origin && !(origin_first && position == 0)) {
      refuse(path, "{" + variable + "} is an https_origin and can only open the URL");
    }
    const bool first_label = position == 8 && flow_label(url, definition).has_value();
    if (in_authority && declared.source != VariableSource::settings && !first_label) {
      refuse(path, "{" + variable + "} comes from " + source_name(declared.source) +
                       " and cannot name the host (a flow option may only be a dns_label before a written domain, "
                       "as in https://{shop}.myshopify.com)");
    }
    if (declared.is_metadata() && called == Called::before_grant) {
      refuse(path, "{" + variable + "} is the grant's metadata, not known before the code exchange");
    }
    position += variable.size() + 2;
  }
  if (origin_first && (names.empty() || definition.variable(names.front())->kind != VariableKind::https_origin)) {
    refuse(path, "must start with https:// or an https_origin");
  }
  // The origin is the whole authority: what follows it starts the path or the query.
  if (origin_first && end < url.size() && url[end] != '/' && url[end] != '?') {
    refuse(path, "an https_origin must be followed by '/', '?' or nothing");
  }
  return url;
}

inline void read_authorization(const Members& top, Definition& out) {
  const Members members(top.required("authorization"), top.at("authorization"),
                        {"url", "scopes", "parameters", "pkce"});
  out.authorization_url = read_url(members, "url", out, Called::before_grant);
  if (const nlohmann::json* scopes = members.find("scopes")) {
    const Members scope(*scopes, members.at("scopes"), {"default", "separator", "parameter"});
    if (const nlohmann::json* list = scope.find("default")) {
      out.default_scopes = scope_array(*list, scope.at("default"));
    }
    const std::string separator = scope.string("separator", false, 1);
    if (!separator.empty() && separator != " " && separator != ",") {
      refuse(scope.at("separator"), "must be \" \" or \",\"");
    }
    if (!separator.empty()) out.scope_separator = separator;
    const std::string parameter = scope.string("parameter", false, 64);
    if (!parameter.empty()) {
      if (!is_unreserved_token(parameter)) refuse(scope.at("parameter"), "must be a plain parameter name");
      out.scope_parameter = parameter;
    }
  }
  if (const nlohmann::json* parameters = members.find("parameters")) {
    const std::string path = members.at("parameters");
    if (!parameters->is_object() || parameters->size() > 20) refuse(path, "must be an object of at most 20 members");
    for (const auto& item : parameters->items()) {
      const std::string at = path + "." + item.key();
      static constexpr const char* reserved[] = {"response_type", "client_id",      "redirect_uri",
                                                 "state",         "code_challenge", "code_challenge_method"};
      for (const char* name : reserved) {
        if (item.key() == name) refuse(at, "is set by the engine itself");
      }
      if (!is_unreserved_token(item.key()) || item.key() == out.scope_parameter) {
        refuse(at, "must be a plain parameter name other than the scope's");
      }
      if (!item.value().is_string() || item.value().get_ref<const std::string&>().size() > 500) {
        refuse(at, "must be a string of at most 500 characters");
      }
      for (const std::string& name : template_names(item.value().get_ref<const std::string&>(), at)) {
        if (out.variable(name) == nullptr) refuse(at, "names {" + name + "}, which is not declared in variables");
        if (out.variable(name)->is_metadata()) {
          refuse(at, "{" + name + "} is the grant's metadata, not known before the code exchange");
        }
      }
      out.authorization_parameters.emplace_back(item.key(), item.value().get<std::string>());
    }
  }
  out.pkce = members.choice<Pkce>(
      "pkce", {{"required", Pkce::required}, {"supported", Pkce::supported}, {"none", Pkce::none}}, Pkce::supported);
}

inline ClientAuthentication read_client_authentication(const Members& members) {
  return members.choice<ClientAuthentication>("client_authentication",
                                              {{"client_secret_post", ClientAuthentication::secret_post},
                                               {"client_secret_basic", ClientAuthentication::secret_basic}},
                                              ClientAuthentication::secret_post);
}

// A list of a provider's error codes (at most 20, each 1-128 unreserved characters).
inline std::vector<std::string> read_error_codes(const Members& members, const char* name) {
  std::vector<std::string> codes;
  const nlohmann::json* list = members.find(name);
  if (list == nullptr) return codes;
  if (!list->is_array() || list->size() > 20) refuse(members.at(name), "must be an array of at most 20 codes");
  for (const auto& code : *list) {
    if (!code.is_string() || !is_unreserved_token(code.get_ref<const std::string&>())) {
      refuse(members.at(name), "codes are 1-128 unreserved characters");
    }
    codes.push_back(code.get<std::string>());
  }
  return codes;
}

inline void read_token(const Members& top, Definition& out) {
  const Members members(top.required("token"), top.at("token"),
                        {"url", "client_authentication", "body", "accept", "tokens_at", "error_at",
                         "error_description_at", "default_expires_in", "grant_gone_errors", "refresh"});
  TokenEndpoint& token = out.token;
  token.url = read_url(members, "url", out, Called::before_grant);
  token.client_authentication = read_client_authentication(members);
  token.body = members.choice<BodyEncoding>(
      "body", {{"form", BodyEncoding::form}, {"json", BodyEncoding::json}, {"query", BodyEncoding::query}},
      BodyEncoding::form);
  if (token.body == BodyEncoding::query && token.client_authentication != ClientAuthentication::secret_post) {
    refuse(members.at("body"), "query carries the client's credentials with the rest: it needs client_secret_post");
  }
  if (members.find("accept") != nullptr) {
    token.accept = members.string("accept", false, 100);
    for (const char c : token.accept) {
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) > 0x7E) {
        refuse(members.at("accept"), "must be printable ASCII");
      }
    }
  }
  token.answer.tokens_at = members.pointer("tokens_at", "");
  token.answer.error_at = members.pointer("error_at", "/error");
  token.answer.error_description_at = members.pointer("error_description_at", "/error_description");
  token.grant_gone_errors = read_error_codes(members, "grant_gone_errors");
  if (const nlohmann::json* lifetime = members.find("default_expires_in")) {
    if (!lifetime->is_number_integer() || lifetime->get<int64_t>() < 60 || lifetime->get<int64_t>() > 31536000) {
      refuse(members.at("default_expires_in"), "must be a whole number of seconds from 60 to 31536000");
    }
    token.default_expires_in = lifetime->get<int64_t>();
  }
  if (const nlohmann::json* refresh = members.find("refresh")) {
    const Members r(*refresh, members.at("refresh"), {"supported", "rotates", "url"});
    token.refresh_supported = r.boolean("supported", true);
    token.refresh_token_rotates = r.boolean("rotates", false);
    if (token.refresh_token_rotates && !token.refresh_supported) {
      refuse(r.at("rotates"), "needs refresh to be supported");
    }
    if (r.find("url") != nullptr) {
      if (!token.refresh_supported) refuse(r.at("url"), "needs refresh to be supported");
      token.refresh_url = read_url(r, "url", out);
    }
  }
}

// A header name of letters, digits and '-', none the engine or the transport sets itself.
inline bool is_free_header_name(std::string_view name) {
  bool plain = !name.empty() && name.size() <= 64;
  std::string lower;
  for (const char c : name) {
    plain = plain && (is_lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '-');
    lower.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
  }
  for (const char* reserved :
       {"authorization", "host", "content-length", "content-type", "transfer-encoding", "connection", "accept"}) {
    plain = plain && lower != reserved;
  }
  return plain;
}

// Headers with constant values: free names (above), values of printable ASCII.
inline Headers read_constant_headers(const nlohmann::json& object, const std::string& path) {
  if (!object.is_object() || object.size() > 10) refuse(path, "must be an object of at most 10 headers");
  Headers headers;
  for (const auto& item : object.items()) {
    const std::string& name = item.key();
    std::string at = path;
    at += '.';
    at += name;
    if (!is_free_header_name(name)) refuse(at, "must be a plain header name the engine does not set itself");
    bool printable = item.value().is_string() && item.value().get_ref<const std::string&>().size() <= 200;
    if (printable) {
      for (const char c : item.value().get_ref<const std::string&>())
        printable = printable && static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) <= 0x7E;
    }
    if (!printable) refuse(at, "must be printable ASCII of at most 200 characters");
    headers.emplace_back(name, item.value().get<std::string>());
  }
  return headers;
}

inline void read_revocation_and_check(const Members& top, Definition& out) {
  if (const nlohmann::json* revocation = top.find("revocation")) {
    const Members members(*revocation, top.at("revocation"),
                          {"url", "style", "token", "client_authentication", "body"});
    Revocation read;
    read.url = read_url(members, "url", out);
    read.style = members.choice<RevocationStyle>(
        "style", {{"rfc7009", RevocationStyle::rfc7009}, {"bearer", RevocationStyle::bearer}},
        RevocationStyle::rfc7009);
    if (read.style == RevocationStyle::bearer &&
        (members.find("token") != nullptr || members.find("client_authentication") != nullptr ||
         members.find("body") != nullptr)) {
      refuse(members.at("style"), "bearer revokes the access token it sends, without client authentication");
    }
    read.token = members.choice<RevokedToken>(
        "token", {{"refresh_token", RevokedToken::refresh_token}, {"access_token", RevokedToken::access_token}},
        RevokedToken::refresh_token);
    read.client_authentication = read_client_authentication(members);
    read.body = members.choice<BodyEncoding>("body", {{"form", BodyEncoding::form}, {"json", BodyEncoding::json}},
                                             BodyEncoding::form);
    out.revocation = std::move(read);
  }
  if (const nlohmann::json* check = top.find("check")) {
    const Members members(*check, top.at("check"),
                          {"url", "method", "body", "token_header", "authorization", "headers", "account_id",
                           "account_name", "error_at", "grant_gone_errors", "grant_gone_statuses"});
    Check read;
    read.url = read_url(members, "url", out);
    read.method = members.choice<const char*>("method", {{"GET", "GET"}, {"POST", "POST"}}, "GET");
    if (members.find("body") != nullptr) {
      if (read.method != std::string("POST")) refuse(members.at("body"), "belongs to a POST");
      read.body = members.string("body", false, 2000);
      if (nlohmann::json::parse(read.body, nullptr, /*allow_exceptions=*/false).is_discarded()) {
        refuse(members.at("body"), "must be JSON text");
      }
    }
    if (members.find("token_header") != nullptr) {
      read.token_header = members.string("token_header", false, 64);
      if (!is_free_header_name(read.token_header)) {
        refuse(members.at("token_header"), "must be a plain header name the engine does not set itself");
      }
    }
    if (const nlohmann::json* scheme = members.find("authorization")) {
      if (!scheme->is_string() || scheme->get_ref<const std::string&>().size() > 20) {
        refuse(members.at("authorization"), "must be a scheme of at most 20 letters, or \"\"");
      }
      for (const char c : scheme->get_ref<const std::string&>()) {
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'))) {
          refuse(members.at("authorization"), "must be a scheme of at most 20 letters, or \"\"");
        }
      }
      read.authorization = scheme->get<std::string>();
    }
    if (const nlohmann::json* headers = members.find("headers")) {
      read.headers = read_constant_headers(*headers, members.at("headers"));
    }
    if (members.find("error_at") != nullptr) read.error_at = members.pointer("error_at", "");
    read.grant_gone_errors = read_error_codes(members, "grant_gone_errors");
    if (!read.grant_gone_errors.empty() && read.error_at == std::nullopt) {
      refuse(members.at("grant_gone_errors"), "needs error_at");
    }
    if (const nlohmann::json* statuses = members.find("grant_gone_statuses")) {
      if (!statuses->is_array() || statuses->empty() || statuses->size() > 5) {
        refuse(members.at("grant_gone_statuses"), "must be an array of 1-5 statuses");
      }
      read.grant_gone_statuses.clear();
      for (const auto& status : *statuses) {
        if (!status.is_number_integer() || status.get<int64_t>() < 400 || status.get<int64_t>() > 499) {
          refuse(members.at("grant_gone_statuses"), "statuses are 4xx");
        }
        read.grant_gone_statuses.push_back(status.get<unsigned>());
      }
    }
    if (members.find("account_id") == nullptr) refuse(members.at("account_id"), "is required");
    read.account_id = members.pointer("account_id", "");
    read.account_name = members.pointer("account_name", "");
    out.check = std::move(read);
  }
}

} // namespace detail

// Validates a whole definition; throws InvalidInput("definition: $.token.url: must start with
// https://") at the first rule broken.
inline Definition parse_definition(const nlohmann::json& document) {
  using detail::refuse;
  const detail::Members top(document, "$",
                            {"$schema", "definition_version", "slug", "display_name", "version", "documentation_url",
                             "source_definitions", "hosts", "variables", "issuer", "authorization", "token",
                             "revocation", "check"});
  const nlohmann::json& version = top.required("definition_version");
  if (!version.is_number_integer() || version.get<int64_t>() != 1) {
    refuse(top.at("definition_version"), "must be 1 (the only version this SDK reads)");
  }
  Definition out;
  out.slug = top.string("slug", true, 64);
  if (!detail::is_dns_label(out.slug) || !(out.slug.front() >= 'a' && out.slug.front() <= 'z')) {
    refuse(top.at("slug"), "must be 1-64 of [a-z0-9-], starting with a letter");
  }
  out.display_name = top.string("display_name", true, 100);
  out.version = top.string("version", true, 32);
  out.documentation_url = top.string("documentation_url", true);
  if (!parse_https_url(out.documentation_url)) refuse(top.at("documentation_url"), "must be an https URL");
  detail::read_source_definitions(top, out);
  if (const nlohmann::json* hosts = top.find("hosts")) {
    if (!hosts->is_array() || hosts->size() > 20) refuse(top.at("hosts"), "must be an array of at most 20 names");
    for (const auto& host : *hosts) {
      if (!host.is_string() || !detail::is_dns_name(host.get_ref<const std::string&>())) {
        refuse(top.at("hosts"), "must hold lower-case DNS names");
      }
      append_unique(out.hosts, host.get<std::string>());
    }
  }
  if (const nlohmann::json* variables = top.find("variables")) {
    if (!variables->is_object() || variables->size() > 20) {
      refuse(top.at("variables"), "must be an object of at most 20 variables");
    }
    for (const auto& item : variables->items()) {
      out.variables.push_back(detail::read_variable(item.key(), item.value(), top.at("variables") + "." + item.key()));
    }
  }
  if (top.find("issuer") != nullptr) {
    out.issuer = detail::read_url(top, "issuer", out, detail::Called::before_grant);
    // Compared as it is with every callback's iss: known once the instance is configured.
    for (const std::string& name : detail::template_names(out.issuer, top.at("issuer"))) {
      if (out.variable(name)->source != VariableSource::settings) {
        refuse(top.at("issuer"), "{" + name + "} comes from flow options; an issuer takes settings only");
      }
    }
  }
  detail::read_authorization(top, out);
  detail::read_token(top, out);
  detail::read_revocation_and_check(top, out);
  return out;
}

} // namespace connector::sdk::declarative

#endif // CONNECTOR_DECLARATIVE_DEFINITION_HPP
