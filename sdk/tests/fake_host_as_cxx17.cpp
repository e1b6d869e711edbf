// Compiled as C++17: the SDK's test kit must not need C++20 either, since plugin authors'
// test suites are built with their plugin's standard.
#include <connector/testing/fake_host.hpp>

#if __cplusplus > 201703L
#error "this file must be compiled as C++17"
#endif

std::string sdk_testing_cxx17_sample();
std::string sdk_testing_cxx17_sample() {
  return connector::sdk::testing::query_param("https://a.example/?x=1&y=2", "y") +
         connector::sdk::testing::status_name(CONNECTOR_STATUS_GRANT_INVALID);
}
