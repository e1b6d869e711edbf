// The engine behind every declarative provider: an IOAuthProvider that does what a Definition
// (declarative_definition.hpp) says. Sans-I/O like every plugin: each operation returns the
// request to send and is called again with the answer.
//
// What it sends is what RFC 6749 requires whatever the provider tolerates (response_type=code
// on the consent URL, grant_type on every token request), plus what the definition declares.
// What it reads: the token answer as JSON or a form, the tokens where `tokens_at` points, an
// error where `error_at` points whatever the HTTP status (Slack and GitHub answer errors with
// 200), `default_expires_in` when the answer has no lifetime; the account from the check call.
#ifndef CONNECTOR_DECLARATIVE_PROVIDER_HPP
#define CONNECTOR_DECLARATIVE_PROVIDER_HPP

#include <connector/declarative_definition.hpp>
#include <connector/encoding.hpp>
#include <connector/oauth2.hpp>
#include <connector/provider.hpp>
#include <connector/settings.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace connector::sdk::declarative {

namespace detail {

// A value for a variable of `kind`, or nullopt when it does not qualify. Normalises case where
// the kind is case-insensitive (DNS names) and drops an origin's trailing slash.
inline std::optional<std::string> checked_value(const Variable& variable, std::string value) {
  switch (variable.kind) {
  case VariableKind::dns_label:
    for (auto& c : value)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return is_dns_label(value) ? std::optional(value) : std::nullopt;
  case VariableKind::https_origin: {
    while (!value.empty() && value.back() == '/')
      value.pop_back();
    const std::optional<HttpsUrl> url = parse_https_url(value);
    if (!url || value.size() != 8 + url->authority.size()) return std::nullopt; // path, query or fragment
    return value;
  }
  case VariableKind::tenant: // Microsoft's: common, organizations, consumers, a GUID or a domain
    for (auto& c : value)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return is_uuid(value) || is_dns_name(value) ? std::optional(value) : std::nullopt;
  case VariableKind::token: return is_unreserved_token(value) ? std::optional(value) : std::nullopt;
  case VariableKind::one_of:
    for (const auto& choice : variable.values) {
      if (choice == value) return value;
    }
    return std::nullopt;
  }
  return std::nullopt;
}

inline std::string kind_rule(const Variable& variable) {
  switch (variable.kind) {
  case VariableKind::dns_label: return "a DNS label (1-63 of a-z, 0-9 and '-')";
  case VariableKind::https_origin: return "an https origin (https://host[:port], no path)";
  case VariableKind::tenant: return "a tenant: a GUID or a domain name";
  case VariableKind::token: return "1-128 of A-Z, a-z, 0-9, '.', '_', '~' and '-'";
  case VariableKind::one_of: {
    std::string choices;
    for (const auto& choice : variable.values)
      choices += (choices.empty() ? "" : ", ") + choice;
    return "one of " + choices;
  }
  }
  return {};
}

// Reads the variables of one source from `object` (the settings, or a flow's options) into
// `values`, with defaults; refuses a value that does not qualify or a required one missing.
inline void read_values(const Definition& definition, VariableSource source, const nlohmann::json& object,
                        const char* what, std::map<std::string, std::string>& values) {
  for (const Variable& variable : definition.variables) {
    if (variable.source != source) continue;
    const nlohmann::json* given = setting(object, variable.name.c_str());
    std::optional<std::string> text;
    if (given != nullptr) {
      if (!given->is_string()) throw InvalidInput(std::string(what) + " " + variable.name + " must be a string");
      text = given->get<std::string>();
    } else {
      text = variable.default_value;
    }
    if (!text) {
      if (source == VariableSource::settings) throw InvalidInput(variable.name + " is required");
      continue; // a flow option without default: checked where a template needs it
    }
    std::optional<std::string> value = checked_value(variable, *text);
    if (!value) throw InvalidInput(std::string(what) + " " + variable.name + " must be " + kind_rule(variable));
    values[variable.name] = std::move(*value);
  }
}

// Fills a template's names from `values`; throws InvalidInput naming the first one missing.
inline std::string expand(const std::string& text, const std::map<std::string, std::string>& values,
                          const Definition& definition) {
  std::string out;
  out.reserve(text.size() + 32);
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '{') {
      out.push_back(text[i]);
      continue;
    }
    const std::size_t close = text.find('}', i);
    const std::string name = text.substr(i + 1, close - i - 1);
    const auto found = values.find(name);
    if (found == values.end()) {
      const Variable* variable = definition.variable(name);
      if (variable != nullptr && variable->is_metadata()) {
        throw InvalidInput("the grant has no " + name + " (" + source_name(variable->source) + " did not carry it)");
      }
      throw InvalidInput("flow option " + name + " is required");
    }
    out += found->second;
    i = close;
  }
  return out;
}

