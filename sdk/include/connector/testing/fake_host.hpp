// The SDK's test kit: a host in one header, for unit-testing a provider plugin without the
// service. It goes through the same C ABI as the real host: it calls the plugin's negotiation
// function with a host table, copies the plugin table it gets back (min of the two sizes,
// members past the plugin's struct_size read as absent), checks the required entries, and
// collects every output through connector_writer callbacks. Network operations run step by
// step: each SEND_REQUEST is recorded and answered from canned responses the test supplies.
//
//   #include <connector/testing/fake_host.hpp>
//   using namespace connector::sdk::testing;
//
//   FakeHost host = FakeHost::load("plugins/example-oauth.so");   // a built module, or
//   FakeHost host(&connector_plugin_negotiate);                   // a plugin linked in the test
//   Provider provider = host.create({{"client_id", "id"}, ...});
//   host.respond(200, R"({"access_token":"at","token_type":"Bearer"})");
//   host.respond(200, R"({"sub":"42"})");
//   CallResult tokens = provider.exchange_code(input);   // runs both steps
//   host.requests();                                      // what the plugin asked to send
//
// Like the real host, the kit refuses requests to hosts the provider did not declare and
// operations that need more than four requests. Unlike it, it validates neither settings nor
// flow options against the descriptor's schemas, and does no I/O at all.
//
// Header-only, C++17, no test framework: works with GoogleTest, Catch2 or plain asserts. Link
// the CMake target connector::sdk_testing (it adds the platform's dynamic loader library).
#ifndef CONNECTOR_TESTING_FAKE_HOST_HPP
#define CONNECTOR_TESTING_FAKE_HOST_HPP

#include <connector/abi.h>
#include <connector/encoding.hpp>
#include <connector/plugin.hpp>
#include <connector/provider.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#if defined(_WIN32)
#ifndef NOMINMAX
#define NOMINMAX
#define CONNECTOR_TESTING_UNDEF_NOMINMAX
#endif
#include <windows.h>
#ifdef CONNECTOR_TESTING_UNDEF_NOMINMAX
#undef NOMINMAX
#undef CONNECTOR_TESTING_UNDEF_NOMINMAX
#endif
#else
#include <dlfcn.h>
#endif

namespace connector::sdk::testing {

// RFC 7636 appendix B: a PKCE verifier and its S256 challenge. The host makes these; a test
// passes them in FlowInput::code_challenge (consent URL) and code_verifier (code exchange).
inline constexpr const char* kPkceVerifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
inline constexpr const char* kPkceChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbwJr2OSs0yM";

// The least table a 1.x host accepts (abi.h).
inline constexpr std::size_t kAbi10PluginTableSize = CONNECTOR_PLUGIN_API_1_0_SIZE;

// Lower-case names for statuses, as the real host prints them ("grant_invalid", ...).
inline const char* status_name(connector_status status) {
  switch (status) {
  case CONNECTOR_STATUS_OK: return "ok";
  case CONNECTOR_STATUS_SEND_REQUEST: return "send_request";
  case CONNECTOR_STATUS_GRANT_INVALID: return "grant_invalid";
  case CONNECTOR_STATUS_CLIENT_INVALID: return "client_invalid";
  case CONNECTOR_STATUS_PROVIDER_REJECTED: return "provider_rejected";
  case CONNECTOR_STATUS_TRANSIENT: return "transient";
  case CONNECTOR_STATUS_INVALID_INPUT: return "invalid_input";
  case CONNECTOR_STATUS_UNSUPPORTED: return "unsupported";
  case CONNECTOR_STATUS_INTERNAL_ERROR: return "internal_error";
  case CONNECTOR_STATUS_REFUSED: return "refused";
  default: return "unknown_status";
  }
}

// Everything a plugin wrote through the writer during one call (or, for the operations of
// Provider, during the last step of a run), read the way the host reads it.
struct CallResult {
  connector_status status = CONNECTOR_STATUS_INTERNAL_ERROR;
  std::string error_code;
  std::string error_description;
  std::string descriptor_json;            // describe
  std::vector<std::string> allowed_hosts; // provider_create
  std::string issuer;                     // provider_create
  std::string authorization_url;          // authorization_url
  HttpRequest request;                    // with SEND_REQUEST: the request and its continuation
  std::string access_token;
  std::optional<std::string> refresh_token;
  std::string token_type;
  std::vector<std::string> granted_scopes;
  std::optional<int64_t> expires_in;
  std::optional<int64_t> refresh_token_expires_in;
  std::string account_id;
  std::string account_name;
  Metadata metadata; // CONNECTOR_FIELD_METADATA, as the object of strings it must be
  // Field numbers the plugin wrote that this SDK does not know, or wrote with the wrong type
  // (a string field through set_integer, say). The real host ignores them.
  std::vector<uint32_t> unknown_fields;
  int requests_sent = 0; // Provider operations: requests answered during the run

