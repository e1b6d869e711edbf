// Compiled as C++17: the SDK's C++ face must not need C++20.
#include <connector/declarative_definition.hpp>
#include <connector/declarative_provider.hpp>
#include <connector/encoding.hpp>
#include <connector/oauth2.hpp>
#include <connector/plugin.hpp>
#include <connector/provider.hpp>
#include <connector/settings.hpp>

#if __cplusplus > 201703L
#error "this file must be compiled as C++17"
#endif

std::string sdk_cxx17_form_sample();
std::string sdk_cxx17_form_sample() { return connector::sdk::form_encode({{"a b", "c+d"}}); }