inline nlohmann::json string_schema(const Variable& variable) {
  nlohmann::json schema = {{"type", "string"}, {"minLength", 1}, {"maxLength", 253}};
  if (variable.kind == VariableKind::one_of) schema["enum"] = variable.values;
  if (variable.default_value) schema["default"] = *variable.default_value;
  schema["description"] = variable.description.empty() ? "Must be " + kind_rule(variable) : variable.description;
  return schema;
}

inline nlohmann::json scopes_schema(const char* description) {
  return {{"type", "array"},
          {"items", {{"type", "string"}, {"minLength", 1}, {"maxLength", 200}}},
          {"maxItems", 50},
          {"description", description}};
}

constexpr const char* continuation_step = "declarative-check";

} // namespace detail

// The descriptor a definition makes: settings are the client's credentials, the scopes that
// replace the default, and the settings variables; flow options are extra scopes and the
// flow variables.
inline Descriptor describe(const Definition& definition) {
  Descriptor d;
  d.slug = definition.slug;
  d.display_name = definition.display_name;
  d.version = definition.version;
  d.documentation_url = definition.documentation_url;
  d.source_definitions = definition.source_definitions;
  d.default_scopes = definition.default_scopes;
  d.supports_pkce = definition.pkce != Pkce::none;
  d.supports_refresh = definition.token.refresh_supported;
  d.supports_revoke = definition.revocation.has_value();
  d.hosts = definition.hosts;
  nlohmann::json settings = {
      {"client_id", {{"type", "string"}, {"minLength", 1}, {"title", "Client ID"}, {"x-organization-app", true}}},
      {"client_secret",
       {{"type", "string"},
        {"minLength", 1},
        {"title", "Client secret"},
        {"x-secret", true},
        {"writeOnly", true},
        {"x-organization-app", true}}},
      {"scopes", detail::scopes_schema("Replaces the default scopes.")}};
  settings["scopes"]["x-organization-app"] = true;
  nlohmann::json required = {"client_id", "client_secret"};
  nlohmann::json options = {{"scopes", detail::scopes_schema("Scopes asked in addition to the configured ones.")}};
  for (const Variable& variable : definition.variables) {
    if (variable.source == VariableSource::settings) {
      settings[variable.name] = detail::string_schema(variable);
      if (!variable.default_value) required.push_back(variable.name);
    } else if (variable.source == VariableSource::flow_options) {
      options[variable.name] = detail::string_schema(variable);
    }
  }
  d.settings_schema = {{"$schema", "https://json-schema.org/draft/2020-12/schema"},
                       {"type", "object"},
                       {"required", required},
                       {"additionalProperties", false},
                       {"properties", settings}};
  d.flow_options_schema = {{"$schema", "https://json-schema.org/draft/2020-12/schema"},
                           {"type", "object"},
                           {"additionalProperties", false},
                           {"properties", options}};
  return d;
}

