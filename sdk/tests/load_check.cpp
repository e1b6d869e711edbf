// connector_sdk_load_check MODULE...: loads each plugin module with the SDK's test kit,
// configures it with a client id and secret and asks it for a consent URL: the C ABI at work
// between this program's compiler and whichever compiler built the module
// (tests/abi/mixed_compilers_test.sh runs a clang build of it on GCC's modules and back).
// One line a module; exit status 1 at the first module that fails.
#include <connector/testing/fake_host.hpp>

#include <iostream>

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string file = argv[i];
    try {
      const auto host = connector::sdk::testing::FakeHost::load(file);
      const auto provider = host.create({{"client_id", "id.apps.googleusercontent.com"}, {"client_secret", "secret"}});
      if (!provider.ok()) {
        std::cout << file << ": provider_create failed: " << provider.result().summary() << "\n";
        return 1;
      }
      connector::sdk::FlowInput input;
      input.redirect_uri = "https://host.example/v1/oauth/callback";
      input.state = "st4te";
      input.code_challenge = connector::sdk::testing::kPkceChallenge;
      const auto consent = provider.authorization_url(input);
      if (!consent.ok() || consent.authorization_url.rfind("https://", 0) != 0) {
        std::cout << file << ": no consent URL: " << consent.summary() << "\n";
        return 1;
      }
      std::cout << file << ": " << host.descriptor().value("slug", "?") << " ok\n";
    } catch (const std::exception& error) {
      std::cout << file << ": " << error.what() << "\n";
      return 1;
    }
  }
  return 0;
}
