/* Proves abi.h is self-contained C11 and pins its layout on LP64 (x86_64, aarch64): a change
 * here is an ABI break and needs a major version. */
#include <connector/abi.h>

#include <stddef.h>

#if defined(__LP64__)
_Static_assert(sizeof(connector_str) == 16, "connector_str layout");
_Static_assert(sizeof(connector_header) == 32, "connector_header layout");
_Static_assert(offsetof(connector_http_response, status) == 4, "response.status");
_Static_assert(offsetof(connector_http_response, headers) == 8, "response.headers");
_Static_assert(offsetof(connector_http_response, body) == 24, "response.body");
_Static_assert(sizeof(connector_http_response) == 40, "response size");
_Static_assert(offsetof(connector_flow_input, redirect_uri) == 8, "input.redirect_uri");
_Static_assert(offsetof(connector_flow_input, continuation) == 136, "input.continuation");
/* ABI 1.0's input ended after continuation, at 152 bytes; 1.1 appended two members. */
_Static_assert(offsetof(connector_flow_input, metadata_json) == 152, "input.metadata_json (1.1)");
_Static_assert(offsetof(connector_flow_input, callback_parameters_json) == 168, "input.callback_parameters_json (1.1)");
_Static_assert(sizeof(connector_flow_input) == 184, "input size (ABI 1.1)");
_Static_assert(offsetof(connector_writer, context) == 8, "writer.context");
_Static_assert(offsetof(connector_writer, add_request_header) == 32, "writer.add_request_header");
_Static_assert(sizeof(connector_writer) == 40, "writer size");
_Static_assert(offsetof(connector_host_api, abi_major) == 4, "host.abi_major");
_Static_assert(offsetof(connector_host_api, abi_minor) == 6, "host.abi_minor");
_Static_assert(offsetof(connector_host_api, context) == 8, "host.context");
_Static_assert(offsetof(connector_host_api, log) == 16, "host.log");
_Static_assert(sizeof(connector_host_api) == 24, "host size");
_Static_assert(offsetof(connector_plugin_api, describe) == 8, "plugin.describe");
_Static_assert(offsetof(connector_plugin_api, check) == 64, "plugin.check");
_Static_assert(sizeof(connector_plugin_api) == 72, "plugin size (ABI 1.0)");
#endif

/* A C plugin author can name every type and constant. */
size_t connector_abi_c_table_size(void);
size_t connector_abi_c_table_size(void) {
  connector_plugin_api table = {0};
  table.struct_size = (uint32_t)sizeof table;
  table.abi_major = CONNECTOR_ABI_VERSION_MAJOR;
  return table.struct_size + (size_t)CONNECTOR_STATUS_REFUSED + (size_t)CONNECTOR_FIELD_METADATA;
}
