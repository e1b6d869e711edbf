// A provider with just enough behaviour to load: the base of the test plugins that exercise
// the loader's refusals. Each test plugin sets its slug and definition id before including.
#pragma once

#include <connector/plugin.hpp>

#include <memory>
#include <string>

#ifndef TEST_PLUGIN_SLUG
#error "define TEST_PLUGIN_SLUG before including minimal_provider.hpp"
#endif
#ifndef TEST_PLUGIN_DEFINITION_ID
#error "define TEST_PLUGIN_DEFINITION_ID before including minimal_provider.hpp"
#endif

class MinimalProvider : public connector::sdk::IOAuthProvider {
public:
  static connector::sdk::Descriptor describe() {
    connector::sdk::Descriptor d;
    d.slug = TEST_PLUGIN_SLUG;
    d.display_name = "Test plugin " TEST_PLUGIN_SLUG;
    d.version = "0.0.1";
    d.source_definitions = {{TEST_PLUGIN_DEFINITION_ID, "Test"}};
    d.hosts = {"127.0.0.1"};
    return d;
  }
  static std::unique_ptr<connector::sdk::IOAuthProvider> create(const nlohmann::json&) {
    return std::make_unique<MinimalProvider>();
  }
  std::vector<std::string> allowed_hosts() const override { return {"127.0.0.1"}; }
  std::string authorization_url(const connector::sdk::FlowInput& input) const override {
    return "https://127.0.0.1/authorize?state=" + input.state;
  }
  connector::sdk::Step<connector::sdk::TokenSet> exchange_code(const connector::sdk::FlowInput&,
                                                               const connector::sdk::HttpResponse*) const override {
    connector::sdk::TokenSet tokens;
    tokens.access_token = "test-access-token";
    return tokens;
  }
};
