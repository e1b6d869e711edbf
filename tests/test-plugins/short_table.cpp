// A table cut short: struct_size ends right after exchange_code, with minor 0, as if refresh,
// revoke and check had been appended by a later minor version. They were not: all three are
// part of ABI 1.0, whose table is the floor of every 1.x table, so no 1.x plugin can be this
// short. The host refuses it at load, naming the size, instead of guessing (see
// abi_1_0_table.cpp for the plugin that an older minor really produces, and
// tests/abi/abi_compat_test.cpp for both).
#include <connector/abi.h>

#include <cstddef>
#include <cstring>

namespace {

connector_status describe(const connector_writer* out) {
  static const char descriptor[] =
      R"({"slug":"short-table","display_name":"Short table",)"
      R"("source_definitions":[{"id":"00000000-0000-4000-8000-00000000057a","name":"Short"}]})";
  out->set_string(out->context, CONNECTOR_FIELD_DESCRIPTOR, connector_str{descriptor, sizeof descriptor - 1});
  return CONNECTOR_STATUS_OK;
}

connector_status unsupported_create(connector_str, connector_provider**, const connector_writer*) {
  return CONNECTOR_STATUS_UNSUPPORTED;
}
void destroy(connector_provider*) {}
connector_status unsupported_url(const connector_provider*, const connector_flow_input*, const connector_writer*) {
  return CONNECTOR_STATUS_UNSUPPORTED;
}
connector_status unsupported_step(const connector_provider*, const connector_flow_input*,
                                  const connector_http_response*, const connector_writer*) {
  return CONNECTOR_STATUS_UNSUPPORTED;
}

} // namespace

extern "C" CONNECTOR_PLUGIN_EXPORT connector_status connector_plugin_negotiate(const connector_host_api*,
                                                                               connector_plugin_api* plugin_out) {
  constexpr std::size_t cut = offsetof(connector_plugin_api, refresh); // ends after exchange_code
  if (plugin_out->struct_size < cut) return CONNECTOR_STATUS_REFUSED;
  std::memset(static_cast<void*>(plugin_out), 0, cut);
  plugin_out->struct_size = static_cast<uint32_t>(cut);
  plugin_out->abi_major = CONNECTOR_ABI_VERSION_MAJOR;
  plugin_out->abi_minor = 0;
  plugin_out->describe = &describe;
  plugin_out->provider_create = &unsupported_create;
  plugin_out->provider_destroy = &destroy;
  plugin_out->authorization_url = &unsupported_url;
  plugin_out->exchange_code = &unsupported_step;
  return CONNECTOR_STATUS_OK;
}
