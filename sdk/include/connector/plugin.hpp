// Turns an IOAuthProvider class into a plugin: CONNECTOR_REGISTER_PROVIDER(Class) defines the
// one exported C function, connector_plugin_negotiate, and C thunks for every table entry.
// Each thunk converts between the C structs of abi.h and the C++ types of provider.hpp and
// catches everything, so no exception ever crosses the library boundary.
// Include this header in exactly one source file of a plugin.
#ifndef CONNECTOR_PLUGIN_HPP
#define CONNECTOR_PLUGIN_HPP

#include <connector/abi.h>
#include <connector/provider.hpp>

#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <string_view>
#include <type_traits>

namespace connector::sdk::detail {

inline std::string to_string(connector_str s) {
  return s.data == nullptr ? std::string() : std::string(s.data, s.size);
}
inline connector_str view(const std::string& s) { return connector_str{s.data(), s.size()}; }

// The host table, kept for logging; set once during negotiation.
inline const connector_host_api*& host_table() {
  static const connector_host_api* table = nullptr;
  return table;
}

// Reads a struct the other side filled, tolerating an older (smaller) or newer (larger)
// layout: copies the common prefix into a zeroed local.
template <typename T> T read_sized(const T* source) {
  T copy;
  std::memset(&copy, 0, sizeof copy);
  if (source != nullptr) {
    const std::size_t size = source->struct_size < sizeof(T) ? source->struct_size : sizeof(T);
    std::memcpy(&copy, source, size);
  }
  return copy;
}

class Writer {
public:
  explicit Writer(const connector_writer* out) : out_(read_sized(out)) {}