  bool ok() const { return status == CONNECTOR_STATUS_OK; }
  bool sends_request() const { return status == CONNECTOR_STATUS_SEND_REQUEST; }
  // "ok", or "grant_invalid invalid_grant: The code expired.": for assertion messages.
  std::string summary() const {
    std::string text = status_name(status);
    if (!error_code.empty()) text += " " + error_code;
    if (!error_description.empty()) text += ": " + error_description;
    return text;
  }
};

// A log line the plugin wrote through the host table.
struct LogLine {
  int32_t level = CONNECTOR_LOG_INFO;
  std::string message;
};

// How the fake host presents itself. The defaults are this SDK's ABI and the real host's limits.
struct HostOptions {
  uint16_t abi_major = CONNECTOR_ABI_VERSION_MAJOR;
  uint16_t abi_minor = CONNECTOR_ABI_VERSION_MINOR;
  // Bytes of plugin table offered in negotiation. More than sizeof(connector_plugin_api) plays
  // a newer host with a longer table: the plugin must fill only what it knows.
  uint32_t plugin_table_room = static_cast<uint32_t>(sizeof(connector_plugin_api));
  // Refuse a request to a host the provider instance did not declare (the egress allow-list).
  bool enforce_allowed_hosts = true;
  // Requests one operation may ask for; one more is a plugin bug.
  int max_requests = 4;
};

// The module was refused at load, for the reason in what() (the real host's wording).
class PluginRefused : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

enum class Operation { exchange_code, refresh, revoke, check };

inline const char* operation_name(Operation operation) {
  switch (operation) {
  case Operation::exchange_code: return "exchange_code";
  case Operation::refresh: return "refresh";
  case Operation::revoke: return "revoke";
  case Operation::check: return "check";
  }
  return "operation";
}

// The query parameters of a URL, decoded (a consent URL's client_id, state, ...).
inline Params query_params(const std::string& url) {
  const std::size_t question = url.find('?');
  if (question == std::string::npos) return {};
  const std::size_t hash = url.find('#', question);
  return form_decode(url.substr(question + 1, hash == std::string::npos ? std::string::npos : hash - question - 1));
}

// One parameter of a URL's query or of a form body; empty when absent.
inline std::string query_param(const std::string& url, const std::string& name) {
  return find_param(query_params(url), name).value_or("");
}
inline std::string form_param(const std::string& body, const std::string& name) {
  return find_param(form_decode(body), name).value_or("");
}

namespace detail {

inline connector_str view(const std::string& text) { return connector_str{text.data(), text.size()}; }
inline std::string copy(connector_str value) {
  return value.data == nullptr ? std::string() : std::string(value.data, value.size);
}

// The host table and the log lines written through it. A plugin keeps the host table until it
// is unloaded, and a plugin linked into the test executable is never unloaded, so these live
// until the process ends: one small record per FakeHost, never freed, never dangling.
struct HostRecord {
  connector_host_api table{};
  std::mutex mutex;
  std::vector<LogLine> lines;
};

inline HostRecord& new_host_record() {
  static std::mutex mutex;
  static auto* records = new std::deque<HostRecord>(); // reachable until exit, on purpose
  std::lock_guard<std::mutex> lock(mutex);
  return records->emplace_back();
}

inline void log_thunk(void* context, int32_t level, connector_str message) {
  auto* record = static_cast<HostRecord*>(context);
  if (record == nullptr) return;
  try {
    std::lock_guard<std::mutex> lock(record->mutex);
    record->lines.push_back(LogLine{level, copy(message)});
  } catch (...) { // a C caller must never see an exception
  }
}

// A loaded module; closing it is the last thing that happens after every provider is gone.
class Library {
public:
  Library() = default;
  Library(const Library&) = delete;
  Library& operator=(const Library&) = delete;
  ~Library() { close(); }

