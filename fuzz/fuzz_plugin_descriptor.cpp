// The plugin descriptor parser (core/plugins/plugin_descriptor.*): what a module says about
// itself is untrusted text until checked.
#include "plugins/plugin_descriptor.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::string error;
  const auto descriptor = connector::core::parse_plugin_descriptor(text, error);
  if (descriptor && !connector::core::is_valid_slug(descriptor->slug)) __builtin_trap(); // accepted a bad slug
  if (descriptor && descriptor->flow_options_schema == nullptr) __builtin_trap();
  return 0;
}
