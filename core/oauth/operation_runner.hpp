// Drives one network operation of a plugin to its end: asks the plugin for a request, sends
// it with the HTTPS client (to the instance's allowed hosts only), hands the answer back,
// and repeats while the plugin asks for more (e.g. GitHub's /user after the token).
#pragma once

#include "net/https_client.hpp"
#include "plugins/loaded_plugin.hpp"

#include <boost/asio/awaitable.hpp>

#include <functional>

namespace connector::core {

struct OperationRun {
  OperationResult result; // status OK or an error status with error_code/description
  int requests_sent = 0;
  HttpsFailure transport_failure = HttpsFailure::none; // set when the network, not the provider, failed
};

// A provider's text cut to `limit` bytes, control characters blanked: fit to be stored in a
// status or written in a log line (the SDK's sanitize_description, which plugins use too).
std::string short_text(const std::string& text, std::size_t limit = 300);
// The provider's error code of a failed operation, or the status name when it gave none.
std::string failure_code(const OperationResult& result);
// "code: description" of a failed operation, shortened.
std::string failure_text(const OperationResult& result);

// Sees each request a plugin made and the provider's answer to it (`providers try` shows them).
using ExchangeObserver = std::function<void(const OutgoingRequest& request, const ProviderAnswer& answer)>;

// A transport failure becomes CONNECTOR_STATUS_TRANSIENT with error_code "provider_timeout",
// "provider_unreachable" or "provider_tls_error"; more than `max_steps` requests is a plugin
// bug (internal error).
boost::asio::awaitable<OperationRun> run_operation(HttpsClient& client, const ProviderInstance& provider,
                                                   Operation operation, FlowParams params, int max_steps = 4,
                                                   ExchangeObserver observe = nullptr);

} // namespace connector::core
