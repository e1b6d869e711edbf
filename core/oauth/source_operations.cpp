#include "oauth/source_operations.hpp"

#include "oauth/flow_service.hpp"
#include "oauth/oauth_apps.hpp"
#include "oauth/operation_runner.hpp"
#include "oauth/token_service.hpp"
#include "sources/source_rules.hpp"
#include "store/store_executor.hpp"
#include "time/unix_time.hpp"

namespace connector::core {

namespace {

CheckOutcome failed(std::string code, std::string message) {
  CheckOutcome outcome;
  outcome.failure_code = std::move(code);
  outcome.message = std::move(message);
  return outcome;
}

} // namespace

const char* to_string(Revocation revocation) {
  switch (revocation) {
  case Revocation::revoked: return "revoked";
  case Revocation::failed: return "failed";
  case Revocation::not_supported: return "not_supported";
  case Revocation::skipped: return "skipped";
  }
  return "failed";
}

boost::asio::awaitable<CheckOutcome> SourceOperations::run_check(const ProviderInstance& instance,
                                                                 const std::string& access_token,
                                                                 const nlohmann::json& metadata) {
  FlowParams params;
  params.access_token = access_token;
  if (!metadata.empty()) params.metadata_json = metadata.dump();
  const OperationRun run = co_await run_operation(https_, instance, Operation::check, params);
  if (!run.result.ok()) {
    CheckOutcome outcome = failed(failure_code(run.result), failure_text(run.result));
    // Keep the status in the code, so the caller can tell a refused token from an outage.
    if (run.result.status == CONNECTOR_STATUS_GRANT_INVALID) outcome.failure_code = "token_rejected";
    co_return outcome;
  }
  CheckOutcome outcome;
  outcome.succeeded = true;
  outcome.account_name = run.result.account_name;
  outcome.message = outcome.account_name.empty()
                        ? "The provider accepted the credentials."
                        : "The provider accepted the credentials of " + outcome.account_name + ".";
  co_return outcome;
}

boost::asio::awaitable<void> SourceOperations::mark_needs_reauth(const std::string& organization_id,
                                                                 const std::string& source_id,
                                                                 const std::string& detail) {
  const int64_t now = unix_now();
  co_await store_executor_.run([&](Store& store) {
    auto found = store.find_source(organization_id, source_id);
    if (!found) return;
    found->status = "needs_reauth";
    found->status_detail = detail;
    found->updated_at = now;
    store.update_source(*found);
  });
}

boost::asio::awaitable<Expected<CheckOutcome>> SourceOperations::test_source(const std::string& organization_id,
                                                                             const std::string& source_id) {
  auto token = co_await tokens_.access_token(organization_id, source_id);
  if (!token) {
    const ApiError& error = token.error();
    if (error.code == ErrorCode::source_not_found) co_return error;
    co_return failed(
        error_info(error.code).code,
        error.details.value("status_detail", error.message.empty() ? error_info(error.code).message : error.message));
  }
  const auto source =
      co_await store_executor_.run([&](Store& store) { return store.find_source(organization_id, source_id); });
  if (!source) co_return ApiError(ErrorCode::source_not_found, {}, {}, {{"source_id", source_id}});
  const auto entry = providers_()->find(source->slug);
  if (!entry) co_return failed("connector_not_found", "The connector '" + source->slug + "' is not installed.");
  const auto resolved = co_await apps_.for_scope(*entry, organization_id, source->oauth_app_scope);
  if (!resolved) co_return failed(error_info(resolved.error().code).code, resolved.error().system_message);

  CheckOutcome outcome =
      co_await run_check(*resolved->instance, token->credentials.access_token, token->credentials.metadata);
  outcome.token_refreshed = token->refreshed;
  if (outcome.failure_code != "token_rejected") co_return outcome;

  // Refused: a refresh may help when the grant allows one; otherwise the source needs the
  // user again, and says so in its status.
  if (source->auth_type == "oauth2.0" && !token->credentials.refresh_token.empty() && !token->refreshed) {
    auto refreshed = co_await tokens_.access_token(organization_id, source_id, /*force_refresh=*/true);
    if (!refreshed) {
      co_return failed(error_info(refreshed.error().code).code,
                       refreshed.error().details.value("status_detail", outcome.message));
    }
    outcome =
        co_await run_check(*resolved->instance, refreshed->credentials.access_token, refreshed->credentials.metadata);
    outcome.token_refreshed = refreshed->refreshed;
    if (outcome.failure_code != "token_rejected") co_return outcome;
  }
  if (source->auth_type == "oauth2.0") co_await mark_needs_reauth(organization_id, source_id, outcome.message);
  co_return outcome;
}

boost::asio::awaitable<Expected<SourceRecord>>
SourceOperations::import_grant(const NewSource& made, nlohmann::json configuration, const Credentials& credentials) {
  const auto entry = providers_()->find_by_definition(made.source_definition_id);
  if (!entry) {
    co_return ApiError(ErrorCode::source_definition_not_found, {}, {},
                       {{"source_definition_id", made.source_definition_id}});
  }
  if (!entry->module->descriptor().supports_refresh) {
    co_return field_error("configuration.credentials.auth_type",
                          "the connector '" + made.slug +
                              "' cannot refresh a grant: bring its access token as \"auth_type\": \"access_token\"");
  }
  const auto resolved = co_await apps_.resolve(*entry, made.organization_id, made.workspace_id);
  if (!resolved) co_return resolved.error();
  const SourceRecord source =
      source_with_grant(made, std::move(configuration), credentials, resolved->scope, sealer_, unix_now());
  if (auto refused = co_await insert_in_workspace(source)) co_return *refused;
  co_return source;
}

boost::asio::awaitable<std::optional<ApiError>> SourceOperations::insert_in_workspace(const SourceRecord& source) {
  co_return co_await store_executor_.run([&](Store& store) -> std::optional<ApiError> {
    if (!store.find_workspace(source.organization_id, source.workspace_id)) {
      return ApiError(ErrorCode::workspace_not_found, {}, {}, {{"workspace_id", source.workspace_id}});
    }
    store.insert_source(source);
    return std::nullopt;
  });
}

boost::asio::awaitable<Expected<CheckOutcome>> SourceOperations::test_token(const InlineCheck& check) {
  const auto entry = providers_()->find_by_definition(check.source_definition_id);
  if (!entry) {
    co_return ApiError(ErrorCode::source_definition_not_found, {}, {},
                       {{"source_definition_id", check.source_definition_id}});
  }
  const auto resolved = co_await apps_.resolve(*entry, check.organization_id, check.workspace_id);
  if (!resolved) co_return resolved.error();
  co_return co_await run_check(*resolved->instance, check.access_token, nlohmann::json::object());
}

boost::asio::awaitable<Expected<Revocation>>
SourceOperations::delete_source(const std::string& organization_id, const std::string& source_id, bool revoke) {
  struct Erased {
    SourceRecord source;
    std::optional<Credentials> credentials;
  };
  // Erase first: the secrets are gone even if the provider never answers the revocation.
  auto erased = co_await store_executor_.run([&](Store& store) -> std::optional<Erased> {
    auto found = store.find_source(organization_id, source_id);
    if (!found) return std::nullopt;
    Erased result{*found, open_source_credentials(sealer_, *found)};
    store.delete_source(organization_id, source_id);
    return result;
  });
  if (!erased) co_return ApiError(ErrorCode::source_not_found, {}, {}, {{"source_id", source_id}});

  const SourceRecord& source = erased->source;
  if (!revoke || !erased->credentials || source.auth_type != "oauth2.0") co_return Revocation::skipped;
  const auto entry = providers_()->find(source.slug);
  if (!entry) co_return Revocation::failed;
  if (!entry->module->descriptor().supports_revoke) co_return Revocation::not_supported;
  const auto resolved = co_await apps_.for_scope(*entry, organization_id, source.oauth_app_scope);
  if (!resolved) co_return Revocation::failed;

  FlowParams params;
  params.access_token = erased->credentials->access_token;
  params.refresh_token = erased->credentials->refresh_token;
  if (!erased->credentials->metadata.empty()) params.metadata_json = erased->credentials->metadata.dump();
  const OperationRun run = co_await run_operation(https_, *resolved->instance, Operation::revoke, params);
  co_return run.result.ok() ? Revocation::revoked : Revocation::failed;
}

} // namespace connector::core