  void set(uint32_t field, const std::string& value) const {
    if (out_.set_string != nullptr) out_.set_string(out_.context, field, view(value));
  }
  void set(uint32_t field, int64_t value) const {
    if (out_.set_integer != nullptr) out_.set_integer(out_.context, field, value);
  }
  void header(const std::string& name, const std::string& value) const {
    if (out_.add_request_header != nullptr) out_.add_request_header(out_.context, view(name), view(value));
  }
  connector_status fail(connector_status status, const std::string& code, const std::string& description) const {
    set(CONNECTOR_FIELD_ERROR_CODE, code);
    set(CONNECTOR_FIELD_ERROR_DESCRIPTION, description);
    return status;
  }

private:
  connector_writer out_;
};

// A JSON object of strings from the host (empty from a 1.0 host, which has no such member);
// members that are not strings are left out.
inline Metadata read_metadata(connector_str text) {
  Metadata metadata;
  if (text.size == 0) return metadata;
  const nlohmann::json object = nlohmann::json::parse(to_string(text), nullptr, /*allow_exceptions=*/false);
  if (!object.is_object()) return metadata;
  for (const auto& item : object.items()) {
    if (item.value().is_string()) metadata.emplace(item.key(), item.value().get<std::string>());
  }
  return metadata;
}

inline FlowInput read_input(const connector_flow_input* raw) {
  const connector_flow_input in = read_sized(raw);
  FlowInput input;
  input.redirect_uri = to_string(in.redirect_uri);
  input.state = to_string(in.state);
  input.code_challenge = to_string(in.code_challenge);
  input.code_verifier = to_string(in.code_verifier);
  input.code = to_string(in.code);
  input.access_token = to_string(in.access_token);
  input.refresh_token = to_string(in.refresh_token);
  input.continuation = to_string(in.continuation);
  input.metadata = read_metadata(in.metadata_json);
  input.callback_parameters = read_metadata(in.callback_parameters_json);
  const std::string options = to_string(in.options_json);
  // Most flows carry no options: "{}" is the default object, without running a parser.
  if (!options.empty() && options != "{}") {
    input.options = nlohmann::json::parse(options, nullptr, /*allow_exceptions=*/false);
    if (!input.options.is_object()) throw InvalidInput("flow options are not a JSON object");
  }
  return input;
}

inline std::unique_ptr<HttpResponse> read_response(const connector_http_response* raw) {
  if (raw == nullptr) return nullptr;
  const connector_http_response in = read_sized(raw);
  auto response = std::make_unique<HttpResponse>();
  response->status = in.status;
  response->body = to_string(in.body);
  for (std::size_t i = 0; i < in.header_count && in.headers != nullptr; ++i) {
    response->headers.emplace_back(to_string(in.headers[i].name), to_string(in.headers[i].value));
  }
  return response;
}

inline void write_request(const Writer& out, const HttpRequest& request) {
  out.set(CONNECTOR_FIELD_REQUEST_METHOD, request.method);
  out.set(CONNECTOR_FIELD_REQUEST_URL, request.url);
  for (const auto& [name, value] : request.headers)
    out.header(name, value);
  out.set(CONNECTOR_FIELD_REQUEST_BODY, request.body);
  if (!request.continuation.empty()) out.set(CONNECTOR_FIELD_CONTINUATION, request.continuation);
}

inline void write_result(const Writer& out, const TokenSet& tokens) {
  out.set(CONNECTOR_FIELD_ACCESS_TOKEN, tokens.access_token);
  if (tokens.refresh_token) out.set(CONNECTOR_FIELD_REFRESH_TOKEN, *tokens.refresh_token);
  if (!tokens.token_type.empty()) out.set(CONNECTOR_FIELD_TOKEN_TYPE, tokens.token_type);
  for (const auto& scope : tokens.granted_scopes)
    out.set(CONNECTOR_FIELD_GRANTED_SCOPE, scope);
  if (tokens.expires_in) out.set(CONNECTOR_FIELD_EXPIRES_IN, *tokens.expires_in);
  if (tokens.refresh_token_expires_in)
    out.set(CONNECTOR_FIELD_REFRESH_TOKEN_EXPIRES_IN, *tokens.refresh_token_expires_in);
  if (!tokens.account_id.empty()) out.set(CONNECTOR_FIELD_ACCOUNT_ID, tokens.account_id);
  if (!tokens.account_name.empty()) out.set(CONNECTOR_FIELD_ACCOUNT_NAME, tokens.account_name);
  if (!tokens.metadata.empty()) out.set(CONNECTOR_FIELD_METADATA, nlohmann::json(tokens.metadata).dump());
}

inline void write_result(const Writer& out, const Account& account) {
  if (!account.account_id.empty()) out.set(CONNECTOR_FIELD_ACCOUNT_ID, account.account_id);
  if (!account.account_name.empty()) out.set(CONNECTOR_FIELD_ACCOUNT_NAME, account.account_name);
  for (const auto& scope : account.granted_scopes)
    out.set(CONNECTOR_FIELD_GRANTED_SCOPE, scope);
}

inline void write_result(const Writer&, const Done&) {}

template <typename Result> connector_status write_step(const Writer& out, const Step<Result>& step) {
  if (const auto* request = std::get_if<HttpRequest>(&step)) {
    write_request(out, *request);
    return CONNECTOR_STATUS_SEND_REQUEST;
  }
  if (const auto* failure = std::get_if<Failure>(&step)) {
    return out.fail(failure->status, failure->code, failure->description);
  }
  write_result(out, std::get<Result>(step));
  return CONNECTOR_STATUS_OK;
}

// Runs `body` and turns every exception into a status with a message.
template <typename Body> connector_status guarded(const connector_writer* raw_out, Body&& body) noexcept {
  try {
    return body(Writer(raw_out));
  } catch (const InvalidInput& e) {
    try {
      return Writer(raw_out).fail(CONNECTOR_STATUS_INVALID_INPUT, "invalid_input", e.what());
    } catch (...) {
      return CONNECTOR_STATUS_INVALID_INPUT;
    }
  } catch (const std::exception& e) {
    try {
      return Writer(raw_out).fail(CONNECTOR_STATUS_INTERNAL_ERROR, "plugin_exception", e.what());
    } catch (...) {
      return CONNECTOR_STATUS_INTERNAL_ERROR;
    }
  } catch (...) {
    return CONNECTOR_STATUS_INTERNAL_ERROR;
  }
}

inline const IOAuthProvider& self(const connector_provider* provider) {
  return *reinterpret_cast<const IOAuthProvider*>(provider);
}

// provider_create's contract, whatever makes the instance from the settings object: the
// settings parsed, the instance's allowed hosts and issuer written, the handle handed over.
template <typename Make>
connector_status create_instance(connector_str settings_json, connector_provider** out_provider,
                                 const connector_writer* out, Make&& make) noexcept {
  if (out_provider == nullptr) return CONNECTOR_STATUS_INVALID_INPUT;
  *out_provider = nullptr;
  return guarded(out, [&](const Writer& w) {
    const std::string text = to_string(settings_json);
    nlohmann::json settings =
        text.empty() ? nlohmann::json::object() : nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (!settings.is_object()) throw InvalidInput("settings are not a JSON object");
    std::unique_ptr<IOAuthProvider> instance = make(settings);
    if (!instance) throw InvalidInput("the provider refused its settings");
    for (const auto& host : instance->allowed_hosts())
      w.set(CONNECTOR_FIELD_ALLOWED_HOST, host);
    const std::string issuer = instance->issuer();
    if (!issuer.empty()) w.set(CONNECTOR_FIELD_ISSUER, issuer);
    *out_provider = reinterpret_cast<connector_provider*>(instance.release());
    return CONNECTOR_STATUS_OK;
  });
}

template <typename Provider> struct Thunks {
  static connector_status describe(const connector_writer* out) noexcept {
    return guarded(out, [](const Writer& w) {
      w.set(CONNECTOR_FIELD_DESCRIPTOR, to_json(Provider::describe()).dump());
      return CONNECTOR_STATUS_OK;
    });
  }

  static connector_status provider_create(connector_str settings_json, connector_provider** out_provider,
                                          const connector_writer* out) noexcept {
    return create_instance(settings_json, out_provider, out,
                           [](const nlohmann::json& settings) { return Provider::create(settings); });
  }

  static void provider_destroy(connector_provider* provider) noexcept {
    delete reinterpret_cast<IOAuthProvider*>(provider); // destructors must not throw
  }

  static connector_status authorization_url(const connector_provider* provider, const connector_flow_input* input,
                                            const connector_writer* out) noexcept {
    return guarded(out, [&](const Writer& w) {
      w.set(CONNECTOR_FIELD_AUTHORIZATION_URL, self(provider).authorization_url(read_input(input)));
      return CONNECTOR_STATUS_OK;
    });
  }

  template <typename Result, Step<Result> (IOAuthProvider::*Operation)(const FlowInput&, const HttpResponse*) const>
  static connector_status operation(const connector_provider* provider, const connector_flow_input* input,
                                    const connector_http_response* response, const connector_writer* out) noexcept {
    return guarded(out, [&](const Writer& w) {
      const auto answer = read_response(response);
      return write_step(w, (self(provider).*Operation)(read_input(input), answer.get()));
    });
  }

  static connector_status negotiate(const connector_host_api* host, connector_plugin_api* plugin_out) noexcept {
    if (host == nullptr || plugin_out == nullptr) return CONNECTOR_STATUS_REFUSED;
    if (host->abi_major != CONNECTOR_ABI_VERSION_MAJOR) return CONNECTOR_STATUS_REFUSED;
    host_table() = host;

    connector_plugin_api table;
    std::memset(&table, 0, sizeof table);
    table.abi_major = CONNECTOR_ABI_VERSION_MAJOR;
    table.abi_minor = CONNECTOR_ABI_VERSION_MINOR;
    table.describe = &describe;
    table.provider_create = &provider_create;
    table.provider_destroy = &provider_destroy;
    table.authorization_url = &authorization_url;
    table.exchange_code = &operation<TokenSet, &IOAuthProvider::exchange_code>;
    table.refresh = &operation<TokenSet, &IOAuthProvider::refresh>;
    table.revoke = &operation<Done, &IOAuthProvider::revoke>;
    table.check = &operation<Account, &IOAuthProvider::check>;

    // Fill no more than the host has room for: an older host has a smaller table.
    const std::size_t size = plugin_out->struct_size < sizeof table ? plugin_out->struct_size : sizeof table;
    table.struct_size = static_cast<uint32_t>(size);
    std::memcpy(plugin_out, &table, size);
    return CONNECTOR_STATUS_OK;
  }
};

} // namespace connector::sdk::detail

namespace connector::sdk {

// Logs through the host (nothing before negotiation). Never pass a secret.
inline void log(int32_t level, std::string_view message) noexcept {
  const connector_host_api* host = detail::host_table();
  if (host != nullptr && host->log != nullptr)
    host->log(host->context, level, connector_str{message.data(), message.size()});
}

} // namespace connector::sdk

// Defines the plugin's one exported symbol for the provider class `ProviderClass`.
#define CONNECTOR_REGISTER_PROVIDER(ProviderClass)                                                                     \
  static_assert(std::is_base_of_v<::connector::sdk::IOAuthProvider, ProviderClass>,                                    \
                #ProviderClass " must derive from connector::sdk::IOAuthProvider");                                    \
  extern "C" CONNECTOR_PLUGIN_EXPORT connector_status connector_plugin_negotiate(const connector_host_api* host,       \
                                                                                 connector_plugin_api* plugin_out) {   \
    return ::connector::sdk::detail::Thunks<ProviderClass>::negotiate(host, plugin_out);                               \
  }

#endif // CONNECTOR_PLUGIN_HPP
