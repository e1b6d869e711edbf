// The SDK's test kit on a plugin built by the SDK's own CMake function (connector_add_plugin):
// what a third party's first test does, with nothing of the host around.
#include <connector/testing/fake_host.hpp>

#include <gtest/gtest.h>

using connector::sdk::FlowInput;
using connector::sdk::testing::FakeHost;
using connector::sdk::testing::form_param;
using connector::sdk::testing::query_param;

TEST(SdkSelfTest, ABuiltPluginLoadsDescribesItselfAndExchangesACode) {
  auto host = FakeHost::load(CONNECTOR_SDK_ECHO_PLUGIN);
  EXPECT_EQ(host.descriptor()["slug"], "sdk-echo");
  const auto provider = host.create({{"client_id", "cid"}});
  ASSERT_TRUE(provider.ok()) << provider.result().summary();

  FlowInput input;
  input.redirect_uri = "https://host.example/v1/oauth/callback";
  input.state = "st4te";
  const auto consent = provider.authorization_url(input);
  ASSERT_TRUE(consent.ok()) << consent.summary();
  EXPECT_EQ(query_param(consent.authorization_url, "client_id"), "cid");

  host.respond(200, R"({"access_token":"a1","refresh_token":"r1","expires_in":3600,"token_type":"bearer"})");
  input.code = "c0de";
  const auto tokens = provider.exchange_code(input);
  ASSERT_TRUE(tokens.ok()) << tokens.summary();
  EXPECT_EQ(tokens.access_token, "a1");
  EXPECT_EQ(tokens.refresh_token, "r1");
  EXPECT_EQ(tokens.expires_in, 3600);
  ASSERT_EQ(host.requests().size(), 1U);
  EXPECT_EQ(form_param(host.requests()[0].body, "code"), "c0de");

  host.respond(400, R"({"error":"invalid_grant"})");
  input.refresh_token = "r1";
  EXPECT_EQ(provider.refresh(input).status, CONNECTOR_STATUS_GRANT_INVALID);
  EXPECT_EQ(provider.check(input).status, CONNECTOR_STATUS_UNSUPPORTED) << "no check call: the host answers for it";
}
