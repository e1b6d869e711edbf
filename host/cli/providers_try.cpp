// `connector-host providers try SLUG`: a live consent with real credentials, for a person adding
// a provider (a definition or a native plugin). It loads the plugins folder and the operator's
// settings as `serve` does, prints the consent URL, takes the provider's redirect on a loopback
// listener (or as a pasted URL, when the provider insists on a redirect URI of its own), runs the
// code exchange through the plugin, and shows each request and answer with every secret masked:
// the shape of the token answer (its members and their types) is what a definition's author
// needs to see. Then the check call, and a refresh when asked.
#include "cli/arguments.hpp"
#include "cli/commands.hpp"
#include "config/host_config.hpp"
#include "crypto/random.hpp"
#include "net/https_client.hpp"
#include "oauth/operation_runner.hpp"
#include "oauth/pkce.hpp"
#include "plugins/plugin_catalog.hpp"

#include <connector/encoding.hpp>
#include <connector/oauth2.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>
#include <stdexcept>

namespace connector::host {

namespace {

namespace net = boost::asio;
namespace http = boost::beast::http;
using tcp = net::ip::tcp;

constexpr const char* callback_path = "/callback";
// Members of a provider's answer that are never secrets and that an author needs to read.
constexpr const char* shown_members[] = {"token_type", "scope",     "error",        "error_description",
                                         "error_uri",  "client_id", "redirect_uri", "grant_type"};
constexpr int max_shape_depth = 6;

bool shown(const std::string& member) {
  for (const char* name : shown_members) {
    if (member == name) return true;
  }
  return false;
}

// The members and types of a provider's JSON, strings masked unless named in shown_members;
// bounded in depth and breadth (an answer is untrusted).
nlohmann::json shape_of(const nlohmann::json& value, const std::string& member, int depth) {
  if (value.is_string()) {
    if (shown(member)) return sdk::sanitize_description(value.get_ref<const std::string&>(), 200);
    return "<string, " + std::to_string(value.get_ref<const std::string&>().size()) + " characters>";
  }
  if (!value.is_structured()) return value;
  if (depth >= max_shape_depth) return "<nested deeper than " + std::to_string(max_shape_depth) + " levels>";
  if (value.is_array()) {
    nlohmann::json items = nlohmann::json::array();
    for (std::size_t i = 0; i < value.size() && i < 3; ++i)
      items.push_back(shape_of(value[i], member, depth + 1));
    if (value.size() > 3) items.push_back("<" + std::to_string(value.size() - 3) + " more>");
    return items;
  }
  nlohmann::json members = nlohmann::json::object();
  std::size_t count = 0;
  for (const auto& item : value.items()) {
    if (++count > 50) {
      members["…"] = "<" + std::to_string(value.size() - 50) + " more members>";
      break;
    }
    members[item.key()] = shape_of(item.value(), item.key(), depth + 1);
  }
  return members;
}

std::string header_value(const core::HeaderList& headers, const std::string& name) {
  for (const auto& [key, value] : headers) {
    if (boost::beast::iequals(key, name)) return value;
  }
  return {};
}

// A body as an author may see it: JSON as its shape, a form as its names.
std::string body_shape(const std::string& body, const std::string& content_type) {
  if (body.empty()) return "(empty)";
  const nlohmann::json document = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!document.is_discarded()) return shape_of(document, "", 0).dump(2);
  if (content_type.find("x-www-form-urlencoded") != std::string::npos || body.find('=') != std::string::npos) {
    nlohmann::json form = nlohmann::json::object();
    for (const auto& [name, value] : sdk::form_decode(body))
      form[name] = shape_of(value, name, 0);
    return "form " + form.dump(2);
  }
  return "<" + std::to_string(body.size()) + " bytes of " + (content_type.empty() ? "unknown type" : content_type) +
         ">";
}

// `text` with its lines after the first indented under a request or an answer.
std::string indented(std::string text) {
  for (std::size_t at = text.find('\n'); at != std::string::npos; at = text.find('\n', at + 3))
    text.replace(at, 1, "\n  ");
  return text;
}

void show_exchange(const core::OutgoingRequest& request, const core::ProviderAnswer& answer) {
  const std::size_t query = request.url.find('?');
  std::cout << "\n→ " << request.method << " " << request.url.substr(0, query) << "\n";
  if (query != std::string::npos) {
    for (const auto& [name, value] : sdk::form_decode(request.url.substr(query + 1)))
      std::cout << "  query " << name << ": " << shape_of(value, name, 0).dump() << "\n";
  }
  for (const auto& [name, value] : request.headers) {
    const bool secret = boost::beast::iequals(name, "authorization") || name.find("oken") != std::string::npos ||
                        name.find("ecret") != std::string::npos || name.find("Key") != std::string::npos;
    const std::string scheme = value.substr(0, value.find(' '));
    std::cout << "  " << name << ": "
              << (!secret                                              ? value
                  : scheme.size() < value.size() && scheme.size() < 10 ? scheme + " <masked>"
                                                                       : std::string("<masked>"))
              << "\n";
  }
  if (!request.body.empty()) {
    std::cout << "  body " << indented(body_shape(request.body, header_value(request.headers, "Content-Type"))) << "\n";
  }
  std::cout << "← " << answer.status << " " << header_value(answer.headers, "Content-Type") << "\n  "
            << indented(body_shape(answer.body, header_value(answer.headers, "Content-Type"))) << "\n";
}

// Answers requests on the loopback listener until the provider's redirect arrives (a browser
// may ask for other things first, a favicon say).
class RedirectListener {
public:
  RedirectListener(net::io_context& io, tcp::acceptor& acceptor) : io_(io), acceptor_(acceptor) {}