  // Loads `path` and finds the negotiation symbol; throws PluginRefused.
  connector_negotiate_fn open(const std::string& path) {
#if defined(_WIN32)
    HMODULE module = ::LoadLibraryA(path.c_str());
    if (module == nullptr) {
      throw PluginRefused(path + ": not a loadable shared library (error " + std::to_string(::GetLastError()) + ")");
    }
    handle_ = module;
    FARPROC symbol = ::GetProcAddress(module, CONNECTOR_NEGOTIATE_SYMBOL);
    void* address = nullptr;
    static_assert(sizeof symbol == sizeof address, "function and object pointers differ in size");
    std::memcpy(&address, &symbol, sizeof address);
#else
    handle_ = ::dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle_ == nullptr) {
      // glibc keeps dlerror()'s message per thread.
      const char* reason = ::dlerror(); // NOLINT(concurrency-mt-unsafe)
      throw PluginRefused(path + ": not a loadable shared library (" + (reason ? reason : "dlopen failed") + ")");
    }
    void* address = ::dlsym(handle_, CONNECTOR_NEGOTIATE_SYMBOL);
#endif
    if (address == nullptr) throw PluginRefused(path + ": does not export " + CONNECTOR_NEGOTIATE_SYMBOL);
    connector_negotiate_fn negotiate = nullptr;
    // POSIX guarantees that a symbol's address converts to a function pointer; memcpy says so
    // without a cast that ISO C++ only conditionally supports.
    static_assert(sizeof negotiate == sizeof address, "function and object pointers differ in size");
    std::memcpy(&negotiate, &address, sizeof negotiate);
    return negotiate;
  }

private:
  void close() {
    if (handle_ == nullptr) return;
#if defined(_WIN32)
    ::FreeLibrary(static_cast<HMODULE>(handle_));
#else
    ::dlclose(handle_);
#endif
    handle_ = nullptr;
  }

  void* handle_ = nullptr;
};

// The writer handed to every call: each callback copies into a CallResult.
class Collector {
public:
  Collector() {
    table_.struct_size = sizeof table_;
    table_.context = &result_;
    table_.set_string = &set_string;
    table_.set_integer = &set_integer;
    table_.add_request_header = &add_request_header;
  }
  Collector(const Collector&) = delete;
  Collector& operator=(const Collector&) = delete;

  const connector_writer* table() const { return &table_; }
  CallResult take(connector_status status) {
    result_.status = status;
    return std::move(result_);
  }

private:
  static void set_string(void* context, uint32_t field, connector_str value) noexcept {
    auto& result = *static_cast<CallResult*>(context);
    try {
      switch (field) {
      case CONNECTOR_FIELD_ERROR_CODE: result.error_code = copy(value); break;
      case CONNECTOR_FIELD_ERROR_DESCRIPTION: result.error_description = copy(value); break;
      case CONNECTOR_FIELD_DESCRIPTOR: result.descriptor_json = copy(value); break;
      case CONNECTOR_FIELD_ALLOWED_HOST: result.allowed_hosts.push_back(copy(value)); break;
      case CONNECTOR_FIELD_ISSUER: result.issuer = copy(value); break;
      case CONNECTOR_FIELD_AUTHORIZATION_URL: result.authorization_url = copy(value); break;
      case CONNECTOR_FIELD_REQUEST_METHOD: result.request.method = copy(value); break;
      case CONNECTOR_FIELD_REQUEST_URL: result.request.url = copy(value); break;
      case CONNECTOR_FIELD_REQUEST_BODY: result.request.body = copy(value); break;
      case CONNECTOR_FIELD_CONTINUATION: result.request.continuation = copy(value); break;
      case CONNECTOR_FIELD_ACCESS_TOKEN: result.access_token = copy(value); break;
      case CONNECTOR_FIELD_REFRESH_TOKEN: result.refresh_token = copy(value); break;
      case CONNECTOR_FIELD_TOKEN_TYPE: result.token_type = copy(value); break;
      case CONNECTOR_FIELD_GRANTED_SCOPE: result.granted_scopes.push_back(copy(value)); break;
      case CONNECTOR_FIELD_ACCOUNT_ID: result.account_id = copy(value); break;
      case CONNECTOR_FIELD_ACCOUNT_NAME: result.account_name = copy(value); break;
      case CONNECTOR_FIELD_METADATA: {
        const nlohmann::json object = nlohmann::json::parse(copy(value), nullptr, /*allow_exceptions=*/false);
        if (!object.is_object()) throw std::invalid_argument("metadata is not a JSON object");
        result.metadata = object.get<Metadata>();
        break;
      }
      default: result.unknown_fields.push_back(field); break;
      }
    } catch (...) {
    }
  }

