// The smallest real plugin: built with connector_add_plugin() like a third party's, loaded by
// the test kit from its file. Its token endpoint and check call are at echo.example; what it
// reads back is what the test answers.
#include <connector/oauth2.hpp>
#include <connector/plugin.hpp>
#include <connector/settings.hpp>

namespace {

namespace sdk = connector::sdk;

class EchoProvider final : public sdk::IOAuthProvider {
public:
  static sdk::Descriptor describe() {
    sdk::Descriptor d;
    d.slug = "sdk-echo";
    d.display_name = "SDK echo";
    d.version = "1.0.0";
    d.documentation_url = "https://echo.example/docs";
    d.source_definitions = {{"6f1f7a43-5b1e-4b0e-9a44-3f7f2a0c5e01", "SDK echo"}};
    d.supports_refresh = true;
    d.hosts = {"echo.example"};
    d.settings_schema = {{"type", "object"}, {"required", {"client_id"}}};
    d.flow_options_schema = {{"type", "object"}};
    return d;
  }
  static std::unique_ptr<IOAuthProvider> create(const nlohmann::json& settings) {
    return std::make_unique<EchoProvider>(sdk::required_string_setting(settings, "client_id"));
  }
  explicit EchoProvider(std::string client_id) : client_id_(std::move(client_id)) {}

  std::vector<std::string> allowed_hosts() const override { return {"echo.example"}; }
  std::string authorization_url(const sdk::FlowInput& input) const override {
    return sdk::with_query("https://echo.example/authorize", {{"response_type", "code"},
                                                              {"client_id", client_id_},
                                                              {"redirect_uri", input.redirect_uri},
                                                              {"state", input.state}});
  }
  sdk::Step<sdk::TokenSet> exchange_code(const sdk::FlowInput& input,
                                         const sdk::HttpResponse* response) const override {
    if (response != nullptr) return sdk::parse_token_response(*response);
    return token_request({{"grant_type", "authorization_code"}, {"code", input.code}});
  }
  sdk::Step<sdk::TokenSet> refresh(const sdk::FlowInput& input, const sdk::HttpResponse* response) const override {
    if (response != nullptr) return sdk::parse_token_response(*response);
    return token_request({{"grant_type", "refresh_token"}, {"refresh_token", input.refresh_token}});
  }

private:
  sdk::HttpRequest token_request(sdk::Params form) const {
    form.emplace_back("client_id", client_id_);
    sdk::HttpRequest request;
    request.url = "https://echo.example/token";
    request.headers = {{"Content-Type", "application/x-www-form-urlencoded"}};
    request.body = sdk::form_encode(form);
    return request;
  }

  std::string client_id_;
};

} // namespace

CONNECTOR_REGISTER_PROVIDER(EchoProvider)
