// The SDK's test kit (connector/testing/fake_host.hpp) against the in-tree GitHub plugin, the
// broken test plugins and a few providers defined here: it must load and refuse modules the
// way the host does, run operations step by step on canned answers, and hold plugins to the
// host's rules (egress allow-list, request budget).
#include "support/plugin_loading.hpp"

#include <connector/testing/fake_host.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

using connector::sdk::FlowInput;
using connector::sdk::HttpRequest;
using connector::sdk::HttpResponse;
using connector::sdk::testing::CallResult;
using connector::sdk::testing::FakeHost;
using connector::sdk::testing::form_param;
using connector::sdk::testing::kPkceChallenge;
using connector::sdk::testing::kPkceVerifier;
using connector::sdk::testing::PluginRefused;
using connector::sdk::testing::Provider;
using connector::sdk::testing::query_param;
using connector::testing::module_file_name;
using connector::testing::plugin_dir;
using connector::testing::test_plugin_dir;
using ::testing::HasSubstr;

namespace {

std::string github_module() { return (plugin_dir() / module_file_name("github")).string(); }

const nlohmann::json kGithubSettings = {{"client_id", "id"}, {"client_secret", "secret"}};

// Refusal text for a broken test plugin, which must name the file like the host does.
std::string refusal_of(const std::string& name) {
  const std::string file = (test_plugin_dir() / module_file_name(name)).string();
  try {
    FakeHost::load(file);
  } catch (const PluginRefused& refused) {
    EXPECT_THAT(refused.what(), HasSubstr(file));
    return refused.what();
  }
  ADD_FAILURE() << name << " was not refused";
  return {};
}

// A provider that asks for whatever URL its settings name, for the host-side checks.
class UrlProvider : public connector::sdk::IOAuthProvider {
public:
  explicit UrlProvider(std::string url) : url_(std::move(url)) {}
  static connector::sdk::Descriptor describe() {
    connector::sdk::Descriptor d;
    d.slug = "url-provider";
    d.display_name = "URL provider";
    d.source_definitions = {{"00000000-0000-4000-8000-0000000000a1", "URL"}};
    return d;
  }
  static std::unique_ptr<IOAuthProvider> create(const nlohmann::json& settings) {
    connector::sdk::log(CONNECTOR_LOG_INFO, "creating");
    return std::make_unique<UrlProvider>(settings.value("url", "https://allowed.example/token"));
  }
  std::vector<std::string> allowed_hosts() const override { return {"Allowed.Example"}; }
  std::string authorization_url(const FlowInput&) const override { return "https://allowed.example/consent"; }
  // Asks again and again until an answer says 200.
  connector::sdk::Step<connector::sdk::TokenSet> exchange_code(const FlowInput& input,
                                                               const HttpResponse* response) const override {
    if (response != nullptr && response->status == 200) {
      connector::sdk::TokenSet tokens;
      tokens.access_token = response->body + "|" + input.continuation;
      return tokens;
    }
    HttpRequest request;
    request.url = url_;
    request.continuation = "step";
    return request;
  }

private:
  std::string url_;
};

} // namespace

TEST(FakeHost, LoadsABuiltModuleAndDescribesIt) {
  const FakeHost host = FakeHost::load(github_module());
  EXPECT_EQ(host.slug(), "github");
  EXPECT_EQ(host.table().abi_major, CONNECTOR_ABI_VERSION_MAJOR);
  EXPECT_EQ(host.table().struct_size, sizeof(connector_plugin_api));
  EXPECT_TRUE(host.descriptor()["supports_pkce"].get<bool>());
  EXPECT_TRUE(host.describe().ok());
}

TEST(FakeHost, RunsAWholeCodeExchangeOnCannedAnswers) {
  FakeHost host = FakeHost::load(github_module());
  const Provider provider = host.create(kGithubSettings);
  ASSERT_TRUE(provider.ok()) << provider.result().summary();
  EXPECT_EQ(provider.allowed_hosts(), (std::vector<std::string>{"github.com", "api.github.com"}));

  FlowInput consent;
  consent.redirect_uri = "https://host.example/cb";
  consent.state = "st";
  consent.code_challenge = kPkceChallenge;
  const CallResult url = provider.authorization_url(consent);
  ASSERT_TRUE(url.ok()) << url.summary();
  EXPECT_EQ(query_param(url.authorization_url, "code_challenge"), kPkceChallenge);

  host.respond(200, R"({"access_token":"gho_1","token_type":"bearer","scope":"repo"})");
  host.respond(200, R"({"login":"octocat","id":1})");
  FlowInput exchange;
  exchange.redirect_uri = consent.redirect_uri;
  exchange.code = "code-1";
  exchange.code_verifier = kPkceVerifier;
  const CallResult tokens = provider.exchange_code(exchange);
  ASSERT_TRUE(tokens.ok()) << tokens.summary();
  EXPECT_EQ(tokens.access_token, "gho_1");
  EXPECT_EQ(tokens.account_name, "octocat");
  EXPECT_EQ(tokens.requests_sent, 2);
  ASSERT_EQ(host.requests().size(), 2U);
  EXPECT_EQ(host.requests()[0].url, "https://github.com/login/oauth/access_token");
  EXPECT_EQ(form_param(host.requests()[0].body, "code_verifier"), kPkceVerifier);
  EXPECT_EQ(host.requests()[1].url, "https://api.github.com/user");
  EXPECT_EQ(host.unused_answers(), 0U);
}

