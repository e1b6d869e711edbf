#include "metrics/host_metrics.hpp"

#include <boost/beast/http/verb.hpp>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <mutex>
#include <sstream>
#include <string_view>
#include <unordered_map>
#include <utility>

namespace connector::host {

struct HostMetrics::Families {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  prometheus::Family<prometheus::Counter>& requests =
      prometheus::BuildCounter()
          .Name("connector_http_requests_total")
          .Help("Answered HTTP requests by route pattern, method and status.")
          .Register(*registry);
  prometheus::Family<prometheus::Histogram>& latency =
      prometheus::BuildHistogram()
          .Name("connector_http_request_duration_seconds")
          .Help("Time from a request's arrival to its answer, by route pattern.")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& flows =
      prometheus::BuildCounter()
          .Name("connector_flows_total")
          .Help("OAuth flows by connector and event (started, authorized, failed, completed); failures by reason.")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& exchanges =
      prometheus::BuildCounter()
          .Name("connector_token_exchanges_total")
          .Help("Authorization-code exchanges with providers by connector and outcome.")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& refreshes =
      prometheus::BuildCounter()
          .Name("connector_token_refreshes_total")
          .Help("Token refreshes by connector and outcome (ok, transient_failure, needs_reauth).")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& plugins =
      prometheus::BuildGauge()
          .Name("connector_plugins")
          .Help("Plugin files in the plugins folder by state (loaded, refused).")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& scans =
      prometheus::BuildGauge()
          .Name("connector_plugin_scans")
          .Help("Scans of the plugins folder since the host started (the first load included).")
          .Register(*registry);

  // The series each request touches, found once: Family::Add builds a label map, hashes it
  // and locks the family at every call, which cost a request more than counting itself.
  // Keyed by the labels' values joined with '\0'; bounded, since labels are route patterns,
  // methods, statuses, slugs and outcomes.
  std::mutex series_mutex;
  std::unordered_map<std::string, std::pair<prometheus::Counter*, prometheus::Histogram*>> request_series;
  std::unordered_map<std::string, prometheus::Counter*> flow_series;

  std::pair<prometheus::Counter*, prometheus::Histogram*> request(const std::string& route, const std::string& method,
                                                                  unsigned status);
  prometheus::Counter& flow(const std::string& slug, const char* event, const std::string& reason);
};

namespace {

const prometheus::Histogram::BucketBoundaries& latency_buckets() {
  static const prometheus::Histogram::BucketBoundaries buckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                                  0.05,   0.1,   0.25,   0.5,   1,    2.5};
  return buckets;
}

std::string series_key(std::initializer_list<std::string_view> values) {
  std::string key;
  for (const std::string_view value : values)
    key.append(value).push_back('\0');
  return key;
}

std::string text(const nlohmann::json& fields, const char* name) {
  const auto it = fields.find(name);
  return it != fields.end() && it->is_string() ? it->get<std::string>() : std::string();
}

} // namespace

std::pair<prometheus::Counter*, prometheus::Histogram*>
HostMetrics::Families::request(const std::string& route, const std::string& method, unsigned status) {
  const std::string code = std::to_string(status);
  const std::string key = series_key({route, method, code});
  const std::lock_guard lock(series_mutex);
  auto found = request_series.find(key);
  if (found == request_series.end()) {
    found = request_series
                .emplace(key, std::make_pair(&requests.Add({{"route", route}, {"method", method}, {"status", code}}),
                                             &latency.Add({{"route", route}}, latency_buckets())))
                .first;
  }
  return found->second;
}

prometheus::Counter& HostMetrics::Families::flow(const std::string& slug, const char* event,
                                                 const std::string& reason) {
  const std::string key = series_key({slug, event, reason});
  const std::lock_guard lock(series_mutex);
  auto found = flow_series.find(key);
  if (found == flow_series.end()) {
    found = flow_series.emplace(key, &flows.Add({{"slug", slug}, {"event", event}, {"reason", reason}})).first;
  }
  return *found->second;
}

HostMetrics::HostMetrics(std::function<nlohmann::json()> plugin_report)
    : families_(std::make_unique<Families>()), plugin_report_(std::move(plugin_report)) {}

HostMetrics::~HostMetrics() = default;

void HostMetrics::request(const std::string& route, const std::string& method, unsigned status, double seconds) {
  // A client may send any token as its method: only HTTP's own are labels, so that made-up
  // ones cannot grow the series without bound.
  static const std::string other = "OTHER";
  const bool known = boost::beast::http::string_to_verb(method) != boost::beast::http::verb::unknown;
  const auto [requests, latency] = families_->request(route, known ? method : other, status);
  requests->Increment();
  latency->Observe(seconds);
}

void HostMetrics::event(const std::string& name, const nlohmann::json& fields) {
  const std::string slug = text(fields, "slug");
  if (name == "flow started") {
    families_->flow(slug, "started", "").Increment();
  } else if (name == "flow authorized") {
    families_->flow(slug, "authorized", "").Increment();
    families_->exchanges.Add({{"slug", slug}, {"outcome", "ok"}}).Increment();
  } else if (name == "flow failed") {
    const std::string reason = text(fields, "reason");
    families_->flow(slug, "failed", reason).Increment();
    if (reason == "exchange_failed") families_->exchanges.Add({{"slug", slug}, {"outcome", "failed"}}).Increment();
  } else if (name == "flow completed") {
    families_->flow(slug, "completed", "").Increment();
  } else if (name == "token refreshed") {
    families_->refreshes.Add({{"slug", slug}, {"outcome", "ok"}}).Increment();
  } else if (name == "token refresh failed") {
    families_->refreshes.Add({{"slug", slug}, {"outcome", "transient_failure"}}).Increment();
  } else if (name == "source needs re-authorization") {
    families_->refreshes.Add({{"slug", slug}, {"outcome", "needs_reauth"}}).Increment();
  }
}

std::string HostMetrics::scrape() const {
  if (plugin_report_) {
    const nlohmann::json report = plugin_report_();
    families_->plugins.Add({{"state", "loaded"}})
        .Set(static_cast<double>(report.value("plugins", nlohmann::json::array()).size()));
    families_->plugins.Add({{"state", "refused"}})
        .Set(static_cast<double>(report.value("refusals", nlohmann::json::array()).size()));
    families_->scans.Add({}).Set(static_cast<double>(report.value("scans", int64_t{0})));
  }
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families_->registry->Collect());
  return out.str();
}

} // namespace connector::host