class DeclarativeProvider : public IOAuthProvider {
public:
  // Throws InvalidInput for settings the definition's descriptor refuses.
  DeclarativeProvider(std::shared_ptr<const Definition> definition, const nlohmann::json& settings)
      : definition_(std::move(definition)) {
    const Definition& d = *definition_;
    if (!settings.is_object()) throw InvalidInput("settings must be an object");
    for (const auto& item : settings.items()) {
      const bool known =
          item.key() == "client_id" || item.key() == "client_secret" || item.key() == "scopes" ||
          (d.variable(item.key()) != nullptr && d.variable(item.key())->source == VariableSource::settings);
      if (!known) throw InvalidInput("setting " + item.key() + " is not a known property");
    }
    client_id_ = required_string_setting(settings, "client_id");
    client_secret_ = required_string_setting(settings, "client_secret");
    for (const char c : client_id_) {
      if (static_cast<unsigned char>(c) <= 0x20 || static_cast<unsigned char>(c) > 0x7E) {
        throw InvalidInput("client_id must be printable ASCII without spaces");
      }
    }
    const nlohmann::json* scopes = setting(settings, "scopes");
    scopes_ = scopes == nullptr ? d.default_scopes : scope_list(*scopes, "scopes");
    detail::read_values(d, VariableSource::settings, settings, "setting", settings_values_);

    hosts_ = d.hosts;
    for (const std::string* url : d.urls()) {
      // A flow option's label before a written domain: any one label under that domain.
      if (const auto label = detail::flow_label(*url, d)) {
        append_unique(hosts_, "*." + label->domain);
        continue;
      }
      // Otherwise the host comes from settings alone (parse_definition saw to it): fill only that far.
      const std::optional<HttpsUrl> parsed =
          parse_https_url(detail::expand(url->substr(0, detail::authority_end(*url)), settings_values_, d));
      if (!parsed) throw InvalidInput("the settings make " + *url + " no https URL");
      append_unique(hosts_, parsed->host);
    }
    if (!d.issuer.empty()) issuer_ = detail::expand(d.issuer, settings_values_, d);
  }

  static std::unique_ptr<IOAuthProvider> create(std::shared_ptr<const Definition> definition,
                                                const nlohmann::json& settings) {
    return std::make_unique<DeclarativeProvider>(std::move(definition), settings);
  }

  std::vector<std::string> allowed_hosts() const override { return hosts_; }
  std::string issuer() const override { return issuer_; }

  std::string authorization_url(const FlowInput& input) const override {
    const Definition& d = *definition_;
    if (input.redirect_uri.empty()) throw InvalidInput("redirect_uri is required");
    if (input.state.empty()) throw InvalidInput("state is required");
    if (d.pkce == Pkce::required && input.code_challenge.empty()) {
      throw InvalidInput("this provider requires PKCE: a code_challenge is required");
    }
    const auto values = values_for(input.options);
    std::vector<std::string> scopes = scopes_;
    if (const nlohmann::json* extra = setting(input.options, "scopes")) {
      for (const auto& scope : scope_list(*extra, "flow option scopes"))
        append_unique(scopes, scope);
    }
    std::string scope;
    for (const auto& item : scopes)
      scope += (scope.empty() ? "" : d.scope_separator) + item;

    Params params;
    params.reserve(7 + d.authorization_parameters.size());
    params.emplace_back("response_type", "code");
    params.emplace_back("client_id", client_id_);
    params.emplace_back("redirect_uri", input.redirect_uri);
    if (!scope.empty()) params.emplace_back(d.scope_parameter, scope);
    params.emplace_back("state", input.state);
    if (d.pkce != Pkce::none && !input.code_challenge.empty()) {
      params.emplace_back("code_challenge", input.code_challenge);
      params.emplace_back("code_challenge_method", "S256");
    }
    for (const auto& [name, value] : d.authorization_parameters)
      params.emplace_back(name, detail::expand(value, values, d));
    return with_query(detail::expand(d.authorization_url, values, d), params);
  }

