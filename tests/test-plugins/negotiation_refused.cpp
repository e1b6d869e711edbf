// A plugin that looks at the host and declines to work with it.
#include <connector/abi.h>

extern "C" CONNECTOR_PLUGIN_EXPORT connector_status connector_plugin_negotiate(const connector_host_api*,
                                                                               connector_plugin_api*) {
  return CONNECTOR_STATUS_REFUSED;
}
