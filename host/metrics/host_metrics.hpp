// What the host counts, exposed at GET /metrics in the Prometheus text format. Built on
// prometheus-cpp's core library (Debian's prometheus-cpp-dev) for the metric types and the
// exposition; the host's own server answers the scrape, so no second listener is opened.
//
// Labels carry routes (patterns, never concrete ids), slugs, outcomes and status codes only:
// nothing from a request's values, so nothing secret and no unbounded label sets.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <string>

namespace connector::host {

class HostMetrics {
public:
  // `plugin_report` is read at each scrape for the plugin gauges (see PluginCatalog::report).
  explicit HostMetrics(std::function<nlohmann::json()> plugin_report = {});
  ~HostMetrics();
  HostMetrics(const HostMetrics&) = delete;
  HostMetrics& operator=(const HostMetrics&) = delete;

  // One answered request: its route pattern ("unmatched" when none), method ("OTHER" for a
  // token that is not an HTTP method) and status.
  void request(const std::string& route, const std::string& method, unsigned status, double seconds);
  // An event of the flow and token services ("flow started", "token refreshed", ...) with
  // its fields; the ones that count are counted, the rest ignored.
  void event(const std::string& name, const nlohmann::json& fields);

  // The exposition, text format 0.0.4.
  std::string scrape() const;

private:
  struct Families;
  std::unique_ptr<Families> families_;
  std::function<nlohmann::json()> plugin_report_;
};

} // namespace connector::host