  static void set_integer(void* context, uint32_t field, int64_t value) noexcept {
    auto& result = *static_cast<CallResult*>(context);
    try {
      switch (field) {
      case CONNECTOR_FIELD_EXPIRES_IN: result.expires_in = value; break;
      case CONNECTOR_FIELD_REFRESH_TOKEN_EXPIRES_IN: result.refresh_token_expires_in = value; break;
      default: result.unknown_fields.push_back(field); break;
      }
    } catch (...) {
    }
  }

  static void add_request_header(void* context, connector_str name, connector_str value) noexcept {
    try {
      static_cast<CallResult*>(context)->request.headers.emplace_back(copy(name), copy(value));
    } catch (...) {
    }
  }

  CallResult result_;
  connector_writer table_{};
};

// A FlowInput's members that cross as JSON text.
struct InputTexts {
  explicit InputTexts(const FlowInput& input)
      : options(input.options.is_null() ? std::string() : input.options.dump()),
        metadata(input.metadata.empty() ? std::string() : nlohmann::json(input.metadata).dump()),
        callback_parameters(input.callback_parameters.empty() ? std::string()
                                                              : nlohmann::json(input.callback_parameters).dump()) {}
  std::string options;
  std::string metadata;
  std::string callback_parameters;
};

// The C view of a FlowInput; points into `input` and `texts`, which must outlive it.
inline connector_flow_input to_c(const FlowInput& input, const InputTexts& texts) {
  connector_flow_input raw;
  std::memset(&raw, 0, sizeof raw);
  raw.struct_size = sizeof raw;
  raw.redirect_uri = view(input.redirect_uri);
  raw.state = view(input.state);
  raw.code_challenge = view(input.code_challenge);
  raw.code_verifier = view(input.code_verifier);
  raw.code = view(input.code);
  raw.access_token = view(input.access_token);
  raw.refresh_token = view(input.refresh_token);
  raw.options_json = view(texts.options);
  raw.continuation = view(input.continuation);
  raw.metadata_json = view(texts.metadata);
  raw.callback_parameters_json = view(texts.callback_parameters);
  return raw;
}

inline bool is_valid_slug(const std::string& slug) {
  if (slug.empty() || slug.size() > 64 || slug.front() < 'a' || slug.front() > 'z') return false;
  return std::all_of(slug.begin(), slug.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'; });
}

// The real host's descriptor rules; empty when the document passes, else why it does not.
inline std::string descriptor_problem(const nlohmann::json& doc) {
  if (!doc.is_object()) return "not a JSON object";
  for (const char* key : {"slug", "display_name"}) {
    if (!doc.contains(key) || !doc[key].is_string()) return std::string("missing or non-string \"") + key + "\"";
  }
  for (const char* key : {"version", "documentation_url"}) {
    if (doc.contains(key) && !doc[key].is_null() && !doc[key].is_string()) {
      return std::string("\"") + key + "\" is not a string";
    }
  }
  for (const char* key : {"default_scopes", "hosts"}) {
    if (!doc.contains(key) || doc[key].is_null()) continue;
    if (!doc[key].is_array()) return std::string("\"") + key + "\" is not an array";
    for (const auto& item : doc[key]) {
      if (!item.is_string()) return std::string("\"") + key + "\" holds a non-string";
    }
  }
  for (const char* key : {"settings_schema", "flow_options_schema"}) {
    if (doc.contains(key) && !doc[key].is_null() && !doc[key].is_object()) {
      return std::string("\"") + key + "\" is not a JSON Schema object";
    }
  }
  const std::string slug = doc["slug"].get<std::string>();
  if (!is_valid_slug(slug)) return "slug \"" + slug + "\" must be 1-64 of [a-z0-9-], starting with a letter";
  const auto definitions = doc.find("source_definitions");
  if (definitions == doc.end() || !definitions->is_array() || definitions->empty()) {
    return "\"source_definitions\" must be a non-empty array";
  }
  std::set<std::string> ids;
  for (const auto& item : *definitions) {
    if (!item.is_object() || !item.contains("id") || !item["id"].is_string() || !item.contains("name") ||
        !item["name"].is_string()) {
      return "source_definitions: each needs string \"id\" and \"name\"";
    }
    const std::string id = item["id"].get<std::string>();
    if (id.empty() || !ids.insert(id).second) return "source_definitions: empty or repeated id \"" + id + "\"";
  }
  return {};
}

// What providers of one module share: the negotiated table, the library that holds the code,
// the canned answers and the requests seen.
struct HostState {
  HostOptions options;
  HostRecord* record = nullptr;
  std::shared_ptr<Library> library; // empty for a plugin linked into the executable
  connector_plugin_api table{};
  nlohmann::json descriptor;
  std::deque<HttpResponse> answers;
  std::function<std::optional<HttpResponse>(const HttpRequest&)> responder;
  std::vector<HttpRequest> requests;
};

inline std::string lower_host(std::string host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  for (auto& c : host)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return host;
}

} // namespace detail

// A configured provider instance (provider_create succeeded, or not: see ok() and result()).
// Operations run like the host runs them: every SEND_REQUEST is checked, recorded in the
// host's requests() and answered with the next canned response; the run ends with the first
// result that is not SEND_REQUEST, or with a request nobody answered (then the returned
// result is that SEND_REQUEST, and its `request` is what the plugin asked for).
class Provider {
public:
  Provider(const Provider&) = delete;
  Provider& operator=(const Provider&) = delete;
  Provider(Provider&& other) noexcept
      : state_(std::move(other.state_)), handle_(std::exchange(other.handle_, nullptr)),
        created_(std::move(other.created_)) {}
  Provider& operator=(Provider&& other) noexcept {
    if (this != &other) {
      destroy();
      state_ = std::move(other.state_);
      handle_ = std::exchange(other.handle_, nullptr);
      created_ = std::move(other.created_);
    }
    return *this;
  }
  ~Provider() { destroy(); }

