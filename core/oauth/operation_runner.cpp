#include "oauth/operation_runner.hpp"

#include <connector/oauth2.hpp>

namespace connector::core {

namespace {

const char* transport_error_code(HttpsFailure failure) {
  switch (failure) {
  case HttpsFailure::timeout: return "provider_timeout";
  case HttpsFailure::tls: return "provider_tls_error";
  case HttpsFailure::too_large: return "provider_answer_too_large";
  case HttpsFailure::not_allowed:
  case HttpsFailure::bad_url: return "provider_request_refused";
  default: return "provider_unreachable";
  }
}

} // namespace

std::string short_text(const std::string& text, std::size_t limit) { return sdk::sanitize_description(text, limit); }

std::string failure_code(const OperationResult& result) {
  return result.error_code.empty() ? status_name(result.status) : result.error_code;
}

std::string failure_text(const OperationResult& result) {
  const std::string code = failure_code(result);
  return short_text(result.error_description.empty() ? code : code + ": " + result.error_description);
}

boost::asio::awaitable<OperationRun> run_operation(HttpsClient& client, const ProviderInstance& provider,
                                                   Operation operation, FlowParams params, int max_steps,
                                                   ExchangeObserver observe) {
  OperationRun run;
  std::optional<ProviderAnswer> answer;
  for (;;) {
    run.result = provider.step(operation, params, answer ? &*answer : nullptr);
    if (run.result.status != CONNECTOR_STATUS_SEND_REQUEST) co_return run;
    if (run.requests_sent >= max_steps) {
      run.result.status = CONNECTOR_STATUS_INTERNAL_ERROR;
      run.result.error_code = "too_many_requests";
      run.result.error_description = "the plugin asked for more than " + std::to_string(max_steps) + " requests";
      co_return run;
    }
    HttpsOutcome outcome = co_await client.send(run.result.request, provider.allowed_hosts());
    ++run.requests_sent;
    if (!outcome.ok()) {
      run.transport_failure = outcome.failure;
      run.result = OperationResult{};
      // Refusals by our own egress policy are configuration problems, not the provider's.
      const bool refused = outcome.failure == HttpsFailure::not_allowed || outcome.failure == HttpsFailure::bad_url;
      run.result.status = refused ? CONNECTOR_STATUS_CLIENT_INVALID : CONNECTOR_STATUS_TRANSIENT;
      run.result.error_code = transport_error_code(outcome.failure);
      run.result.error_description = outcome.message;
      co_return run;
    }
    if (observe) observe(run.result.request, outcome.answer);
    params.continuation = run.result.continuation;
    answer = std::move(outcome.answer);
  }
}

} // namespace connector::core
