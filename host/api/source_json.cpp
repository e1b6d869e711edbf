#include "api/source_json.hpp"

#include "time/unix_time.hpp"

#include <optional>

namespace connector::host {

namespace {

nlohmann::json optional_time(const std::optional<int64_t>& time) {
  return time ? nlohmann::json(core::rfc3339_utc(*time)) : nlohmann::json(nullptr);
}

} // namespace

nlohmann::json source_to_json(const core::SourceRecord& source) {
  nlohmann::json configuration = nlohmann::json::parse(source.configuration_json, nullptr, false);
  if (!configuration.is_object()) configuration = nlohmann::json::object();
  nlohmann::json last_error = nlohmann::json::parse(source.last_refresh_error_json, nullptr, false);
  if (!last_error.is_object()) last_error = nullptr;
  const nlohmann::json auth = {{"type", source.auth_type},
                               {"expires_at", optional_time(source.token_expires_at)},
                               {"refreshable", source.auth_type == "oauth2.0"},
                               {"last_refreshed_at", optional_time(source.last_refreshed_at)},
                               {"consecutive_refresh_failures", source.refresh_failures},
                               {"last_refresh_error", last_error},
                               {"next_refresh_attempt_at", optional_time(source.next_refresh_at)}};
  return {{"source_id", source.id},
          {"name", source.name},
          {"source_definition_id", source.source_definition_id},
          {"workspace_id", source.workspace_id},
          {"source_type", source.slug},
          {"configuration", configuration},
          {"connection_id", source.connection_id},
          {"status", source.status},
          {"status_detail", source.status_detail},
          {"auth", auth},
          {"created_at", core::rfc3339_utc(source.created_at)},
          {"updated_at", core::rfc3339_utc(source.updated_at)}};
}

} // namespace connector::host
