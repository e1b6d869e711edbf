// Describes itself with a flag of the wrong type ("supports_pkce": "yes"): refused at load,
// with the reason, while every other plugin keeps serving. Its table is the SDK's, except for
// describe, since the SDK's typed Descriptor cannot write a wrong type.
#define TEST_PLUGIN_SLUG "wrong-type"
#define TEST_PLUGIN_DEFINITION_ID "00000000-0000-4000-8000-0000000000e7"
#include "minimal_provider.hpp"

#include <string>

namespace {

connector_status describe_with_a_wrong_type(const connector_writer* out) noexcept {
  try {
    nlohmann::json descriptor = connector::sdk::to_json(MinimalProvider::describe());
    descriptor["supports_pkce"] = "yes";
    const std::string text = descriptor.dump();
    out->set_string(out->context, CONNECTOR_FIELD_DESCRIPTOR, connector_str{text.data(), text.size()});
    return CONNECTOR_STATUS_OK;
  } catch (...) {
    return CONNECTOR_STATUS_INTERNAL_ERROR;
  }
}

} // namespace

extern "C" CONNECTOR_PLUGIN_EXPORT connector_status connector_plugin_negotiate(const connector_host_api* host,
                                                                               connector_plugin_api* plugin_out) {
  const connector_status status = connector::sdk::detail::Thunks<MinimalProvider>::negotiate(host, plugin_out);
  if (status == CONNECTOR_STATUS_OK) plugin_out->describe = &describe_with_a_wrong_type;
  return status;
}
