/*
 * The whole contract between the connector host and a provider plugin.
 *
 * Pure C11 with only <stdint.h> and <stddef.h>, so that a plugin built with any compiler,
 * standard library or flags can be loaded by any host of the same major version.
 *
 * Rules that keep the contract stable (see docs/plugin-authors-guide.md):
 * - The plugin exports exactly one symbol, CONNECTOR_NEGOTIATE_SYMBOL. Everything else is
 *   reached through the two tables exchanged there.
 * - Every struct starts with `struct_size`. Structs only ever grow at the end; a minor
 *   version may append members, a major version may change anything. A reader copies
 *   min(struct_size, sizeof) and treats members past struct_size as zero/absent.
 * - Strings and blobs cross as connector_str {pointer, length}; they need not be
 *   NUL-terminated and may contain any bytes.
 * - Each pointer's owner is written on an OWNERSHIP line above it. Whoever allocates frees,
 *   through a function of the same side. Borrowed data is valid only during the call.
 * - Every function returns a connector_status and never lets an exception or longjmp cross.
 * - Plugins do no I/O: an operation that needs the network writes a request description
 *   and returns CONNECTOR_STATUS_SEND_REQUEST; the host sends it and calls the same entry
 *   again with the response.
 */
#ifndef CONNECTOR_ABI_H
#define CONNECTOR_ABI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CONNECTOR_ABI_VERSION_MAJOR 1
#define CONNECTOR_ABI_VERSION_MINOR 1

/* The one symbol a plugin exports: a connector_negotiate_fn. */
#define CONNECTOR_NEGOTIATE_SYMBOL "connector_plugin_negotiate"

#if defined(_WIN32) || defined(__CYGWIN__)
#define CONNECTOR_PLUGIN_EXPORT __declspec(dllexport)
#else
#define CONNECTOR_PLUGIN_EXPORT __attribute__((visibility("default")))
#endif

/* ---- Status codes ------------------------------------------------------------------- */

typedef int32_t connector_status;

enum {
  /* The operation finished; its result fields were written. */
  CONNECTOR_STATUS_OK = 0,
  /* A request description was written; send it and call the same entry with the answer. */
  CONNECTOR_STATUS_SEND_REQUEST = 1,
  /* The provider says the grant (code or refresh token) is dead: the user must consent
   * again (invalid_grant, bad_verification_code, bad_refresh_token). */
  CONNECTOR_STATUS_GRANT_INVALID = 2,
  /* The provider rejects the application itself: client id/secret or redirect URI are
   * wrong (invalid_client, incorrect_client_credentials, redirect_uri_mismatch). */
  CONNECTOR_STATUS_CLIENT_INVALID = 3,
  /* Any other definite refusal by the provider (invalid_scope, access_denied, ...). */
  CONNECTOR_STATUS_PROVIDER_REJECTED = 4,
  /* The answer was not understood or says "try later" (5xx, HTML, truncated JSON). */
  CONNECTOR_STATUS_TRANSIENT = 5,
  /* The input (settings, flow options) is invalid; the error fields say why. */
  CONNECTOR_STATUS_INVALID_INPUT = 6,
  /* This provider does not offer the operation. */
  CONNECTOR_STATUS_UNSUPPORTED = 7,
  /* A bug in the plugin (an exception caught at the boundary, say). */
  CONNECTOR_STATUS_INTERNAL_ERROR = 8,
  /* Negotiation refused: the plugin cannot work with this host. */
  CONNECTOR_STATUS_REFUSED = 9
};

/* ---- Plain data --------------------------------------------------------------------- */

typedef struct connector_str {
  /* OWNERSHIP: the side that passes the struct; borrowed for the duration of the call. */
  const char* data;
  size_t size;
} connector_str;

typedef struct connector_header {
  connector_str name;
  connector_str value;
} connector_header;

/* An HTTP answer the host received for a request the plugin described. */
typedef struct connector_http_response {
  uint32_t struct_size;
  uint32_t status; /* HTTP status code, e.g. 200 */
  /* OWNERSHIP: host; borrowed for the duration of the call. */
  const connector_header* headers;
  size_t header_count;
  connector_str body;
} connector_http_response;

/* What the host knows about one flow when it calls an operation. Members that do not apply
 * to an operation are empty ({NULL, 0}). */
