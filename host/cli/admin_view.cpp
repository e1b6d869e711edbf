// `connector-host plugins --url URL`: the running host's own view of its plugins
// (GET /v1/admin/plugins), for an operator on the host's machine. Plain HTTP only: the admin
// view is meant for the loopback address or a private network.
#include "cli/admin_view.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>

#include <iostream>
#include <stdexcept>

namespace connector::host {

namespace http = boost::beast::http;

nlohmann::json fetch_admin_json(const std::string& base_url, const std::string& path, const std::string& key) {
  const auto url = boost::urls::parse_absolute_uri(base_url);
  if (!url || url->scheme() != "http")
    throw std::runtime_error("--url must be an http:// URL, e.g. http://127.0.0.1:8080");
  const std::string host(url->host());
  const std::string port = url->has_port() ? std::string(url->port()) : "80";

  boost::asio::io_context io;
  boost::beast::tcp_stream stream(io);
  boost::asio::ip::tcp::resolver resolver(io);
  stream.connect(resolver.resolve(host, port));
  http::request<http::empty_body> request(http::verb::get, path, 11);
  request.set(http::field::host, host);
  request.set(http::field::authorization, "Bearer " + key);
  http::write(stream, request);
  boost::beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(stream, buffer, response);
  boost::beast::error_code ignored;
  stream.socket().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ignored);

  nlohmann::json body = nlohmann::json::parse(response.body(), nullptr, false);
  if (response.result() != http::status::ok) {
    const std::string message = body.is_object() && body.contains("error")
                                    ? body["error"].value("code", "") + ": " + body["error"].value("message", "")
                                    : response.body().substr(0, 200);
    throw std::runtime_error("the host answered " + std::to_string(response.result_int()) + " " + message);
  }
  if (body.is_discarded()) throw std::runtime_error("the host's answer is not JSON");
  return body;
}

void print_plugin_report(const nlohmann::json& report, std::ostream& out) {
  out << "plugins in " << report.value("plugins_dir", "") << " (watch: " << report.value("watch", "") << ", last scan "
      << report.value("scanned_at", "") << "):\n";
  for (const auto& plugin : report.value("plugins", nlohmann::json::array())) {
    out << "  " << plugin.value("slug", "") << "\t" << plugin.value("name", "") << " " << plugin.value("version", "")
        << "\tABI " << plugin.value("abi_version", "") << "\tloaded " << plugin.value("loaded_at", "") << "\tbuild "
        << plugin.value("build_id", "").substr(0, 12) << "\t" << plugin.value("file", "")
        << (plugin.value("configured", false) ? "" : "\tnot configured: " + plugin.value("configuration_error", ""))
        << "\n";
  }
  for (const auto& refusal : report.value("refusals", nlohmann::json::array()))
    out << "  refused: " << refusal.value("reason", "") << "\n";
}

} // namespace connector::host