  // The redirect's query, or nullopt when none came within `limit`.
  std::optional<std::string> wait(std::chrono::seconds limit) {
    accept_next();
    io_.restart();
    io_.run_for(limit);
    io_.stop();
    return query_;
  }

private:
  struct Exchange {
    explicit Exchange(tcp::socket socket) : stream(std::move(socket)) {}
    boost::beast::tcp_stream stream;
    boost::beast::flat_buffer buffer;
    http::request<http::string_body> request;
    http::response<http::string_body> page;
  };

  void accept_next() {
    acceptor_.async_accept([this](boost::system::error_code error, tcp::socket socket) {
      if (error) return;
      auto exchange = std::make_shared<Exchange>(std::move(socket));
      exchange->stream.expires_after(std::chrono::seconds(10));
      http::async_read(exchange->stream, exchange->buffer, exchange->request,
                       [this, exchange](boost::system::error_code read_error, std::size_t) {
                         if (read_error) return accept_next();
                         answer(exchange);
                       });
    });
  }

  void answer(const std::shared_ptr<Exchange>& exchange) {
    const std::string target(exchange->request.target());
    const std::string_view path = callback_path;
    const bool redirect =
        target.compare(0, path.size(), path) == 0 && (target.size() == path.size() || target[path.size()] == '?');
    http::response<http::string_body>& page = exchange->page;
    page.result(redirect ? http::status::ok : http::status::not_found);
    page.version(exchange->request.version());
    page.set(http::field::content_type, "text/plain; charset=utf-8");
    page.body() = redirect ? "connector-host providers try got the redirect: you may close this window.\n"
                           : "Not the redirect.\n";
    page.keep_alive(false);
    page.prepare_payload();
    if (redirect) query_ = target.find('?') == std::string::npos ? std::string() : target.substr(target.find('?') + 1);
    http::async_write(exchange->stream, page, [this, exchange, redirect](boost::system::error_code, std::size_t) {
      if (redirect) return io_.stop();
      accept_next();
    });
  }

  net::io_context& io_;
  tcp::acceptor& acceptor_;
  std::optional<std::string> query_;
};

// Runs one coroutine on `io` to its end or the deadline.
template <typename T>
std::optional<T> run_until(net::io_context& io, net::awaitable<T> work, std::chrono::seconds limit) {
  std::optional<T> result;
  std::exception_ptr failure;
  net::co_spawn(io, std::move(work), [&](const std::exception_ptr& error, T value) {
    failure = error;
    if (!error) result = std::move(value);
  });
  io.restart();
  io.run_for(limit);
  io.stop();
  if (failure) std::rethrow_exception(failure);
  return result;
}

// The plugin's verdict on one operation: prints it; true when it succeeded.
bool report(const char* what, const core::OperationRun& run) {
  if (run.result.ok()) return true;
  std::cout << "\n"
            << what << " failed: " << core::status_name(run.result.status) << " " << core::failure_text(run.result)
            << "\n";
  return false;
}

void show_tokens(const core::OperationResult& result) {
  std::cout << "  access token: <" << result.access_token.size() << " characters>\n"
            << "  refresh token: "
            << (result.refresh_token ? "<" + std::to_string(result.refresh_token->size()) + " characters>"
                                     : std::string("none"))
            << "\n  token type: " << (result.token_type.empty() ? "(none)" : result.token_type)
            << "\n  expires in: " << (result.expires_in ? std::to_string(*result.expires_in) + " s" : "(no expiry)")
            << "\n  granted scopes:";
  for (const auto& scope : result.granted_scopes)
    std::cout << " " << scope;
  std::cout << (result.granted_scopes.empty() ? " (not said)" : "") << "\n";
  if (!result.account_id.empty()) {
    std::cout << "  account: " << result.account_id
              << (result.account_name.empty() ? "" : " (" + result.account_name + ")") << "\n";
  }
  if (!result.metadata_json.empty()) std::cout << "  metadata: " << result.metadata_json << "\n";
}

} // namespace

