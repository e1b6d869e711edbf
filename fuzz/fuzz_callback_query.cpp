// The provider-facing callback's query (GET /v1/oauth/callback?...), through the real router
// and flow service: sdk::form_decode, the state, iss and code checks, the exchange and the
// redirect back to the client. "{state}" in the input is replaced by the state of a flow just
// started (connector flow of "{github}" or Google Sheets otherwise), so the fuzzer gets past
// the state check and reaches the issuer check and the exchange (which fails at connect).
#include "support/fuzz_host.hpp"

#include <connector/encoding.hpp>

#include <cstddef>
#include <cstdint>
#include <string>

namespace {

constexpr std::string_view state_marker = "{state}";
constexpr std::string_view github_marker = "{github}";

void replace_all(std::string& text, std::string_view marker, const std::string& value) {
  for (std::size_t at = text.find(marker); at != std::string::npos; at = text.find(marker, at + value.size()))
    text.replace(at, marker.size(), value);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  auto& host = connector::fuzz::FuzzHost::instance();
  std::string query(reinterpret_cast<const char*>(data), size);
  if (query.find(state_marker) != std::string::npos) {
    const bool github = query.find(github_marker) != std::string::npos;
    replace_all(query, state_marker, host.start_flow(github ? "github" : "google-sheets"));
  }
  // The parse alone, as plugins and the host use it, must round-trip what it decoded.
  for (const auto& [name, value] : connector::sdk::form_decode(query)) {
    const std::string encoded = connector::sdk::form_encode({{name, value}});
    const auto again = connector::sdk::form_decode(encoded);
    if (again.size() != 1 || again[0].first != name || again[0].second != value) __builtin_trap();
  }

  connector::host::Request request{connector::host::http::verb::get, "/v1/oauth/callback?" + query, 11};
  request.set(connector::host::http::field::host, "127.0.0.1:8080");
  const connector::host::Response response = host.dispatch(request);
  connector::fuzz::check_answer(response);
  // The browser goes only to the client's allowed URL, never to one from the query.
  if (response.result_int() == 302) {
    const auto location = response.find(connector::host::http::field::location);
    if (location == response.end() || !location->value().starts_with(connector::fuzz::kAllowedRedirect)) {
      __builtin_trap();
    }
  }
  return 0;
}
