// A plugin as it was built against ABI 1.0, kept that way forever: it is written against abi.h's
// C types only, and its plugin table is its own frozen copy of the 1.0 layout, so it never learns
// of members that later minor versions append. It reports minor 0, sets struct_size to the size
// of its 1.0 table and writes no byte past it. A newer host therefore sees a shorter table than
// its own and must treat every later member as absent (abi.h: "treats members past struct_size
// as zero/absent").
//
// While the ABI is still 1.0 the host's table and this one have the same size, so today this
// proves the layout and the loader's handling of the version fields; the day abi.h appends a
// member, this very plugin becomes the "older minor, smaller table" case without an edit. Why not
// cut the table shorter now: the 1.0 table is the floor of every 1.x table (nothing of 1.0 can
// be missing from a 1.x plugin), and the host refuses anything shorter (see short_table.cpp).
//
// It also leaves refresh, revoke and check NULL, which is how a 1.0 plugin says "not offered":
// the host must answer those operations itself (UNSUPPORTED), exactly as for absent members.
#include <connector/abi.h>

#include <cstddef>
#include <cstring>
#include <exception>
#include <string>

namespace {

// connector_plugin_api exactly as ABI 1.0 defines it.
struct plugin_api_1_0 {
  uint32_t struct_size;
  uint16_t abi_major;
  uint16_t abi_minor;
  connector_status (*describe)(const connector_writer* out);
  connector_status (*provider_create)(connector_str settings_json, connector_provider** out_provider,
                                      const connector_writer* out);
  void (*provider_destroy)(connector_provider* provider);
  connector_status (*authorization_url)(const connector_provider* provider, const connector_flow_input* input,
                                        const connector_writer* out);
  connector_status (*exchange_code)(const connector_provider* provider, const connector_flow_input* input,
                                    const connector_http_response* response, const connector_writer* out);
  connector_status (*refresh)(const connector_provider* provider, const connector_flow_input* input,
                              const connector_http_response* response, const connector_writer* out);
  connector_status (*revoke)(const connector_provider* provider, const connector_flow_input* input,
                             const connector_http_response* response, const connector_writer* out);
  connector_status (*check)(const connector_provider* provider, const connector_flow_input* input,
                            const connector_http_response* response, const connector_writer* out);
};

// The current table must keep 1.0's as its prefix, member for member: the append-only rule.
#define SAME_OFFSET(member)                                                                                            \
  static_assert(offsetof(plugin_api_1_0, member) == offsetof(connector_plugin_api, member), #member " moved")
SAME_OFFSET(struct_size);
SAME_OFFSET(abi_major);
SAME_OFFSET(abi_minor);
SAME_OFFSET(describe);
SAME_OFFSET(provider_create);
SAME_OFFSET(provider_destroy);
SAME_OFFSET(authorization_url);
SAME_OFFSET(exchange_code);
SAME_OFFSET(refresh);
SAME_OFFSET(revoke);
SAME_OFFSET(check);
#undef SAME_OFFSET
static_assert(sizeof(plugin_api_1_0) <= sizeof(connector_plugin_api), "a newer table is never shorter");

constexpr uint16_t kBuiltForMinor = 0;

const connector_host_api* g_host = nullptr;
int g_instance = 0; // provider_create hands out its address; there is no state to keep

connector_str text(const char* value) { return connector_str{value, std::strlen(value)}; }
connector_str text(const std::string& value) { return connector_str{value.data(), value.size()}; }
std::string copy(connector_str value) {
  return value.data == nullptr ? std::string() : std::string(value.data, value.size);
}

// The writer as this plugin knows it: a 1.0 writer; a newer host's is longer, never shorter.
// Nothing here may throw across the boundary: the const char* form allocates nothing, and the
// entries that build strings catch.
void write(const connector_writer* out, uint32_t field, connector_str value) {
  if (out != nullptr && out->set_string != nullptr) out->set_string(out->context, field, value);
}
void write(const connector_writer* out, uint32_t field, const char* value) { write(out, field, text(value)); }
void write(const connector_writer* out, uint32_t field, const std::string& value) { write(out, field, text(value)); }

connector_status describe(const connector_writer* out) {
  write(out, CONNECTOR_FIELD_DESCRIPTOR,
        R"({"slug":"abi-1-0","display_name":"Built against ABI 1.0","version":"1.0.0",)"
        R"("source_definitions":[{"id":"00000000-0000-4000-8000-0000000a1010","name":"ABI 1.0"}],)"
        R"("supports_pkce":false,"supports_refresh":false,"supports_revoke":false,"hosts":["abi10.example"]})");
  return CONNECTOR_STATUS_OK;
}

connector_status provider_create(connector_str, connector_provider** out_provider, const connector_writer* out) {
  if (out_provider == nullptr) return CONNECTOR_STATUS_INVALID_INPUT;
  write(out, CONNECTOR_FIELD_ALLOWED_HOST, "abi10.example");
  *out_provider = reinterpret_cast<connector_provider*>(&g_instance);
  return CONNECTOR_STATUS_OK;
}

void provider_destroy(connector_provider*) {}

connector_status authorization_url(const connector_provider*, const connector_flow_input* input,
                                   const connector_writer* out) {
  try {
    const std::string state = input != nullptr ? copy(input->state) : std::string();
    write(out, CONNECTOR_FIELD_AUTHORIZATION_URL, "https://abi10.example/authorize?state=" + state);
    return CONNECTOR_STATUS_OK;
  } catch (const std::exception&) {
    return CONNECTOR_STATUS_INTERNAL_ERROR;
  }
}

// One request, then the token is whatever the "server" answered.
connector_status exchange_code(const connector_provider*, const connector_flow_input* input,
                               const connector_http_response* response, const connector_writer* out) {
  try {
    if (response == nullptr) {
      write(out, CONNECTOR_FIELD_REQUEST_METHOD, "POST");
      write(out, CONNECTOR_FIELD_REQUEST_URL, "https://abi10.example/token");
      write(out, CONNECTOR_FIELD_REQUEST_BODY, "code=" + (input != nullptr ? copy(input->code) : std::string()));
      return CONNECTOR_STATUS_SEND_REQUEST;
    }
    write(out, CONNECTOR_FIELD_ACCESS_TOKEN, copy(response->body));
    write(out, CONNECTOR_FIELD_TOKEN_TYPE, "bearer");
    if (g_host != nullptr && g_host->log != nullptr) {
      g_host->log(g_host->context, CONNECTOR_LOG_INFO, text("abi-1-0 exchanged a code"));
    }
    return CONNECTOR_STATUS_OK;
  } catch (const std::exception&) {
    return CONNECTOR_STATUS_INTERNAL_ERROR;
  }
}

} // namespace

extern "C" CONNECTOR_PLUGIN_EXPORT connector_status connector_plugin_negotiate(const connector_host_api* host,
                                                                               connector_plugin_api* plugin_out) {
  if (host == nullptr || plugin_out == nullptr || host->abi_major != 1) return CONNECTOR_STATUS_REFUSED;
  g_host = host;

  plugin_api_1_0 table;
  std::memset(&table, 0, sizeof table);
  table.abi_major = 1;
  table.abi_minor = kBuiltForMinor;
  table.describe = &describe;
  table.provider_create = &provider_create;
  table.provider_destroy = &provider_destroy;
  table.authorization_url = &authorization_url;
  table.exchange_code = &exchange_code;
  // refresh, revoke, check: not offered (NULL).

  // Never more than the host offers, never more than this plugin knows.
  const std::size_t size = plugin_out->struct_size < sizeof table ? plugin_out->struct_size : sizeof table;
  table.struct_size = static_cast<uint32_t>(size);
  std::memcpy(static_cast<void*>(plugin_out), &table, size);
  return CONNECTOR_STATUS_OK;
}