  // Whether provider_create succeeded; result() says what it wrote (allowed hosts, issuer, or
  // the error).
  bool ok() const { return handle_ != nullptr; }
  const CallResult& result() const { return created_; }
  const std::vector<std::string>& allowed_hosts() const { return created_.allowed_hosts; }
  const std::string& issuer() const { return created_.issuer; }

  CallResult authorization_url(const FlowInput& input) const {
    if (!ok()) return not_created();
    const detail::InputTexts texts(input);
    const connector_flow_input raw = detail::to_c(input, texts);
    detail::Collector out;
    CallResult result = out.take(state_->table.authorization_url(handle_, &raw, out.table()));
    if (result.ok() && result.authorization_url.empty()) {
      result.status = CONNECTOR_STATUS_INTERNAL_ERROR;
      result.error_description = "authorization_url returned OK without a URL";
    }
    return result;
  }

  CallResult exchange_code(const FlowInput& input) const { return run(Operation::exchange_code, input); }
  CallResult refresh(const FlowInput& input) const { return run(Operation::refresh, input); }
  CallResult revoke(const FlowInput& input) const { return run(Operation::revoke, input); }
  CallResult check(const FlowInput& input) const { return run(Operation::check, input); }

  // Exactly one call of an operation's entry, as the host makes it: `response` is null on the
  // first step. Neither checks nor records the request it may return.
  CallResult step(Operation operation, const FlowInput& input, const HttpResponse* response = nullptr) const {
    if (!ok()) return not_created();
    const auto entry = entry_for(operation);
    if (entry == nullptr) {
      CallResult result;
      result.status = CONNECTOR_STATUS_UNSUPPORTED;
      result.error_code = "unsupported";
      result.error_description = std::string(operation_name(operation)) + " is not offered by this plugin";
      return result;
    }
    const detail::InputTexts texts(input);
    const connector_flow_input raw = detail::to_c(input, texts);
    std::vector<connector_header> headers;
    connector_http_response answer;
    std::memset(&answer, 0, sizeof answer);
    if (response != nullptr) {
      for (const auto& [name, value] : response->headers)
        headers.push_back(connector_header{detail::view(name), detail::view(value)});
      answer.struct_size = sizeof answer;
      answer.status = response->status;
      answer.headers = headers.data();
      answer.header_count = headers.size();
      answer.body = detail::view(response->body);
    }
    detail::Collector out;
    return out.take(entry(handle_, &raw, response != nullptr ? &answer : nullptr, out.table()));
  }

