// Built for a future ABI major version: must be refused with the versions in the message.
#include <connector/abi.h>

#include <cstring>

extern "C" CONNECTOR_PLUGIN_EXPORT connector_status connector_plugin_negotiate(const connector_host_api*,
                                                                               connector_plugin_api* plugin_out) {
  const uint32_t room = plugin_out->struct_size;
  std::memset(plugin_out, 0, room);
  plugin_out->struct_size = room;
  plugin_out->abi_major = CONNECTOR_ABI_VERSION_MAJOR + 1;
  plugin_out->abi_minor = 0;
  return CONNECTOR_STATUS_OK;
}
