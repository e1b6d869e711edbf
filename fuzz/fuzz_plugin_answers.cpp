// Each in-tree plugin's handling of provider answers, through the C ABI as the host drives
// it: the module loaded by core::LoadedPlugin, a provider made from the operator's settings,
// then the operation's steps as core::run_operation takes them, with the answers the fuzzer
// makes up in place of the network's.
//
// Input: one byte (bit 0: the plugin, bits 1-2: exchange_code, refresh, revoke or check),
// then up to four answers separated by NUL bytes, each "<status> <content type>\n<body>".
#include "plugins/loaded_plugin.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

namespace {

namespace core = connector::core;

constexpr std::string_view client_secret = "fuzz-client-secret-value";
constexpr int max_steps = 4; // run_operation's

std::shared_ptr<const core::ProviderInstance> make_provider(const char* file, const std::string& settings) {
  const auto loaded = core::LoadedPlugin::load(std::string(CONNECTOR_PLUGIN_DIR) + "/" + file);
  if (!loaded.module) {
    std::fprintf(stderr, "fuzz: cannot load %s: %s\n", file, loaded.refusal.c_str());
    std::abort();
  }
  auto created = loaded.module->create_provider(settings);
  if (!created.instance) {
    std::fprintf(stderr, "fuzz: %s refused its settings: %s\n", file, created.result.error_description.c_str());
    std::abort();
  }
  return created.instance;
}

core::ProviderAnswer read_answer(std::string_view text) {
  core::ProviderAnswer answer;
  const std::size_t newline = text.find('\n');
  const std::string_view head = text.substr(0, newline);
  answer.body = newline == std::string_view::npos ? std::string() : std::string(text.substr(newline + 1));
  unsigned status = 0;
  std::size_t i = 0;
  for (; i < head.size() && i < 3 && head[i] >= '0' && head[i] <= '9'; ++i)
    status = status * 10 + static_cast<unsigned>(head[i] - '0');
  answer.status = status;
  const std::string_view type = i < head.size() ? head.substr(i + 1) : std::string_view();
  if (!type.empty()) answer.headers.emplace_back("Content-Type", std::string(type));
  return answer;
}

core::FlowParams params_for(core::Operation operation) {
  core::FlowParams params;
  params.callback_uri = "https://host.example/v1/oauth/callback";
  params.state = "st4te";
  params.options_json = "{}";
  if (operation == core::Operation::exchange_code) {
    params.code = "c0de";
    params.code_verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  } else {
    params.access_token = "fuzz-access-token";
    params.refresh_token = "fuzz-refresh-token";
  }
  return params;
}

// The plugin may repeat what the provider said, but must not make up the operator's secret.
void check_no_secret(const core::OperationResult& result, std::string_view input) {
  if (input.find(client_secret) != std::string_view::npos) return;
  for (const std::string* text : {&result.error_code, &result.error_description, &result.account_id,
                                  &result.account_name, &result.access_token}) {
    if (text->find(client_secret) != std::string::npos) {
      std::fprintf(stderr, "fuzz: the plugin wrote the client secret into a result field\n");
      std::abort();
    }
  }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  static const std::string settings =
      std::string(R"({"client_id":"fuzz-client.apps.googleusercontent.com","client_secret":")") +
      std::string(client_secret) + "\"}";
  static const std::shared_ptr<const core::ProviderInstance> providers[] = {
      make_provider("github.so", settings), make_provider("google-sheets.so", settings)};
  if (size == 0) return 0;
  const core::ProviderInstance& provider = *providers[data[0] & 1];
  const auto operation = static_cast<core::Operation>((data[0] >> 1) & 3);
  std::string_view answers(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::string_view input = answers;

  core::FlowParams params = params_for(operation);
  core::OperationResult result = provider.step(operation, params, nullptr);
  for (int sent = 0; result.status == CONNECTOR_STATUS_SEND_REQUEST && sent < max_steps; ++sent) {
    if (result.request.url.empty() || result.request.method.empty()) __builtin_trap();
    const std::size_t end = answers.find('\0');
    const core::ProviderAnswer answer = read_answer(answers.substr(0, end));
    answers.remove_prefix(end == std::string_view::npos ? answers.size() : end + 1);
    params.continuation = result.continuation;
    result = provider.step(operation, params, &answer);
  }
  check_no_secret(result, input);
  if (result.ok() && (operation == core::Operation::exchange_code || operation == core::Operation::refresh) &&
      result.access_token.empty()) {
    std::fprintf(stderr, "fuzz: %s succeeded without an access token\n", core::operation_name(operation));
    std::abort();
  }
  return 0;
}