  // The whole operation, step by step, answering from the host's canned responses.
  CallResult run(Operation operation, FlowInput input) const {
    std::optional<HttpResponse> answer;
    int sent = 0;
    for (;;) {
      CallResult result = step(operation, input, answer ? &*answer : nullptr);
      result.requests_sent = sent;
      if (!result.sends_request()) return result;
      if (result.request.method.empty() || result.request.url.empty()) {
        return failed(result, CONNECTOR_STATUS_INTERNAL_ERROR, "bad_request_description",
                      "the plugin asked to send a request without a method or URL");
      }
      if (sent >= state_->options.max_requests) {
        return failed(result, CONNECTOR_STATUS_INTERNAL_ERROR, "too_many_requests",
                      "the plugin asked for more than " + std::to_string(state_->options.max_requests) + " requests");
      }
      if (const std::string refusal = egress_refusal(result.request.url); !refusal.empty()) {
        return failed(result, CONNECTOR_STATUS_CLIENT_INVALID, "provider_request_refused", refusal);
      }
      state_->requests.push_back(result.request);
      answer = next_answer(result.request);
      if (!answer) return result; // nobody answers: the test looks at result.request
      ++sent;
      input.continuation = result.request.continuation;
    }
  }

private:
  friend class FakeHost;
  Provider(std::shared_ptr<detail::HostState> state, connector_provider* handle, CallResult created)
      : state_(std::move(state)), handle_(handle), created_(std::move(created)) {}

  void destroy() noexcept {
    if (handle_ != nullptr && state_) state_->table.provider_destroy(handle_);
    handle_ = nullptr;
  }

  CallResult not_created() const {
    CallResult result;
    result.status = CONNECTOR_STATUS_INTERNAL_ERROR;
    result.error_code = "no_provider";
    result.error_description = "provider_create failed: " + created_.summary();
    return result;
  }

  static CallResult failed(CallResult result, connector_status status, std::string code, std::string description) {
    result.status = status;
    result.error_code = std::move(code);
    result.error_description = std::move(description);
    return result;
  }

  decltype(connector_plugin_api::exchange_code) entry_for(Operation operation) const {
    switch (operation) {
    case Operation::exchange_code: return state_->table.exchange_code;
    case Operation::refresh: return state_->table.refresh;
    case Operation::revoke: return state_->table.revoke;
    case Operation::check: return state_->table.check;
    }
    return nullptr;
  }

  // The real host sends https only, and only to the hosts provider_create declared.
  std::string egress_refusal(const std::string& url) const {
    const auto parsed = parse_https_url(url);
    if (!parsed) return "only absolute https:// URLs without user info are sent";
    if (!state_->options.enforce_allowed_hosts) return {};
    const std::string host = detail::lower_host(parsed->host);
    for (const auto& allowed : created_.allowed_hosts) {
      if (detail::lower_host(allowed) == host) return {};
    }
    return "host " + host + " is not among the provider's allowed hosts";
  }

