#include "integration/flow_driver.hpp"

#include <connector/encoding.hpp>

#include <condition_variable>
#include <fstream>
#include <iterator>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

namespace connector::testing {

namespace {

std::string ca_file() { return (tls_dir() / "ca.pem").string(); }

} // namespace

HttpResult api_call(const std::string& method, const std::string& url, const std::string& key,
                    const nlohmann::json& body) {
  std::map<std::string, std::string> headers = {{"Authorization", "Bearer " + key}};
  if (body.is_null()) return http_request(method, url, headers);
  headers["Content-Type"] = "application/json";
  return http_request(method, url, headers, body.dump());
}

std::string consent_and_callback(const std::string& authorization_url) {
  const auto consent = http_request("GET", authorization_url, {}, {}, ca_file());
  if (consent.status != 302) {
    throw std::runtime_error("the double's consent answered " + std::to_string(consent.status) + ": " + consent.body);
  }
  const auto back = http_request("GET", consent.header("location"));
  if (back.status != 302) {
    throw std::runtime_error("the host callback answered " + std::to_string(back.status) + ": " + back.body);
  }
  return back.header("location");
}

FlowResult run_flow(const HostProcess& host, const std::string& org, const std::string& key,
                    const std::string& workspace_id, const std::string& definition_id, const std::string& name) {
  FlowResult flow;
  const auto started = api_post(
      host.api(org) + "/sources/oauth", key,
      {{"source_definition_id", definition_id}, {"workspace_id", workspace_id}, {"redirect_url", client_redirect}});
  if (started.status != 200) throw std::runtime_error("sources/oauth answered " + started.body);
  flow.connection_id = started.json().value("connection_id", "");
  flow.consent_url = started.json().value("consent_url", "");
  const std::string location = consent_and_callback(flow.consent_url);
  if (query_param(location, "status") != "success") throw std::runtime_error("the flow ended with " + location);
  const auto created = api_post(host.api(org) + "/sources/oauth/callback", key,
                                {{"connection_id", flow.connection_id},
                                 {"workspace_id", workspace_id},
                                 {"source_definition_id", definition_id},
                                 {"source_name", name}});
  if (created.status != 200) throw std::runtime_error("sources/oauth/callback answered " + created.body);
  flow.source = created.json();
  return flow;
}

std::string mint_github_token(const ProviderDouble& provider, const std::string& client_id,
                              const std::string& client_secret) {
  const std::string redirect = "https://app.example.com/own-token";
  const auto consent = http_request(
      "GET",
      sdk::with_query(
          provider.base_url() + "/login/oauth/authorize",
          {{"client_id", client_id}, {"redirect_uri", redirect}, {"scope", "repo read:user"}, {"state", "minted"}}),
      {}, {}, ca_file());
  const std::string code = query_param(consent.header("location"), "code");
  if (consent.status != 302 || code.empty()) throw std::runtime_error("the double gave no code: " + consent.body);
  const auto token = http_request(
      "POST", provider.base_url() + "/login/oauth/access_token",
      {{"Content-Type", "application/x-www-form-urlencoded"}, {"Accept", "application/json"}},
      sdk::form_encode(
          {{"client_id", client_id}, {"client_secret", client_secret}, {"code", code}, {"redirect_uri", redirect}}),
      ca_file());
  const std::string access = token.json().value("access_token", "");
  if (access.empty()) throw std::runtime_error("the double gave no token: " + token.body);
  return access;
}

bool github_token_works(const ProviderDouble& provider, const std::string& token) {
  return http_request("GET", provider.base_url() + "/user", {{"Authorization", "Bearer " + token}}, {}, ca_file())
             .status == 200;
}

bool google_token_works(const ProviderDouble& provider, const std::string& token) {
  return http_request("GET", provider.base_url() + "/drive/v3/about?fields=user",
                      {{"Authorization", "Bearer " + token}}, {}, ca_file())
             .status == 200;
}

HttpResult request_access_token(const HostProcess& host, const std::string& org, const std::string& key,
                                const std::string& source_id, bool force_refresh) {
  const nlohmann::json body = force_refresh ? nlohmann::json{{"force_refresh", true}} : nlohmann::json::object();
  return api_post(host.api(org) + "/sources/" + source_id + "/access-token", key, body);
}

nlohmann::json get_source(const HostProcess& host, const std::string& org, const std::string& key,
                          const std::string& source_id) {
  const auto fetched = api_get(host.api(org) + "/sources/" + source_id, key);
  return fetched.status == 200 ? fetched.json() : nlohmann::json();
}

std::filesystem::path database_file(const std::filesystem::path& data_dir) {
  return data_dir / "connector-host.sqlite3";
}

std::string sqlite_query(const std::filesystem::path& data_dir, const std::string& sql) {
  auto result = run_command({"/usr/bin/sqlite3", "-readonly", database_file(data_dir).string(), sql}, {});
  while (!result.output.empty() && (result.output.back() == '\n' || result.output.back() == '\r'))
    result.output.pop_back();
  return result.output;
}

std::string file_bytes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return {};
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string hex_to_bytes(const std::string& hex) {
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

void run_concurrently(int n, const std::function<void(int)>& fn) {
  std::mutex mutex;
  std::condition_variable go;
  bool released = false;
  std::vector<std::thread> threads;
  threads.reserve(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      {
        std::unique_lock lock(mutex);
        go.wait(lock, [&] { return released; });
      }
      fn(i);
    });
  }
  {
    std::lock_guard lock(mutex);
    released = true;
  }
  go.notify_all();
  for (auto& thread : threads)
    thread.join();
}

::testing::AssertionResult is_error(const HttpResult& result, int status, const std::string& code) {
  const auto body = result.json();
  if (result.status != status) {
    return ::testing::AssertionFailure() << "HTTP " << result.status << " instead of " << status << ": " << result.body;
  }
  if (!body.is_object() || body.value("success", true) != false || !body.contains("error") ||
      !body["error"].is_object()) {
    return ::testing::AssertionFailure() << "not the error envelope: " << result.body;
  }
  const auto& error = body["error"];
  if (error.value("code", "") != code) {
    return ::testing::AssertionFailure() << "error.code " << error.value("code", "") << " instead of " << code << ": "
                                         << result.body;
  }
  if (error.value("status", 0) != status) return ::testing::AssertionFailure() << "error.status: " << result.body;
  for (const char* member : {"message", "type", "details", "trace_id", "timestamp"}) {
    if (!error.contains(member)) return ::testing::AssertionFailure() << "no error." << member << ": " << result.body;
  }
  return ::testing::AssertionSuccess();
}

int stat_count(const nlohmann::json& stats, const std::string& outcome) {
  const auto responses = stats.find("token_responses");
  if (responses == stats.end() || !responses->contains(outcome)) return 0;
  return (*responses)[outcome].get<int>();
}

} // namespace connector::testing