TEST(FakeHost, StepCallsOneEntryExactlyAsTheHostDoes) {
  const FakeHost host = FakeHost::load(github_module());
  const Provider provider = host.create(kGithubSettings);
  FlowInput input;
  input.access_token = "gho_1";
  const CallResult first = provider.step(connector::sdk::testing::Operation::check, input);
  ASSERT_TRUE(first.sends_request()) << first.summary();
  EXPECT_EQ(first.request.method, "GET");
  HttpResponse answer;
  answer.status = 401;
  answer.body = R"({"message":"Bad credentials"})";
  EXPECT_EQ(provider.step(connector::sdk::testing::Operation::check, input, &answer).status,
            CONNECTOR_STATUS_GRANT_INVALID);
  EXPECT_TRUE(host.requests().empty()) << "step() records nothing";
}

TEST(FakeHost, RefusesModulesWhereTheHostDoes) {
  EXPECT_THAT(refusal_of("wrong-major"), HasSubstr("built for ABI 2.0, this host speaks ABI 1.x"));
  EXPECT_THAT(refusal_of("missing-symbol"), HasSubstr("does not export connector_plugin_negotiate"));
  EXPECT_THAT(refusal_of("not-a-library"), HasSubstr("not a loadable shared library"));
  EXPECT_THAT(refusal_of("negotiation-refused"), HasSubstr("negotiation refused by the plugin (refused)"));
  EXPECT_THAT(refusal_of("bad-descriptor"), HasSubstr("invalid descriptor: slug \"Bad Slug!\""));
  EXPECT_THAT(refusal_of("short-table"), HasSubstr("plugin table size"));
}

TEST(FakeHost, ContainsWhatAPluginThrows) {
  const FakeHost host = FakeHost::load((test_plugin_dir() / module_file_name("test-throwing")).string());
  EXPECT_EQ(host.create({{"throw_on_create", true}}).result().status, CONNECTOR_STATUS_INTERNAL_ERROR);
  const Provider provider = host.create();
  ASSERT_TRUE(provider.ok());
  EXPECT_EQ(provider.authorization_url({}).error_description, "authorization_url exploded");
  EXPECT_EQ(provider.exchange_code({}).status, CONNECTOR_STATUS_INTERNAL_ERROR);
  EXPECT_EQ(provider.revoke({}).status, CONNECTOR_STATUS_UNSUPPORTED);
}

TEST(FakeHost, ProvidersKeepTheModuleLoaded) {
  std::optional<Provider> provider;
  {
    const FakeHost host = FakeHost::load(github_module());
    provider.emplace(host.create(kGithubSettings));
  }
  FlowInput input;
  input.redirect_uri = "https://host.example/cb";
  input.state = "st";
  EXPECT_TRUE(provider->authorization_url(input).ok());
}

TEST(FakeHost, DrivesAProviderClassLinkedIntoTheTest) {
  FakeHost host = FakeHost::of<UrlProvider>();
  const Provider provider = host.create();
  ASSERT_TRUE(provider.ok()) << provider.result().summary();
  ASSERT_EQ(host.logs().size(), 1U);
  EXPECT_EQ(host.logs()[0].message, "creating");

  host.respond(500, "busy", {});
  host.set_responder([](const HttpRequest& request) -> std::optional<HttpResponse> {
    HttpResponse answer;
    answer.status = 200;
    answer.body = "answered " + request.url;
    return answer;
  });
  const CallResult tokens = provider.exchange_code({});
  ASSERT_TRUE(tokens.ok()) << tokens.summary();
  EXPECT_EQ(tokens.access_token, "answered https://allowed.example/token|step") << "continuation handed back";
  EXPECT_EQ(host.requests().size(), 2U);
}

TEST(FakeHost, RefusesRequestsToUndeclaredHosts) {
  FakeHost host = FakeHost::of<UrlProvider>();
  const CallResult refused = host.create({{"url", "https://elsewhere.example/token"}}).exchange_code({});
  EXPECT_EQ(refused.status, CONNECTOR_STATUS_CLIENT_INVALID);
  EXPECT_EQ(refused.error_code, "provider_request_refused");
  EXPECT_THAT(refused.error_description, HasSubstr("elsewhere.example"));
  EXPECT_EQ(refused.request.url, "https://elsewhere.example/token") << "the refused request stays visible";
  EXPECT_TRUE(host.requests().empty());

  EXPECT_EQ(host.create({{"url", "http://allowed.example/token"}}).exchange_code({}).error_code,
            "provider_request_refused");
}

TEST(FakeHost, StopsAPluginThatNeverFinishes) {
  FakeHost host = FakeHost::of<UrlProvider>();
  host.set_responder([](const HttpRequest&) -> std::optional<HttpResponse> {
    HttpResponse answer;
    answer.status = 429;
    return answer;
  });
  const CallResult looped = host.create().exchange_code({});
  EXPECT_EQ(looped.status, CONNECTOR_STATUS_INTERNAL_ERROR);
  EXPECT_EQ(looped.error_code, "too_many_requests");
  EXPECT_EQ(host.requests().size(), 4U);
}