  std::optional<HttpResponse> next_answer(const HttpRequest& request) const {
    if (!state_->answers.empty()) {
      HttpResponse answer = std::move(state_->answers.front());
      state_->answers.pop_front();
      return answer;
    }
    if (state_->responder) return state_->responder(request);
    return std::nullopt;
  }

  std::shared_ptr<detail::HostState> state_;
  connector_provider* handle_ = nullptr;
  CallResult created_;
};

// The host side of one plugin module. Construction negotiates and describes, exactly as a
// host loads a plugin, and throws PluginRefused where the host would refuse the module.
class FakeHost {
public:
  // A plugin compiled into this executable: pass its negotiation function, e.g.
  // &connector_plugin_negotiate after CONNECTOR_TESTING_DECLARE_LINKED_PLUGIN(); (end of file).
  explicit FakeHost(connector_negotiate_fn negotiate, HostOptions options = {})
      : state_(std::make_shared<detail::HostState>()) {
    state_->options = options;
    start(negotiate, "linked plugin");
  }

  // A built plugin module (.so, .dylib, .dll), loaded like the host loads it (RTLD_NOW | RTLD_LOCAL).
  static FakeHost load(const std::string& path, HostOptions options = {}) {
    auto library = std::make_shared<detail::Library>();
    const connector_negotiate_fn negotiate = library->open(path);
    return FakeHost(negotiate, options, std::move(library), path);
  }

  // A provider class compiled into this executable, through the same thunks that
  // CONNECTOR_REGISTER_PROVIDER exports: handy when a test defines several small providers.
  template <typename ProviderClass> static FakeHost of(HostOptions options = {}) {
    return FakeHost(&connector::sdk::detail::Thunks<ProviderClass>::negotiate, options);
  }

  // The plugin table as the host keeps it: members past the plugin's struct_size are zero.
  const connector_plugin_api& table() const { return state_->table; }
  // The descriptor the plugin gave at load (already checked with the host's rules).
  const nlohmann::json& descriptor() const { return state_->descriptor; }
  std::string slug() const { return state_->descriptor.value("slug", ""); }

  // Calls describe again, raw.
  CallResult describe() const {
    detail::Collector out;
    return out.take(state_->table.describe(out.table()));
  }

  // provider_create with these settings (a JSON object, as the host passes the operator's).
  Provider create(const nlohmann::json& settings = nlohmann::json::object()) const {
    return create_from_text(settings.dump());
  }
  // provider_create with any text, to test what a plugin does with settings that are not JSON.
  Provider create_from_text(const std::string& settings_json) const {
    detail::Collector out;
    connector_provider* handle = nullptr;
    const connector_status status = state_->table.provider_create(detail::view(settings_json), &handle, out.table());
    CallResult created = out.take(status);
    if (!created.ok()) {
      if (handle != nullptr) state_->table.provider_destroy(handle); // a confused plugin; don't leak
      handle = nullptr;
    } else if (handle == nullptr) {
      created.status = CONNECTOR_STATUS_INTERNAL_ERROR;
      created.error_description = "provider_create returned OK without an instance";
    }
    return Provider(state_, handle, std::move(created));
  }

  // Canned answers, used in order by every provider of this host, one per request.
  void respond(HttpResponse answer) { state_->answers.push_back(std::move(answer)); }
  void respond(unsigned status, std::string body, Headers headers = {{"Content-Type", "application/json"}}) {
    HttpResponse answer;
    answer.status = status;
    answer.body = std::move(body);
    answer.headers = std::move(headers);
    respond(std::move(answer));
  }
  // Answers requests once the canned ones are used up; returning nullopt leaves one unanswered.
  void set_responder(std::function<std::optional<HttpResponse>(const HttpRequest&)> responder) {
    state_->responder = std::move(responder);
  }
  std::size_t unused_answers() const { return state_->answers.size(); }

  // Every request the plugin asked to send, in order (checked and accepted by the host).
  const std::vector<HttpRequest>& requests() const { return state_->requests; }
  void clear_requests() { state_->requests.clear(); }

