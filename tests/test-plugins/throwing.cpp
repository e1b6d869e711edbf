// Every provider call throws, in different ways: the SDK's thunks must contain all of them.
#define TEST_PLUGIN_SLUG "test-throwing"
#define TEST_PLUGIN_DEFINITION_ID "00000000-0000-4000-8000-0000000007e1"
#include "minimal_provider.hpp"

#include <stdexcept>

class ThrowingProvider : public MinimalProvider {
public:
  static std::unique_ptr<connector::sdk::IOAuthProvider> create(const nlohmann::json& settings) {
    if (settings.value("throw_on_create", false)) throw std::runtime_error("create exploded");
    return std::make_unique<ThrowingProvider>();
  }
  std::string authorization_url(const connector::sdk::FlowInput&) const override {
    throw std::logic_error("authorization_url exploded");
  }
  connector::sdk::Step<connector::sdk::TokenSet> exchange_code(const connector::sdk::FlowInput&,
                                                               const connector::sdk::HttpResponse*) const override {
    throw 42; // not even an exception type
  }
  connector::sdk::Step<connector::sdk::TokenSet> refresh(const connector::sdk::FlowInput&,
                                                         const connector::sdk::HttpResponse*) const override {
    throw std::bad_alloc();
  }
};

CONNECTOR_REGISTER_PROVIDER(ThrowingProvider)