int run_providers_try(const std::vector<std::string>& args) {
  const Arguments arguments(args, {"listen", "redirect-uri", "scopes", "options", "timeout", "plugins-dir", "config"},
                            {"refresh"});
  const auto& words = arguments.positional();
  if (words.size() != 2) throw std::invalid_argument(providers_usage);
  const std::string& slug = words[1];
  const auto env = core::process_environment();
  const HostConfig config = load_config(
      {arguments.get_or("config", ""), "", "", arguments.get_or("plugins-dir", ""), ""}, env, default_plugins_dir());
  const int timeout_seconds = std::stoi(arguments.get_or("timeout", "600"));
  if (timeout_seconds < 1 || timeout_seconds > 3600) throw std::invalid_argument("--timeout takes 1 to 3600 seconds");

  // Modules load from copies in a folder of this run's own.
  std::string loads = (std::filesystem::temp_directory_path() / "connector-try-XXXXXX").string();
  if (mkdtemp(loads.data()) == nullptr) throw std::runtime_error("cannot make a folder under the temporary directory");
  struct RemoveLater {
    std::filesystem::path path;
    ~RemoveLater() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  } remove_loads{loads};
  PluginCatalog catalog(
      {config.plugins_dir, loads, config.providers, env, [](std::string_view file, int32_t, std::string_view message) {
         std::cerr << "plugin " << file << ": " << message << "\n";
       }});
  const auto provider = catalog.providers()->find(slug);
  if (!provider) {
    std::cout << "no provider " << slug << " in " << config.plugins_dir.string() << "\n";
    return 1;
  }
  if (!provider->instance) {
    std::string prefix = "CONNECTOR_";
    for (const char c : slug)
      prefix.push_back(c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    std::cout << slug << " is not configured: " << provider->configuration_error << "\nset its settings as for serve ("
              << prefix << "_CLIENT_ID, " << prefix << "_CLIENT_SECRET, ...; see connector-host --help)\n";
    return 1;
  }
  const core::ProviderInstance& instance = *provider->instance;

  net::io_context io(1);
  std::optional<tcp::acceptor> listener;
  std::string redirect_uri = arguments.get_or("redirect-uri", "");
  if (redirect_uri.empty()) {
    const auto [host, port] = split_listen_address(arguments.get_or("listen", "127.0.0.1:8976"));
    listener.emplace(io, tcp::endpoint(net::ip::make_address(host), port));
    redirect_uri = "http://" + host + ":" + std::to_string(listener->local_endpoint().port()) + callback_path;
  }
  nlohmann::json options = nlohmann::json::parse(arguments.get_or("options", "{}"), nullptr, false);
  if (!options.is_object()) throw std::invalid_argument("--options takes a JSON object of flow options");
  if (const auto scopes = arguments.get("scopes")) options["scopes"] = sdk::split_scopes(*scopes);

  core::FlowParams consent;
  consent.callback_uri = redirect_uri;
  consent.state = core::random_token(128);
  const std::string verifier = core::make_pkce_verifier();
  if (provider->module->descriptor().supports_pkce) consent.code_challenge = core::pkce_s256_challenge(verifier);
  consent.options_json = options.dump();
  const core::OperationResult url = instance.authorization_url(consent);
  if (!url.ok()) {
    std::cout << "the plugin made no consent URL: " << core::failure_text(url) << "\n";
    return 1;
  }
  std::cout << "Register this redirect URI with the provider's app: " << redirect_uri << "\n"
            << "Open this URL and consent:\n"
            << url.authorization_url << "\n"
            << (listener ? "Waiting for the redirect (" + std::to_string(timeout_seconds) + " s)...\n"
                         : std::string("Then paste the URL your browser was sent to, and press Enter:\n"))
            << std::flush;

  std::string query;
  if (listener) {
    auto received = RedirectListener(io, *listener).wait(std::chrono::seconds(timeout_seconds));
    if (!received) {
      std::cout << "no redirect came within " << timeout_seconds << " s\n";
      return 1;
    }
    query = std::move(*received);
  } else {
    std::string pasted;
    if (!std::getline(std::cin, pasted)) return 1;
    query = pasted.find('?') == std::string::npos ? pasted : pasted.substr(pasted.find('?') + 1);
  }
  const sdk::Params redirect = sdk::form_decode(query);
  if (sdk::find_param(redirect, "state") != consent.state) {
    std::cout << "the redirect's state is not this consent's: refused\n";
    return 1;
  }
  if (const auto iss = sdk::find_param(redirect, "iss");
      iss && !instance.issuer().empty() && *iss != instance.issuer()) {
    std::cout << "the redirect names the issuer " << sdk::sanitize_description(*iss) << ", not " << instance.issuer()
              << " (RFC 9207): refused\n";
    return 1;
  }
  if (const auto error = sdk::find_param(redirect, "error")) {
    std::cout << "the provider refused: " << sdk::sanitize_description(*error) << " "
              << sdk::sanitize_description(sdk::find_param(redirect, "error_description").value_or("")) << "\n";
    return 1;
  }
  std::cout << "Redirect parameters:";
  for (const auto& [name, value] : redirect)
    std::cout << " " << name;
  std::cout << "\n";

  core::HttpsClientOptions client_options;
  client_options.extra_ca_file = config.ca_file;
  client_options.connect_timeout = config.provider_connect_timeout;
  client_options.total_timeout = config.provider_total_timeout;
  core::HttpsClient https(io.get_executor(), client_options);
  const auto operation_limit = std::chrono::seconds(120);
  const auto run = [&](core::Operation operation, core::FlowParams params) {
    auto done = run_until(io, core::run_operation(https, instance, operation, std::move(params), 4, &show_exchange),
                          operation_limit);
    if (!done) throw std::runtime_error(std::string(core::operation_name(operation)) + " did not end in time");
    return std::move(*done);
  };

  core::FlowParams exchange;
  exchange.callback_uri = redirect_uri;
  exchange.code = sdk::find_param(redirect, "code").value_or("");
  if (!consent.code_challenge.empty()) exchange.code_verifier = verifier;
  exchange.options_json = consent.options_json;
  nlohmann::json others = nlohmann::json::object();
  for (const auto& [name, value] : redirect) {
    if (name != "code" && name != "state" && name != "iss") others[name] = value;
  }
  exchange.callback_parameters_json = others.empty() ? "" : others.dump();
  std::cout << "\nCode exchange:";
  const core::OperationRun exchanged = run(core::Operation::exchange_code, exchange);
  if (!report("the code exchange", exchanged)) return 1;
  std::cout << "\nThe plugin read:\n";
  show_tokens(exchanged.result);

  core::FlowParams later;
  later.access_token = exchanged.result.access_token;
  later.refresh_token = exchanged.result.refresh_token.value_or("");
  later.options_json = consent.options_json;
  later.metadata_json = exchanged.result.metadata_json;
  bool healthy = true;
  if (provider->module->descriptor().supports_refresh && arguments.flag("refresh")) {
    std::cout << "\nRefresh:";
    const core::OperationRun refreshed = run(core::Operation::refresh, later);
    healthy = report("the refresh", refreshed);
    if (healthy) {
      std::cout << "\nThe plugin read:\n";
      show_tokens(refreshed.result);
      later.access_token = refreshed.result.access_token;
    }
  }
  std::cout << "\nCheck call:";
  const core::OperationRun checked = run(core::Operation::check, later);
  if (checked.result.status == CONNECTOR_STATUS_UNSUPPORTED) {
    std::cout << " the plugin has none\n";
  } else if (report("the check call", checked)) {
    std::cout << "\nThe check call names " << checked.result.account_id
              << (checked.result.account_name.empty() ? "" : " (" + checked.result.account_name + ")") << "\n";
  } else {
    healthy = false;
  }
  std::cout << (healthy ? "\nok\n" : "\nfailed\n");
  return healthy ? 0 : 1;
}

} // namespace connector::host