  // The code exchange; then, when the definition has a check call, that call for the account.
  Step<TokenSet> exchange_code(const FlowInput& input, const HttpResponse* response) const override {
    if (response == nullptr) {
      if (input.code.empty()) throw InvalidInput("code is required");
      Params form{{"grant_type", "authorization_code"}, {"code", input.code}, {"redirect_uri", input.redirect_uri}};
      if (!input.code_verifier.empty()) form.emplace_back("code_verifier", input.code_verifier);
      return token_request(std::move(form), input.options);
    }
    if (input.continuation.empty()) {
      Step<TokenSet> step = read_token_answer(*response);
      auto* tokens = std::get_if<TokenSet>(&step);
      if (tokens == nullptr) return step;
      if (auto failure = read_metadata(*response, input.callback_parameters, tokens->metadata)) return *failure;
      keep_flow_hosts(input.options, tokens->metadata);
      if (!definition_->check) return step;
      std::optional<std::string> continuation = tokens_to_continuation(*tokens, detail::continuation_step);
      if (!continuation) return unusable_answer(*response, "the token endpoint's answer is not UTF-8");
      HttpRequest request = check_request(tokens->access_token, input.options, tokens->metadata);
      request.continuation = std::move(*continuation);
      return request;
    }
    std::optional<TokenSet> tokens = tokens_from_continuation(input.continuation, detail::continuation_step);
    if (!tokens) {
      return Failure{CONNECTOR_STATUS_INVALID_INPUT, "bad_continuation",
                     "the continuation is not the one this plugin wrote for the check call"};
    }
    Step<Account> account = read_account(*response);
    if (const auto* failure = std::get_if<Failure>(&account)) return *failure;
    tokens->account_id = std::get<Account>(account).account_id;
    tokens->account_name = std::get<Account>(account).account_name;
    return std::move(*tokens);
  }

  Step<TokenSet> refresh(const FlowInput& input, const HttpResponse* response) const override {
    if (!definition_->token.refresh_supported) return unsupported("refresh");
    if (response == nullptr) {
      if (input.refresh_token.empty()) throw InvalidInput("refresh_token is required");
      const TokenEndpoint& token = definition_->token;
      return authenticated_post(detail::expand(token.refresh_url.empty() ? token.url : token.refresh_url,
                                               values_for(input.options, input.metadata), *definition_),
                                {{"grant_type", "refresh_token"}, {"refresh_token", input.refresh_token}},
                                token.client_authentication, token.body);
    }
    Step<TokenSet> step = read_token_answer(*response);
    auto* tokens = std::get_if<TokenSet>(&step);
    if (tokens != nullptr) {
      // What the refresh answer says anew (Salesforce sends instance_url again) over what was kept.
      tokens->metadata = input.metadata;
      if (auto failure = read_metadata(*response, {}, tokens->metadata)) return *failure;
    }
    if (tokens != nullptr && definition_->token.refresh_token_rotates && !tokens->refresh_token) {
      // The one the host holds was used up by this call: say so rather than keep a dead one.
      return Failure{CONNECTOR_STATUS_PROVIDER_REJECTED, "refresh_token_missing",
                     "the provider rotates refresh tokens, but its refresh answer carried none"};
    }
    return step;
  }

  Step<Done> revoke(const FlowInput& input, const HttpResponse* response) const override {
    if (!definition_->revocation) return unsupported("revoke");
    const Revocation& revocation = *definition_->revocation;
    if (response == nullptr && revocation.style == RevocationStyle::bearer) {
      if (input.access_token.empty()) throw InvalidInput("access_token is required");
      HttpRequest request;
      request.url = detail::expand(revocation.url, values_for(input.options, input.metadata), *definition_);
      request.headers = {{"Accept", "application/json"}, {"Authorization", "Bearer " + input.access_token}};
      return request;
    }
    if (response == nullptr) {
      const bool refresh = revocation.token == RevokedToken::refresh_token && !input.refresh_token.empty();
      const std::string& token = refresh ? input.refresh_token : input.access_token;
      if (token.empty()) throw InvalidInput("a token to revoke is required");
      Params form{{"token", token}, {"token_type_hint", refresh ? "refresh_token" : "access_token"}};
      return authenticated_post(detail::expand(revocation.url, values_for(input.options, input.metadata), *definition_),
                                std::move(form), revocation.client_authentication, revocation.body);
    }
    // RFC 7009 2.2: 200 whether or not the token was still valid.
    if (response->status >= 200 && response->status < 300) return Done{};
    // A bearer revocation of a token already dead: nothing left to revoke.
    if (revocation.style == RevocationStyle::bearer && response->status == 401) return Done{};
    if (const auto body = parse_token_body(*response)) {
      if (auto failure = oauth_error(*body)) return *failure;
    }
    return unusable_answer(*response, "the revocation endpoint refused the request");
  }