  // What the plugin logged through the host table so far.
  std::vector<LogLine> logs() const {
    std::lock_guard<std::mutex> lock(state_->record->mutex);
    return state_->record->lines;
  }

private:
  FakeHost(connector_negotiate_fn negotiate, HostOptions options, std::shared_ptr<detail::Library> library,
           const std::string& name)
      : state_(std::make_shared<detail::HostState>()) {
    state_->options = options;
    state_->library = std::move(library);
    start(negotiate, name);
  }

  void start(connector_negotiate_fn negotiate, const std::string& name) {
    const auto refuse = [&name](const std::string& reason) { return PluginRefused(name + ": " + reason); };
    if (negotiate == nullptr) throw refuse("no negotiation function");
    const HostOptions& options = state_->options;

    detail::HostRecord& record = detail::new_host_record();
    record.table.struct_size = sizeof record.table;
    record.table.abi_major = options.abi_major;
    record.table.abi_minor = options.abi_minor;
    record.table.context = &record;
    record.table.log = &detail::log_thunk;
    state_->record = &record;

    // The room the host offers, zeroed, then a guard band that must stay untouched.
    constexpr std::size_t guard = 64;
    const std::size_t room = options.plugin_table_room;
    std::vector<connector_plugin_api> buffer((room + guard) / sizeof(connector_plugin_api) + 1);
    auto* bytes = reinterpret_cast<unsigned char*>(buffer.data());
    const std::size_t total = buffer.size() * sizeof(connector_plugin_api);
    std::memset(bytes, 0, room);
    std::memset(bytes + room, 0xA5, total - room);
    buffer[0].struct_size = options.plugin_table_room;

    const connector_status negotiated = negotiate(&record.table, buffer.data());
    if (negotiated != CONNECTOR_STATUS_OK) {
      throw refuse("negotiation refused by the plugin (" + std::string(status_name(negotiated)) + ")");
    }
    if (std::any_of(bytes + room, bytes + total, [](unsigned char b) { return b != 0xA5; })) {
      throw refuse("negotiation wrote past the " + std::to_string(room) + " bytes the host offered");
    }
    const connector_plugin_api& offered = buffer[0];
    if (offered.abi_major != options.abi_major) {
      throw refuse("built for ABI " + std::to_string(offered.abi_major) + "." + std::to_string(offered.abi_minor) +
                   ", this host speaks ABI " + std::to_string(options.abi_major) + ".x");
    }
    if (offered.struct_size < kAbi10PluginTableSize || offered.struct_size > room) {
      throw refuse("plugin table size " + std::to_string(offered.struct_size) + " is outside [" +
                   std::to_string(kAbi10PluginTableSize) + ", " + std::to_string(room) + "]");
    }
    // Copy what both sides know; what the plugin did not fill stays zero: absent.
    connector_plugin_api table;
    std::memset(&table, 0, sizeof table);
    std::memcpy(&table, &offered, std::min<std::size_t>(offered.struct_size, sizeof table));
    if (table.describe == nullptr || table.provider_create == nullptr || table.provider_destroy == nullptr ||
        table.authorization_url == nullptr || table.exchange_code == nullptr) {
      throw refuse("plugin table lacks a required entry (describe, provider_create, provider_destroy, "
                   "authorization_url, exchange_code)");
    }
    state_->table = table;

    const CallResult description = describe();
    if (!description.ok()) throw refuse("describe failed (" + description.summary() + ")");
    state_->descriptor = nlohmann::json::parse(description.descriptor_json, nullptr, /*allow_exceptions=*/false);
    if (const std::string problem = detail::descriptor_problem(state_->descriptor); !problem.empty()) {
      throw refuse("invalid descriptor: " + problem);
    }
  }

  std::shared_ptr<detail::HostState> state_;
};

} // namespace connector::sdk::testing

// Declares the negotiation function of a plugin compiled into the test executable (the one
// CONNECTOR_REGISTER_PROVIDER defines), so a test can write FakeHost host(&connector_plugin_negotiate).
#define CONNECTOR_TESTING_DECLARE_LINKED_PLUGIN()                                                                      \
  extern "C" connector_status connector_plugin_negotiate(const connector_host_api* host,                               \
                                                         connector_plugin_api* plugin_out)

#endif // CONNECTOR_TESTING_FAKE_HOST_HPP
