// Declarative provider definitions (sdk/include/connector/declarative_*.hpp): a definition is a
// file someone dropped into a plugins folder, so untrusted. The input is the definition's text.
// An accepted one is configured with settings that fill each settings variable (its default,
// or "acme"), and its consent URL, code exchange and refresh request are made: no URL may
// leave the hosts the instance allows, and no request may lose RFC 6749's parameters.
#include <connector/declarative_provider.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

namespace declarative = connector::sdk::declarative;
using connector::sdk::FlowInput;
using connector::sdk::HttpRequest;
using connector::sdk::InvalidInput;

namespace {

bool allowed(const declarative::DeclarativeProvider& provider, const std::string& url) {
  const auto parsed = connector::sdk::parse_https_url(url);
  if (!parsed) return false;
  for (const auto& host : provider.allowed_hosts()) {
    if (host == parsed->host) return true;
  }
  return false;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const nlohmann::json document =
      nlohmann::json::parse(reinterpret_cast<const char*>(data), reinterpret_cast<const char*>(data) + size, nullptr,
                            /*allow_exceptions=*/false);
  if (document.is_discarded()) return 0;
  std::shared_ptr<const declarative::Definition> definition;
  try {
    definition = std::make_shared<const declarative::Definition>(declarative::parse_definition(document));
  } catch (const InvalidInput&) {
    return 0;
  }
  (void)declarative::describe(*definition);
  nlohmann::json settings = {{"client_id", "cid"}, {"client_secret", "secret"}};
  for (const auto& variable : definition->variables) {
    if (variable.source != declarative::VariableSource::settings || variable.default_value) continue;
    settings[variable.name] = variable.kind == declarative::VariableKind::one_of         ? variable.values.front()
                              : variable.kind == declarative::VariableKind::https_origin ? "https://acme.example"
                                                                                         : "acme";
  }
  try {
    const declarative::DeclarativeProvider provider(definition, settings);
    FlowInput input;
    input.redirect_uri = "https://host.example/v1/oauth/callback";
    input.state = "st4te";
    input.code_challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
    input.code = "c0de";
    input.refresh_token = "r1";
    const std::string consent = provider.authorization_url(input);
    if (!allowed(provider, consent)) __builtin_trap();
    if (consent.find("response_type=code") == std::string::npos) __builtin_trap();
    const auto exchange = provider.exchange_code(input, nullptr);
    const auto* request = std::get_if<HttpRequest>(&exchange);
    if (request == nullptr || !allowed(provider, request->url)) __builtin_trap();
    // In the body, or in the query for a provider that takes its parameters there (ClickUp).
    if ((request->body + request->url).find("authorization_code") == std::string::npos) __builtin_trap();
    (void)provider.refresh(input, nullptr);
  } catch (const InvalidInput&) {
    // settings or flow options the definition refuses (a required flow option): fine
  }
  return 0;
}