  Step<Account> check(const FlowInput& input, const HttpResponse* response) const override {
    if (!definition_->check) return unsupported("check");
    if (response == nullptr) {
      if (input.access_token.empty()) throw InvalidInput("access_token is required");
      return check_request(input.access_token, input.options, input.metadata);
    }
    return read_account(*response);
  }

private:
  // The values a template may name: settings, the flow's options and, after the grant, its
  // metadata (kept by the host, which hands it back; checked again, like everything it carries).
  std::map<std::string, std::string> values_for(const nlohmann::json& options, const Metadata& metadata = {}) const {
    std::map<std::string, std::string> values = settings_values_;
    detail::read_values(*definition_, VariableSource::flow_options, options, "flow option", values);
    for (const Variable& variable : definition_->variables) {
      const auto kept = metadata.find(variable.name);
      const bool from_grant = variable.is_metadata() ||
                              (variable.source == VariableSource::flow_options && values.count(variable.name) == 0);
      if (!from_grant || kept == metadata.end()) continue;
      if (auto value = detail::checked_value(variable, kept->second)) values[variable.name] = std::move(*value);
    }
    return values;
  }

  // The flow options that name the grant's host (Shopify's shop): later calls, which have no
  // flow, find them with the grant's metadata.
  void keep_flow_hosts(const nlohmann::json& options, Metadata& metadata) const {
    std::map<std::string, std::string> values;
    detail::read_values(*definition_, VariableSource::flow_options, options, "flow option", values);
    for (const std::string* url : definition_->urls()) {
      const auto label = detail::flow_label(*url, *definition_);
      if (!label) continue;
      if (const auto value = values.find(label->variable); value != values.end())
        metadata[label->variable] = value->second;
    }
  }

  // Adds to `metadata` what the definition keeps from a token answer and the redirect's
  // parameters; a value that is not of its kind is a failure (never a URL bent by it).
  std::optional<Failure> read_metadata(const HttpResponse& response, const Metadata& callback_parameters,
                                       Metadata& metadata) const {
    std::optional<nlohmann::json> answer;
    for (const Variable& variable : definition_->variables) {
      std::string text;
      if (variable.source == VariableSource::token_answer) {
        if (!answer) answer = parse_token_body(response);
        if (answer) text = string_at(*answer, variable.at);
      } else if (variable.source == VariableSource::callback) {
        const auto given = callback_parameters.find(variable.parameter);
        if (given != callback_parameters.end()) text = given->second;
      }
      if (text.empty()) continue;
      std::optional<std::string> value = detail::checked_value(variable, text);
      if (!value) {
        return Failure{CONNECTOR_STATUS_PROVIDER_REJECTED, "bad_metadata",
                       std::string("the provider's ") + variable.name + " (from " +
                           detail::source_name(variable.source) + ") is not " + detail::kind_rule(variable)};
      }
      metadata[variable.name] = std::move(*value);
    }
    return std::nullopt;
  }

  HttpRequest authenticated_post(std::string url, Params form, ClientAuthentication authentication,
                                 BodyEncoding body) const {
    HttpRequest request;
    request.url = std::move(url);
    request.headers.emplace_back("Accept", definition_->token.accept);
    if (authentication == ClientAuthentication::secret_basic) {
      // RFC 6749 2.3.1: each part form-encoded before the base64.
      request.headers.emplace_back("Authorization", "Basic " + base64_encode(form_encode_component(client_id_) + ":" +
                                                                             form_encode_component(client_secret_)));
    } else {
      form.emplace_back("client_id", client_id_);
      form.emplace_back("client_secret", client_secret_);
    }
    if (body == BodyEncoding::query) {
      request.url = with_query(request.url, form);
    } else if (body == BodyEncoding::json) {
      nlohmann::json object = nlohmann::json::object();
      for (const auto& [name, value] : form)
        object[name] = value;
      request.headers.emplace_back("Content-Type", "application/json");
      request.body = object.dump();
    } else {
      request.headers.emplace_back("Content-Type", "application/x-www-form-urlencoded");
      request.body = form_encode(form);
    }
    return request;
  }

