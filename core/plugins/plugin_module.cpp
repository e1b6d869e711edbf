#include "plugins/plugin_module.hpp"

#include "plugins/result_writer.hpp"

#include <boost/dll/shared_library.hpp>

#include <cstddef>
#include <cstring>
#include <system_error>
#include <type_traits>
#include <utility>

namespace connector::core {

struct PluginModule::Library {
  boost::dll::shared_library library;
};

namespace {

connector_str view(const std::string& text) { return connector_str{text.data(), text.size()}; }

// A plugin whose table stops short of ABI 1.0's last member is refused (the OBS rule:
// required members are checked by offset).
constexpr std::size_t required_table_size = CONNECTOR_PLUGIN_API_1_0_SIZE;
static_assert(required_table_size == offsetof(connector_plugin_api, check) + sizeof(connector_plugin_api::check));

std::string describe_status(const OperationResult& result) {
  std::string text = status_name(result.status);
  if (!result.error_description.empty()) text += ": " + result.error_description;
  return text;
}

} // namespace

PluginModule::PluginModule() = default;
PluginModule::~PluginModule() = default;

void PluginModule::log_thunk(void* context, int32_t level, connector_str message) {
  const auto* module = static_cast<const PluginModule*>(context);
  if (module == nullptr || module->log_sink_ == nullptr || message.data == nullptr) return;
  try {
    module->log_sink_(module->log_name_, level, std::string_view(message.data, message.size));
  } catch (...) { // a C caller must never see an exception
  }
}

PluginModule::BindOutcome PluginModule::bind(const std::filesystem::path& load_path, std::string log_name,
                                             PluginLogSink log_sink) {
  const auto refuse = [](std::string reason) { return BindOutcome{nullptr, std::move(reason), {}}; };
  std::shared_ptr<PluginModule> module(new PluginModule());
  module->log_name_ = std::move(log_name);
  module->log_sink_ = log_sink;
  module->library_ = std::make_unique<Library>();

  std::error_code error; // Boost.DLL on std::filesystem reports through std::error_code
  // rtld_local keeps each plugin's symbols to itself; rtld_now finds missing symbols at load
  // time instead of in the middle of a request (both are what Windows does anyway).
  module->library_->library.load(load_path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local, error);
  if (error) return refuse("not a loadable shared library (" + error.message() + ")");
  if (!module->library_->library.has(CONNECTOR_NEGOTIATE_SYMBOL)) {
    return refuse(std::string("does not export ") + CONNECTOR_NEGOTIATE_SYMBOL);
  }
  auto& negotiate =
      module->library_->library.get<std::remove_pointer_t<connector_negotiate_fn>>(CONNECTOR_NEGOTIATE_SYMBOL);

  module->host_table_.struct_size = sizeof(connector_host_api);
  module->host_table_.abi_major = CONNECTOR_ABI_VERSION_MAJOR;
  module->host_table_.abi_minor = CONNECTOR_ABI_VERSION_MINOR;
  module->host_table_.context = module.get();
  module->host_table_.log = &PluginModule::log_thunk;

  connector_plugin_api table;
  std::memset(&table, 0, sizeof table);
  table.struct_size = sizeof table;
  const connector_status negotiated = negotiate(&module->host_table_, &table);
  if (negotiated != CONNECTOR_STATUS_OK) {
    return refuse("negotiation refused by the plugin (" + std::string(status_name(negotiated)) + ")");
  }
  if (table.abi_major != CONNECTOR_ABI_VERSION_MAJOR) {
    return refuse("built for ABI " + std::to_string(table.abi_major) + "." + std::to_string(table.abi_minor) +
                  ", this host speaks ABI " + std::to_string(CONNECTOR_ABI_VERSION_MAJOR) + ".x");
  }
  if (table.struct_size < required_table_size || table.struct_size > sizeof table) {
    return refuse("plugin table size " + std::to_string(table.struct_size) + " is outside [" +
                  std::to_string(required_table_size) + ", " + std::to_string(sizeof table) + "]");
  }
  // Members past what the plugin filled stay zero: an older minor version simply lacks them.
  std::memset(reinterpret_cast<char*>(&table) + table.struct_size, 0, sizeof table - table.struct_size);
  if (table.describe == nullptr || table.provider_create == nullptr || table.provider_destroy == nullptr ||
      table.authorization_url == nullptr || table.exchange_code == nullptr) {
    return refuse("plugin table lacks a required entry (describe, provider_create, provider_destroy, "
                  "authorization_url, exchange_code)");
  }
  module->table_ = table;

  ResultWriter writer;
  const connector_status described = table.describe(writer.table());
  OperationResult description = writer.take(described);
  if (!description.ok()) return refuse("describe failed (" + describe_status(description) + ")");
  return BindOutcome{std::move(module), {}, std::move(description.descriptor_json)};
}

std::shared_ptr<PluginModule> PluginModule::in_process(const connector_plugin_api& table, ProviderFactory create) {
  std::shared_ptr<PluginModule> module(new PluginModule());
  module->table_ = table;
  module->create_ = std::move(create);
  return module;
}

PluginModule::CreateOutcome PluginModule::create_provider(const std::string& settings_json) const {
  ResultWriter writer;
  connector_provider* handle = nullptr;
  const connector_status status = create_ ? create_(view(settings_json), &handle, writer.table())
                                          : table_.provider_create(view(settings_json), &handle, writer.table());
  CreateOutcome outcome;
  outcome.result = writer.take(status);
  if (!outcome.result.ok()) {
    if (handle != nullptr) table_.provider_destroy(handle); // a confused plugin; don't leak
    return outcome;
  }
  if (handle == nullptr) {
    outcome.result.status = CONNECTOR_STATUS_INTERNAL_ERROR;
    outcome.result.error_description = "provider_create returned OK without an instance";
    return outcome;
  }
  outcome.instance = std::make_shared<const ProviderInstance>(shared_from_this(), handle, outcome.result.allowed_hosts,
                                                              outcome.result.issuer);
  return outcome;
}

ProviderInstance::ProviderInstance(std::shared_ptr<const PluginModule> module, connector_provider* handle,
                                   std::vector<std::string> allowed_hosts, std::string issuer)
    : module_(std::move(module)), handle_(handle), allowed_hosts_(std::move(allowed_hosts)),
      issuer_(std::move(issuer)) {}

ProviderInstance::~ProviderInstance() { module_->table().provider_destroy(handle_); }

namespace {

// The C view of FlowParams; points into `params`, which must outlive it.
connector_flow_input to_c(const FlowParams& params) {
  connector_flow_input input;
  std::memset(&input, 0, sizeof input);
  input.struct_size = sizeof input;
  input.redirect_uri = view(params.callback_uri);
  input.state = view(params.state);
  input.code_challenge = view(params.code_challenge);
  input.code_verifier = view(params.code_verifier);
  input.code = view(params.code);
  input.access_token = view(params.access_token);
  input.refresh_token = view(params.refresh_token);
  input.options_json = view(params.options_json);
  input.continuation = view(params.continuation);
  input.metadata_json = view(params.metadata_json);
  input.callback_parameters_json = view(params.callback_parameters_json);
  return input;
}

} // namespace

OperationResult ProviderInstance::authorization_url(const FlowParams& params) const {
  ResultWriter writer;
  const connector_flow_input input = to_c(params);
  const connector_status status = module_->table().authorization_url(handle_, &input, writer.table());
  OperationResult result = writer.take(status);
  if (result.ok() && result.authorization_url.empty()) {
    result.status = CONNECTOR_STATUS_INTERNAL_ERROR;
    result.error_description = "authorization_url returned OK without a URL";
  }
  return result;
}

OperationResult ProviderInstance::step(Operation operation, const FlowParams& params,
                                       const ProviderAnswer* answer) const {
  const connector_plugin_api& table = module_->table();
  decltype(table.exchange_code) entry = nullptr;
  switch (operation) {
  case Operation::exchange_code: entry = table.exchange_code; break;
  case Operation::refresh: entry = table.refresh; break;
  case Operation::revoke: entry = table.revoke; break;
  case Operation::check: entry = table.check; break;
  }
  if (entry == nullptr) {
    OperationResult result;
    result.status = CONNECTOR_STATUS_UNSUPPORTED;
    result.error_code = "unsupported";
    result.error_description = std::string(operation_name(operation)) + " is not offered by this plugin";
    return result;
  }

  const connector_flow_input input = to_c(params);
  std::vector<connector_header> headers;
  connector_http_response response;
  std::memset(&response, 0, sizeof response);
  if (answer != nullptr) {
    headers.reserve(answer->headers.size());
    for (const auto& [name, value] : answer->headers)
      headers.push_back({view(name), view(value)});
    response.struct_size = sizeof response;
    response.status = answer->status;
    response.headers = headers.data();
    response.header_count = headers.size();
    response.body = view(answer->body);
  }
  ResultWriter writer;
  const connector_status status = entry(handle_, &input, answer != nullptr ? &response : nullptr, writer.table());
  OperationResult result = writer.take(status);
  if (result.status == CONNECTOR_STATUS_SEND_REQUEST && (result.request.url.empty() || result.request.method.empty())) {
    result.status = CONNECTOR_STATUS_INTERNAL_ERROR;
    result.error_description = "the plugin asked to send a request without a method or URL";
  }
  return result;
}

} // namespace connector::core
