// The host as serve_command.cpp wires it, without the listener: the real route table, the
// real SQLite store on a temporary file, the key ring, and the in-tree plugins loaded from the
// build's plugins folder. Provider endpoints point at a closed port on 127.0.0.1, so a flow
// that reaches the network fails at connect at once instead of waiting on DNS.
#pragma once

#include "http/http_types.hpp"

#include <memory>
#include <string>

namespace connector::fuzz {

// An API key of organization kOrganization holding every permission; seeds and the
// dictionary carry it so that the fuzzer reaches the authenticated routes.
inline constexpr const char* kApiKey = "chk_FuzzFuzzFuzzFuzzFuzzFuzzFuzzFuzzFuzzFuzzFuz";
inline constexpr const char* kOrganization = "org_fuzz";
// The only redirect URL the host allows (CONNECTOR_ALLOWED_REDIRECTS).
inline constexpr const char* kAllowedRedirect = "https://app.example.com/callback";

class FuzzHost {
public:
  // Made once per process; lives until exit (libFuzzer never returns from its loop).
  static FuzzHost& instance();

  // Answers one request as the server's session does (router.dispatch on an io_context).
  host::Response dispatch(const host::Request& request);

  // Starts a connector flow for `slug` and returns its state: a callback carrying it gets
  // past the state check.
  std::string start_flow(const std::string& slug);

  FuzzHost(const FuzzHost&) = delete;
  FuzzHost& operator=(const FuzzHost&) = delete;
  ~FuzzHost();

private:
  FuzzHost();
  struct Parts;
  std::unique_ptr<Parts> parts_;
};

// Checks what every answer must be, and aborts (a crash libFuzzer keeps) when it is not: a
// 5xx other than a provider's or the store's failure, or an error without the envelope.
void check_answer(const host::Response& response);

} // namespace connector::fuzz