typedef struct connector_flow_input {
  uint32_t struct_size;
  uint32_t reserved; /* zero */
  /* The host's provider-facing callback; sent verbatim in consent and token requests. */
  connector_str redirect_uri;
  connector_str state;
  /* PKCE S256 challenge (consent URL) and verifier (code exchange); empty without PKCE. */
  connector_str code_challenge;
  connector_str code_verifier;
  /* The authorization code from the provider's redirect. */
  connector_str code;
  connector_str access_token;
  connector_str refresh_token;
  /* Per-flow options as a JSON object, already validated against the descriptor's
   * flow_options_schema; empty means none. */
  connector_str options_json;
  /* What the plugin wrote as CONNECTOR_FIELD_CONTINUATION on the previous step of this
   * operation; empty on the first step. */
  connector_str continuation;
  /* ABI 1.0 ends here. */
  /* 1.1: the grant's metadata as the plugin last wrote it (CONNECTOR_FIELD_METADATA), a JSON
   * object of strings, for refresh, revoke and check; empty means none. */
  connector_str metadata_json;
  /* 1.1: exchange_code: the provider's redirect's query parameters other than code, state,
   * iss, error and error_description (QuickBooks' realmId, Shopify's shop), as a JSON object of
   * strings; untrusted, like everything on that redirect. */
  connector_str callback_parameters_json;
} connector_flow_input;

/* ---- Results: the host's writer ----------------------------------------------------- */

/* The fields a plugin can write. Values are never reused; new ones are appended. */
enum {
  CONNECTOR_FIELD_ERROR_CODE = 1,        /* provider's error code, e.g. "invalid_grant" */
  CONNECTOR_FIELD_ERROR_DESCRIPTION = 2, /* human-readable; never a secret */
  CONNECTOR_FIELD_DESCRIPTOR = 3,        /* describe: the descriptor JSON document */
  CONNECTOR_FIELD_ALLOWED_HOST = 4,      /* provider_create: a host it talks to (repeatable); 1.1:
                                          * "*.example.com", any one label under example.com
                                          * (a 1.0 host matches it against nothing) */
  CONNECTOR_FIELD_ISSUER = 5,            /* provider_create: expected RFC 9207 issuer */
  CONNECTOR_FIELD_AUTHORIZATION_URL = 6, /* authorization_url: the consent URL */
  CONNECTOR_FIELD_REQUEST_METHOD = 7,    /* with SEND_REQUEST: "GET", "POST", ... */
  CONNECTOR_FIELD_REQUEST_URL = 8,       /* with SEND_REQUEST: absolute https URL */
  CONNECTOR_FIELD_REQUEST_BODY = 9,      /* with SEND_REQUEST: raw body bytes */
  CONNECTOR_FIELD_CONTINUATION = 10,     /* with SEND_REQUEST: handed back on the next step; may hold
                                          * tokens, so the host keeps it in memory only, never logs it */
  CONNECTOR_FIELD_ACCESS_TOKEN = 11,
  CONNECTOR_FIELD_REFRESH_TOKEN = 12, /* absent in a refresh result: keep the old one */
  CONNECTOR_FIELD_TOKEN_TYPE = 13,
  CONNECTOR_FIELD_GRANTED_SCOPE = 14,            /* one granted scope (repeatable) */
  CONNECTOR_FIELD_EXPIRES_IN = 15,               /* integer seconds */
  CONNECTOR_FIELD_REFRESH_TOKEN_EXPIRES_IN = 16, /* integer seconds */
  CONNECTOR_FIELD_ACCOUNT_ID = 17,               /* check/exchange: the provider's account id */
  CONNECTOR_FIELD_ACCOUNT_NAME = 18,             /* check/exchange: a login or e-mail */
  /* 1.1, exchange/refresh: what the grant says about where and what it is, never a secret
   * (Salesforce's instance_url, a Slack team id), as a JSON object of at most 20 strings; the
   * host shows it on the source and hands it back as metadata_json. A refresh result without
   * it keeps what was kept. */
  CONNECTOR_FIELD_METADATA = 19
};

/* Passed by the host to every call that produces output. The plugin calls its functions
 * any number of times during the call and never after it returns. */
typedef struct connector_writer {
  uint32_t struct_size;
  uint32_t reserved; /* zero */
  /* OWNERSHIP: host; opaque to the plugin; pass it back as the first argument. */
  void* context;
  /* Sets a text field (the host copies the bytes before returning). Fields marked
   * "repeatable" collect every value; others keep the last. */
  void (*set_string)(void* context, uint32_t field, connector_str value);
  /* Sets an integer field. */
  void (*set_integer)(void* context, uint32_t field, int64_t value);
  /* Adds a header to the request being described (with SEND_REQUEST). */
  void (*add_request_header)(void* context, connector_str name, connector_str value);
} connector_writer;

