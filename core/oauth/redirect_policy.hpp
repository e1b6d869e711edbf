// Where the browser may be sent after a flow: only to a client redirect_url that was on an
// allow-list when the flow started. URLs are compared after parsing and normalising with
// Boost.URL (scheme and host case, default ports, percent-encoding, dot segments), so
// encoding tricks cannot smuggle another host past the comparison.
#pragma once

#include "errors/expected.hpp"

#include <string>
#include <vector>

namespace connector::core {

// A redirect URL reduced to what the allow-list compares: "scheme://host[:port]/path".
struct NormalizedRedirect {
  std::string key;  // origin + path; what allow-list entries are stored as
  std::string full; // the normalised URL including its query, what the browser gets
};

// Parses and checks a client redirect URL: absolute, https (or http on a loopback host, for
// development), no user-info, no fragment, no control characters or backslashes.
Expected<NormalizedRedirect> normalize_redirect_url(const std::string& url);

// True when `candidate` (normalised) equals one of `allowed` (normalised keys): same scheme,
// host, port and path; the query may differ.
bool redirect_allowed(const NormalizedRedirect& candidate, const std::vector<std::string>& allowed_keys);

// The redirect URLs the operator allows for every organization (CONNECTOR_ALLOWED_REDIRECTS),
// normalised once, when the host starts. Only from_urls makes one, so every key in it passed
// normalize_redirect_url.
class HostRedirectAllowList {
public:
  HostRedirectAllowList() = default; // allows nothing
  // Refused with the first URL's reason when one is not acceptable.
  static Expected<HostRedirectAllowList> from_urls(const std::vector<std::string>& urls);

  bool allows(const NormalizedRedirect& candidate) const { return redirect_allowed(candidate, keys_); }

  // normalize_redirect_url(url), without parsing again a URL sent exactly as one of the
  // allowed ones, as clients send theirs: such a text is a normal form that passed every
  // check when the host started, and normalising a normal form changes nothing
  // (fuzz/fuzz_redirect_policy.cpp checks both).
  Expected<NormalizedRedirect> normalize(const std::string& url) const;

private:
  std::vector<std::string> keys_;
};

// The client's URL with `params` appended to its query.
std::string append_query(const std::string& url, const std::vector<std::pair<std::string, std::string>>& params);

} // namespace connector::core