  HttpRequest token_request(Params form, const nlohmann::json& options) const {
    const TokenEndpoint& token = definition_->token;
    return authenticated_post(detail::expand(token.url, values_for(options), *definition_), std::move(form),
                              token.client_authentication, token.body);
  }

  Step<TokenSet> read_token_answer(const HttpResponse& response) const {
    Step<TokenSet> step = parse_token_response(response, definition_->token.answer);
    if (auto* failure = std::get_if<Failure>(&step);
        failure != nullptr && failure->status != CONNECTOR_STATUS_TRANSIENT) {
      const auto& gone = definition_->token.grant_gone_errors;
      if (std::find(gone.begin(), gone.end(), failure->code) != gone.end())
        failure->status = CONNECTOR_STATUS_GRANT_INVALID;
    }
    if (auto* tokens = std::get_if<TokenSet>(&step); tokens != nullptr && !tokens->expires_in) {
      tokens->expires_in = definition_->token.default_expires_in;
    }
    return step;
  }

  HttpRequest check_request(const std::string& access_token, const nlohmann::json& options,
                            const Metadata& metadata) const {
    const Check& check = *definition_->check;
    HttpRequest request;
    request.method = check.method;
    request.url = detail::expand(check.url, values_for(options, metadata), *definition_);
    request.headers = {
        {"Accept", "application/json"},
        {check.token_header, check.authorization.empty() ? access_token : check.authorization + " " + access_token}};
    request.headers.insert(request.headers.end(), check.headers.begin(), check.headers.end());
    if (check.method == "POST") {
      request.headers.emplace_back("Content-Type", "application/json");
      request.body = check.body.empty() ? "null" : check.body;
    }
    return request;
  }

  Step<Account> read_account(const HttpResponse& response) const {
    const auto& dead_token = definition_->check->grant_gone_statuses;
    if (std::find(dead_token.begin(), dead_token.end(), response.status) != dead_token.end()) {
      return Failure{CONNECTOR_STATUS_GRANT_INVALID, "unauthorized",
                     "the check call's token was refused (HTTP " + std::to_string(response.status) + ")"};
    }
    if (response.status < 200 || response.status >= 300) {
      return unusable_answer(response, "the check call failed");
    }
    const nlohmann::json body = nlohmann::json::parse(response.body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded()) return unusable_answer(response, "the check call's answer is not JSON");
    const Check& check = *definition_->check;
    if (check.error_at) {
      const std::string error = sanitize_description(string_at(body, *check.error_at));
      if (!error.empty()) {
        const bool gone = std::find(check.grant_gone_errors.begin(), check.grant_gone_errors.end(), error) !=
                          check.grant_gone_errors.end();
        return Failure{gone ? CONNECTOR_STATUS_GRANT_INVALID : classify_oauth_error(error), error,
                       "the check call answered " + error};
      }
    }
    Account account;
    account.account_id = sanitize_description(string_at(body, definition_->check->account_id), 200);
    if (account.account_id.empty()) {
      return unusable_answer(response, "the check call's answer has no account id where the definition says");
    }
    if (!definition_->check->account_name.empty()) {
      account.account_name = sanitize_description(string_at(body, definition_->check->account_name), 200);
    }
    return account;
  }

  std::shared_ptr<const Definition> definition_;
  std::string client_id_;
  std::string client_secret_;
  std::vector<std::string> scopes_;
  std::map<std::string, std::string> settings_values_;
  std::vector<std::string> hosts_;
  std::string issuer_;
};

} // namespace connector::sdk::declarative

#endif // CONNECTOR_DECLARATIVE_PROVIDER_HPP