/* ---- The host's table (host -> plugin) ---------------------------------------------- */

enum { CONNECTOR_LOG_DEBUG = 0, CONNECTOR_LOG_INFO = 1, CONNECTOR_LOG_WARNING = 2, CONNECTOR_LOG_ERROR = 3 };

typedef struct connector_host_api {
  uint32_t struct_size;
  uint16_t abi_major;
  uint16_t abi_minor;
  /* OWNERSHIP: host; opaque; valid as long as the plugin is loaded. */
  void* context;
  /* Writes a log line; never pass a secret. May be called from any thread. */
  void (*log)(void* context, int32_t level, connector_str message);
} connector_host_api;

/* ---- The plugin's table (plugin -> host) -------------------------------------------- */

/* A configured provider instance; its layout is the plugin's business. */
typedef struct connector_provider connector_provider;

/* THREADS: the host calls every function of this table from its connection threads and
 * its main thread, several at once, also on one provider instance; keep an instance
 * immutable after provider_create. provider_create may run many times (once per OAuth app
 * configuration), so keep it cheap and free of side effects. No call may block on I/O: a
 * request to the network is written as CONNECTOR_STATUS_SEND_REQUEST, never made. */
typedef struct connector_plugin_api {
  uint32_t struct_size; /* written by the plugin: the bytes it filled */
  uint16_t abi_major;   /* the ABI the plugin was built against */
  uint16_t abi_minor;

  /* Writes CONNECTOR_FIELD_DESCRIPTOR: a JSON object with slug, display_name, version,
   * documentation_url, source_definitions [{id, name}], default_scopes, supports_pkce,
   * supports_refresh, supports_revoke, hosts, settings_schema, flow_options_schema. */
  connector_status (*describe)(const connector_writer* out);

  /* Configures an instance from the operator's settings (a JSON object). On success writes
   * every CONNECTOR_FIELD_ALLOWED_HOST and, if the provider has one, CONNECTOR_FIELD_ISSUER.
   * OWNERSHIP: *out_provider belongs to the plugin; release it with provider_destroy. */
  connector_status (*provider_create)(connector_str settings_json, connector_provider** out_provider,
                                      const connector_writer* out);
  /* OWNERSHIP: takes back what provider_create gave; NULL is ignored. */
  void (*provider_destroy)(connector_provider* provider);

  /* Writes CONNECTOR_FIELD_AUTHORIZATION_URL: the provider's consent page. */
  connector_status (*authorization_url)(const connector_provider* provider, const connector_flow_input* input,
                                        const connector_writer* out);

  /* The network operations. `response` is NULL on the first step and the answer to the
   * previous step's request afterwards. Each ends with OK and its result fields, a request
   * (SEND_REQUEST), or an error status with CONNECTOR_FIELD_ERROR_*. */
  connector_status (*exchange_code)(const connector_provider* provider, const connector_flow_input* input,
                                    const connector_http_response* response, const connector_writer* out);
  connector_status (*refresh)(const connector_provider* provider, const connector_flow_input* input,
                              const connector_http_response* response, const connector_writer* out);
  connector_status (*revoke)(const connector_provider* provider, const connector_flow_input* input,
                             const connector_http_response* response, const connector_writer* out);
  /* A cheap authenticated call that proves the access token works. */
  connector_status (*check)(const connector_provider* provider, const connector_flow_input* input,
                            const connector_http_response* response, const connector_writer* out);
  /* ABI 1.0 ends here; later minor versions append members below this line. */
} connector_plugin_api;

/* The bytes of a plugin table up to and including `check`: what ABI 1.0 defines, and the
 * least a 1.x host accepts (struct_size below it is refused). Members after it are optional
 * by construction: a host reads them as absent when struct_size stops short of them. */
#define CONNECTOR_PLUGIN_API_1_0_SIZE (offsetof(connector_plugin_api, check) + sizeof(void (*)(void)))

/* The exported negotiation function. The host passes its table and a zeroed plugin table
 * whose struct_size is the host's sizeof; the plugin fills at most that many bytes, sets
 * struct_size to what it filled, and returns OK, or REFUSED if it cannot serve the host's
 * ABI (the host refuses a plugin of another major version on its own as well).
 * OWNERSHIP: both tables belong to the host; the plugin keeps `host` (not `plugin_out`)
 * until it is unloaded. */
typedef connector_status (*connector_negotiate_fn)(const connector_host_api* host, connector_plugin_api* plugin_out);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* CONNECTOR_ABI_H */
