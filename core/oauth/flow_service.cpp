#include "oauth/flow_service.hpp"

#include "crypto/digest.hpp"
#include "crypto/random.hpp"
#include "oauth/credentials.hpp"
#include "oauth/ids.hpp"
#include "oauth/oauth_apps.hpp"
#include "oauth/operation_runner.hpp"
#include "oauth/pkce.hpp"
#include "oauth/redirect_policy.hpp"
#include "store/store_executor.hpp"
#include "time/unix_time.hpp"
#include "json/schema_validator.hpp"

#include <algorithm>

namespace connector::core {

namespace {

// "conn_<hex>.<secret>" -> "conn_<hex>"; "" for a state of the older form (a bare secret) or
// anything that does not look like ours.
std::string connection_named_by_state(const std::string& state) {
  const std::size_t dot = state.find('.'); // npos when there is none: also past 64
  if (dot > 64 || state.compare(0, 5, "conn_") != 0) return {};
  return state.substr(0, dot);
}

ApiError options_invalid(const std::vector<SchemaViolation>& violations) {
  nlohmann::json fields = nlohmann::json::array();
  for (const auto& violation : violations) {
    fields.push_back({{"field", "o_auth_input_configuration" + violation.path}, {"message", violation.message}});
  }
  return ApiError(ErrorCode::validation_error, "o_auth_input_configuration is not valid for this connector.", {},
                  {{"errors", fields}});
}

CallbackResult page(int status, std::string message, std::string outcome) {
  CallbackResult result;
  result.page_status = status;
  result.page_message = std::move(message);
  result.outcome = std::move(outcome);
  return result;
}

// The browser goes back to the client with the flow and how it ended.
CallbackResult back_to_client(const FlowRecord& flow, const std::string& outcome) {
  CallbackResult result;
  result.redirect = true;
  result.connection_id = flow.id;
  result.slug = flow.slug;
  result.outcome = outcome;
  std::vector<std::pair<std::string, std::string>> params = {{"connection_id", flow.id}};
  if (flow.status == FlowStatus::authorized) {
    params.emplace_back("status", "success");
  } else if (flow.status == FlowStatus::consumed) { // a re-authorization, already applied
    params.emplace_back("status", "success");
    params.emplace_back("source_id", flow.source_id);
  } else {
    params.emplace_back("status", "error");
    params.emplace_back("error", flow.error_code);
    if (!flow.error_description.empty()) params.emplace_back("error_description", flow.error_description);
  }
  result.location = append_query(flow.client_redirect_url, params);
  return result;
}

} // namespace

FlowService::FlowService(StoreExecutor& store, std::shared_ptr<const ProviderDirectory> providers, OAuthApps& apps,
                         const Sealer& sealer, HttpsClient& https, FlowSettings settings)
    : store_executor_(store), providers_(std::move(providers)), apps_(apps), sealer_(sealer), https_(https),
      settings_(std::move(settings)), authorize_limiter_(settings_.authorize_per_minute),
      pending_flows_(settings_.max_pending_flows) {}

void FlowService::replace_providers(std::shared_ptr<const ProviderDirectory> providers) {
  auto previous = providers_.exchange(std::move(providers));
  const auto now = std::chrono::steady_clock::now();
  const std::lock_guard lock(retained_mutex_);
  std::erase_if(retained_, [&](const Retained& retained) { return retained.until <= now; });
  // A flow lives state_ttl until its callback, then authorized_ttl until its completion.
  if (previous) {
    retained_.push_back(
        {std::move(previous), now + settings_.state_ttl + settings_.authorized_ttl + std::chrono::minutes(1)});
  }
}

std::optional<ConfiguredProvider> FlowService::provider_for(const FlowRecord& flow) const {
  auto current = providers()->find(flow.slug);
  if (current && (flow.plugin_build.empty() || current->module->build_id() == flow.plugin_build)) {
    return current;
  }
  const auto now = std::chrono::steady_clock::now();
  const std::lock_guard lock(retained_mutex_);
  for (auto it = retained_.rbegin(); it != retained_.rend(); ++it) {
    if (it->until <= now) continue;
    auto old = it->directory->find(flow.slug);
    if (old && old->module->build_id() == flow.plugin_build) return old;
  }
  return current;
}

std::shared_ptr<const ProviderDirectory> FlowService::providers() const { return providers_.load(); }

boost::asio::awaitable<Expected<AuthorizeResult>> FlowService::authorize(AuthorizeRequest request) {
  // First, before any work: a flood from one organization costs the host next to nothing.
  if (const int64_t wait = authorize_limiter_.acquire(request.organization_id); wait > 0) {
    co_return ApiError(ErrorCode::authorize_rate_limited, {}, {},
                       {{"retry_after_seconds", wait}, {"limit_per_minute", settings_.authorize_per_minute}});
  }
  const auto directory = providers();
  if (!request.target_source_id.empty()) {
    // A re-authorization runs in the source's own workspace, for its own connector.
    const auto source = co_await store_executor_.run(
        [&](Store& store) { return store.find_source(request.organization_id, request.target_source_id); });
    if (!source) {
      co_return ApiError(ErrorCode::source_not_found, {}, {}, {{"source_id", request.target_source_id}});
    }
    if (source->auth_type != "oauth2.0") {
      co_return ApiError(ErrorCode::validation_error, "Only a source made by an OAuth flow can be re-authorized.", {},
                         {{"source_id", source->id}, {"auth_type", source->auth_type}});
    }
    request.source_definition_id = source->source_definition_id;
    request.workspace_id = source->workspace_id;
  }
  std::optional<ConfiguredProvider> provider;
  if (!request.source_definition_id.empty()) {
    provider = directory->find_by_definition(request.source_definition_id);
    if (!provider) {
      co_return ApiError(ErrorCode::source_definition_not_found, {}, {},
                         {{"source_definition_id", request.source_definition_id}});
    }
    request.slug = provider->module->descriptor().slug;
  } else {
    provider = directory->find(request.slug);
    if (!provider) co_return ApiError(ErrorCode::connector_not_found, {}, {}, {{"slug", request.slug}});
  }
  const auto resolved = co_await apps_.resolve(*provider, request.organization_id, request.workspace_id);
  if (!resolved) co_return resolved.error();
  const ProviderInstance& instance = *resolved->instance;
  const PluginDescriptor& descriptor = provider->module->descriptor();

  auto redirect = settings_.host_allowed_redirects.normalize(request.client_redirect_url);
  if (!redirect) co_return redirect.error();

  const bool no_options = request.options.is_object() && request.options.empty();
  if (!no_options || !descriptor.empty_flow_options_valid) {
    if (const auto violations = validate_against_schema(request.options, *descriptor.flow_options_schema);
        !violations.empty()) {
      co_return options_invalid(violations);
    }
  }

  const int64_t now = unix_now();
  FlowRecord flow;
  flow.organization_id = request.organization_id;
  flow.slug = request.slug;
  flow.source_definition_id = request.source_definition_id;
  flow.workspace_id = request.workspace_id;
  flow.client_redirect_url = redirect->full;
  flow.callback_uri = settings_.callback_uri;
  flow.flow_options_json = request.options.dump();
  flow.target_source_id = request.target_source_id;
  flow.oauth_app_scope = resolved->scope;
  flow.plugin_build = provider->module->build_id();
  flow.created_at = now;
  flow.updated_at = now;
  flow.expires_at = now + settings_.state_ttl.count();
  const bool allowed_host_wide = settings_.host_allowed_redirects.allows(*redirect);

  if (const int64_t wait = pending_flows_.try_start(request.organization_id, now, flow.expires_at); wait > 0) {
    co_return ApiError(ErrorCode::too_many_pending_flows, {}, {},
                       {{"retry_after_seconds", wait}, {"max_pending_flows", settings_.max_pending_flows}});
  }
  PendingFlowCap::Reservation counted(pending_flows_, request.organization_id, flow.expires_at);

  flow.id = make_id("conn");
  // The state names its flow, followed by 256 bits from the CSPRNG; only its hash
  // is stored, so a database leak cannot answer a callback.
  const std::string state = flow.id + "." + random_token(256);
  flow.state_hash = sha256_hex(state);
  flow.state_names_connection = true;
  FlowParams params;
  params.callback_uri = settings_.callback_uri;
  params.state = state;
  params.options_json = flow.flow_options_json;
  if (descriptor.supports_pkce) {
    const std::string verifier = make_pkce_verifier();
    params.code_challenge = pkce_s256_challenge(verifier);
    flow.sealed_code_verifier = sealer_.seal(verifier, flow_sealing_context(flow.id, "code_verifier"));
  }

  const OperationResult url = instance.authorization_url(params);
  if (!url.ok()) {
    if (url.status == CONNECTOR_STATUS_INVALID_INPUT) {
      co_return ApiError(ErrorCode::validation_error, short_text(url.error_description));
    }
    co_return ApiError(ErrorCode::connector_oauth_failed, "The connector could not build the consent URL.",
                       short_text(url.error_description), {{"slug", request.slug}});
  }

  // One store job: the allow-list check and the insert see the same moment. Its one
  // write is the insert at its end, so it needs no savepoint of its own
  // (JobUndo::statement).
  const std::optional<ApiError> refused = co_await store_executor_.run(
      [&](Store& store) -> std::optional<ApiError> {
        if (!allowed_host_wide) {
          std::vector<std::string> keys;
          for (const auto& entry : store.list_allowed_redirects(request.organization_id))
            keys.push_back(entry.url);
          if (!redirect_allowed(*redirect, keys)) {
            return ApiError(ErrorCode::redirect_url_not_allowed, {}, {}, {{"redirect_url", redirect->key}});
          }
        }
        if (!request.workspace_id.empty() && !store.find_workspace(request.organization_id, request.workspace_id)) {
          return ApiError(ErrorCode::workspace_not_found, {}, {}, {{"workspace_id", request.workspace_id}});
        }
        store.insert_flow(flow);
        return std::nullopt;
      },
      JobUndo::statement);
  if (refused) co_return *refused;
  counted.keep();
  if (events_) events_("flow started", {{"slug", flow.slug}, {"connection_id", flow.id}});
  co_return AuthorizeResult{url.authorization_url, flow.id, flow.expires_at};
}

boost::asio::awaitable<CallbackResult> FlowService::callback(CallbackQuery query) {
  if (!query.state || query.state->empty() || query.state->size() > 512) {
    co_return page(400, "This sign-in link is missing its state. Start again from the application.", "state_missing");
  }
  const std::string state_hash = sha256_hex(*query.state);
  const int64_t now = unix_now();

  // Claim the state: exactly one callback can move a pending flow on. The hash is
  // replaced so that a replay finds nothing, and nothing else changes on refusal.
  const std::string named_connection = connection_named_by_state(*query.state);
  auto claimed = co_await store_executor_.run([&](Store& store) -> std::variant<FlowRecord, CallbackResult> {
    auto found =
        named_connection.empty() ? store.find_flow_by_state_hash(state_hash) : store.find_flow_by_id(named_connection);
    // Found by id, the state must still match the stored hash (compared in constant time).
    if (!found || found->status != FlowStatus::pending || !constant_time_equals(found->state_hash, state_hash)) {
      return page(400, "This sign-in link is unknown or was already used. Start again from the application.",
                  "state_invalid");
    }
    if (found->expires_at <= now) {
      return page(400, "This sign-in link has expired. Start again from the application.", "state_expired");
    }
    FlowRecord flow = *found;
    flow.state_hash = "used:" + flow.id;
    flow.updated_at = now;
    if (!store.update_flow(flow)) {
      return page(409, "This sign-in link is being used by another request.", "state_race");
    }
    flow.version += 1;
    return flow;
  });
  if (auto* refused = std::get_if<CallbackResult>(&claimed)) co_return *refused;
  FlowRecord flow = std::get<FlowRecord>(std::move(claimed));
  pending_flows_.ended(flow.organization_id, flow.expires_at);

  // `detail` goes to the log only, never to the browser or the client.
  const auto fail = [&](std::string code, std::string description, std::string outcome,
                        std::string detail = {}) -> boost::asio::awaitable<CallbackResult> {
    flow.status = FlowStatus::failed;
    flow.error_code = std::move(code);
    flow.error_description = short_text(description);
    // An ended flow keeps no secret: the verifier can serve no other exchange.
    flow.sealed_code_verifier.clear();
    flow.sealed_credentials.clear();
    flow.updated_at = unix_now();
    const FlowRecord snapshot = flow;
    co_await store_executor_.run([&](Store& store) { return store.update_flow(snapshot); });
    if (events_) {
      nlohmann::json fields = {
          {"slug", flow.slug}, {"connection_id", flow.id}, {"reason", outcome}, {"error", flow.error_code}};
      if (!detail.empty()) fields["detail"] = short_text(detail);
      events_("flow failed", fields);
    }
    co_return back_to_client(flow, outcome);
  };

  const auto provider = provider_for(flow);
  if (!provider) {
    co_return co_await fail("connector_unavailable", "The connector is no longer available.", "connector_unavailable");
  }
  const auto resolved = co_await apps_.for_scope(*provider, flow.organization_id, flow.oauth_app_scope);
  if (!resolved) {
    co_return co_await fail("connector_unavailable", "The connector or its OAuth app is no longer available.",
                            "connector_unavailable");
  }
  const ProviderInstance& instance = *resolved->instance;

  // RFC 9207: an `iss` that is present must be the issuer this flow was started against, and
  // for a provider that declares an issuer, a response carrying a code must name it (§2.4:
  // otherwise a mix-up attacker simply leaves it out). An error response without `iss` still
  // ends the flow as the provider's error: it carries no code to exchange, and Google's
  // omits `iss` (providers.md).
  if (!instance.issuer().empty()) {
    if (query.iss && !constant_time_equals(*query.iss, instance.issuer())) {
      co_return co_await fail("invalid_issuer", "The authorization response came from an unexpected issuer.",
                              "issuer_mismatch");
    }
    if (!query.iss && !query.error) {
      co_return co_await fail("invalid_issuer", "The authorization response did not name its issuer.",
                              "issuer_missing");
    }
  }
  if (query.error) {
    co_return co_await fail(short_text(*query.error, 64), query.error_description.value_or(""), "provider_error");
  }
  if (!query.code || query.code->empty() || query.code->size() > 4096) {
    co_return co_await fail("invalid_request", "The authorization response carried no code.", "code_missing");
  }

  FlowParams params;
  params.callback_uri = flow.callback_uri;
  params.code = *query.code;
  params.options_json = flow.flow_options_json;
  params.callback_parameters_json = callback_parameters_json(query.other_parameters);
  if (!flow.sealed_code_verifier.empty()) {
    auto verifier = sealer_.open(flow.sealed_code_verifier, flow_sealing_context(flow.id, "code_verifier"));
    if (!verifier)
      co_return co_await fail("server_error", "The flow's stored secrets could not be read.", "unsealable");
    params.code_verifier = std::move(*verifier);
  }

  const OperationRun run = co_await run_operation(https_, instance, Operation::exchange_code, params);
  if (!run.result.ok()) {
    std::string code = failure_code(run.result);
    if (run.transport_failure != HttpsFailure::none) {
      // The network's own words (resolver messages, host names, addresses) describe our side,
      // not the user's sign-in: they go to the log; the browser gets the stable code
      // (provider_unreachable, provider_timeout, ...) and a fixed text.
      co_return co_await fail(std::move(code), "The provider could not be reached to finish the sign-in.",
                              "exchange_failed", run.result.error_description);
    }
    co_return co_await fail(std::move(code), run.result.error_description, "exchange_failed");
  }

  const Credentials credentials = Credentials::from_result(run.result, unix_now());
  if (!flow.target_source_id.empty()) {
    if (auto refused = co_await update_reauthorized_source(flow, credentials)) {
      co_return co_await fail(refused->code, refused->description, "reauthorize_failed");
    }
    flow.status = FlowStatus::consumed;
    flow.source_id = flow.target_source_id;
    flow.sealed_code_verifier.clear();
    flow.account_id = credentials.account_id;
    flow.account_name = credentials.account_name;
    flow.updated_at = unix_now();
    const FlowRecord consumed = flow;
    co_await store_executor_.run([&](Store& store) { return store.update_flow(consumed); });
    if (events_) {
      events_("flow authorized", {{"slug", flow.slug}, {"connection_id", flow.id}});
      events_("flow completed", {{"slug", flow.slug}, {"source_id", flow.source_id}, {"reauthorized", true}});
    }
    CallbackResult result = back_to_client(flow, "reauthorized");
    result.source_id = flow.source_id;
    co_return result;
  }
  flow.status = FlowStatus::authorized;
  flow.sealed_credentials = sealer_.seal(credentials.to_json().dump(), flow_sealing_context(flow.id, "credentials"));
  flow.sealed_code_verifier.clear(); // served its purpose
  flow.granted_scopes = credentials.scopes_text();
  flow.token_expires_at = credentials.expires_at;
  flow.account_id = credentials.account_id;
  flow.account_name = credentials.account_name;
  flow.expires_at = unix_now() + settings_.authorized_ttl.count();
  flow.updated_at = unix_now();
  const FlowRecord snapshot = flow;
  const bool saved = co_await store_executor_.run([&](Store& store) { return store.update_flow(snapshot); });
  if (!saved) {
    co_return page(409, "This sign-in was completed by another request.", "state_race");
  }
  if (events_) events_("flow authorized", {{"slug", flow.slug}, {"connection_id", flow.id}});
  co_return back_to_client(flow, "authorized");
}

boost::asio::awaitable<std::optional<ReauthorizationRefused>>
FlowService::update_reauthorized_source(const FlowRecord& flow, const Credentials& credentials) {
  const int64_t now = unix_now();
  // One store job holds the write lock from read to write, so no other process slips between.
  co_return co_await store_executor_.run([&](Store& store) -> std::optional<ReauthorizationRefused> {
    auto found = store.find_source(flow.organization_id, flow.target_source_id);
    if (!found) return ReauthorizationRefused{"source_not_found", "The source no longer exists."};
    SourceRecord source = std::move(*found);
    if (auto refused = reauthorize_source(source, credentials, flow.oauth_app_scope, sealer_, now)) return refused;
    if (!store.update_source(source)) {
      return ReauthorizationRefused{"conflict", "The source changed during re-authorization."};
    }
    return std::nullopt;
  });
}

boost::asio::awaitable<Expected<SourceRecord>> FlowService::complete(CompleteRequest request) {
  const auto directory = providers();
  const int64_t now = unix_now();
  auto definition_provider = directory->find_by_definition(request.source_definition_id);

  bool created = false; // not a re-authorization's source answered again
  Expected<SourceRecord> completed = co_await store_executor_.run([&](Store& store) -> Expected<SourceRecord> {
    auto found = store.find_flow(request.organization_id, request.connection_id);
    if (!found) return ApiError(ErrorCode::connection_not_found, {}, {}, {{"connection_id", request.connection_id}});
    FlowRecord flow = std::move(*found);
    const nlohmann::json id_detail = {{"connection_id", flow.id}};
    switch (flow.status) {
    case FlowStatus::pending:
      if (flow.expires_at <= now) return ApiError(ErrorCode::connection_expired, {}, {}, id_detail);
      return ApiError(ErrorCode::connection_not_authorized, {}, {}, id_detail);
    case FlowStatus::failed:
      return ApiError(ErrorCode::connection_failed, {}, {},
                      {{"connection_id", flow.id},
                       {"provider_error", flow.error_code},
                       {"provider_error_description", flow.error_description}});
    case FlowStatus::consumed:
      // A re-authorization was applied when the provider redirected back: answer its source.
      if (!flow.target_source_id.empty()) {
        if (auto source = store.find_source(request.organization_id, flow.source_id)) return *source;
      }
      return ApiError(ErrorCode::connection_already_used, {}, {},
                      {{"connection_id", flow.id}, {"source_id", flow.source_id}});
    case FlowStatus::expired: return ApiError(ErrorCode::connection_expired, {}, {}, id_detail);
    case FlowStatus::authorized: break;
    }
    if (flow.expires_at <= now) return ApiError(ErrorCode::connection_expired, {}, {}, id_detail);

    if (!definition_provider) {
      // The plugin may have been removed or replaced since the flow started: the build the
      // flow ran on still knows its definitions while it is retained.
      if (auto started_on = provider_for(flow)) {
        for (const auto& definition : started_on->module->descriptor().source_definitions) {
          if (definition.id == request.source_definition_id) definition_provider = started_on;
        }
      }
    }
    if (!definition_provider) {
      return ApiError(ErrorCode::source_definition_not_found, {}, {},
                      {{"source_definition_id", request.source_definition_id}});
    }
    if (definition_provider->module->descriptor().slug != flow.slug ||
        (!flow.source_definition_id.empty() && flow.source_definition_id != request.source_definition_id)) {
      return ApiError(ErrorCode::validation_error,
                      "source_definition_id does not belong to this connection's connector.", {},
                      {{"field", "source_definition_id"}, {"connector", flow.slug}});
    }
    if (!flow.workspace_id.empty() && flow.workspace_id != request.workspace_id) {
      return ApiError(ErrorCode::validation_error, "workspace_id differs from the one the flow was started for.", {},
                      {{"field", "workspace_id"}});
    }
    if (!store.find_workspace(request.organization_id, request.workspace_id)) {
      return ApiError(ErrorCode::workspace_not_found, {}, {}, {{"workspace_id", request.workspace_id}});
    }

    auto credentials_json = sealer_.open(flow.sealed_credentials, flow_sealing_context(flow.id, "credentials"));
    if (!credentials_json) {
      return ApiError(ErrorCode::internal_error, {}, "the connection's credentials could not be unsealed");
    }

    const NewSource made{request.organization_id, request.workspace_id, request.source_definition_id, flow.slug,
                         request.source_name};
    SourceRecord source = source_from_flow(made, flow, *credentials_json, sealer_, now);

    // The flow gives its credentials to the source and keeps none.
    flow.status = FlowStatus::consumed;
    flow.source_id = source.id;
    flow.sealed_credentials.clear();
    flow.updated_at = now;
    if (!store.update_flow(flow)) {
      return ApiError(ErrorCode::connection_already_used, {}, {}, id_detail);
    }
    store.insert_source(source);
    created = true;
    return source;
  });
  if (created && events_) {
    events_("flow completed", {{"slug", completed->slug}, {"source_id", completed->id}});
  }
  co_return completed;
}

} // namespace connector::core
