// The redirect policy (core/oauth/redirect_policy.*): which client URLs the browser may be
// sent to. Beyond not crashing, an accepted URL must keep the rules the policy promises:
// https, or http on a loopback host only; no user-info, fragment, spaces, controls or
// backslashes; a normal form that is stable (normalising it again changes nothing) and that
// the host's own parameters do not move to another origin or path.
#include "oauth/redirect_policy.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>

namespace {

[[noreturn]] void violated(const char* rule, const std::string& url) {
  std::fprintf(stderr, "fuzz: redirect policy accepted a URL that breaks \"%s\": %s\n", rule, url.c_str());
  std::abort();
}

// The loopback rule of issue 17: an IP literal in 127/8, ::1, or exactly "localhost".
bool loopback_host(const boost::urls::url_view& url) {
  switch (url.host_type()) {
  case boost::urls::host_type::ipv4: return url.host_ipv4_address().is_loopback();
  case boost::urls::host_type::ipv6: return url.host_ipv6_address().is_loopback();
  case boost::urls::host_type::name: return url.encoded_host() == "localhost";
  default: return false;
  }
}

void check_accepted(const std::string& input, const connector::core::NormalizedRedirect& normalized) {
  const auto parsed = boost::urls::parse_absolute_uri(normalized.full);
  if (!parsed) violated("the normal form parses", normalized.full);
  const boost::urls::url_view& url = *parsed;
  if (url.scheme() != "https" && !(url.scheme() == "http" && loopback_host(url)))
    violated("https, or http on loopback", input);
  if (url.has_userinfo()) violated("no user-info", input);
  if (url.has_fragment()) violated("no fragment", input);
  if (std::any_of(normalized.full.begin(), normalized.full.end(),
                  [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7F || c == '\\'; })) {
    violated("no spaces, controls or backslashes", input);
  }
  if (normalized.key != normalized.full.substr(0, normalized.key.size())) violated("the key starts the URL", input);

  const auto again = connector::core::normalize_redirect_url(normalized.full);
  if (!again || again->key != normalized.key || again->full != normalized.full)
    violated("normalising the normal form changes nothing", input);
  if (!connector::core::redirect_allowed(*again, {normalized.key})) violated("allowed by its own key", input);
  // HostRedirectAllowList takes a text equal to an allowed key as its own normal form.
  const auto key_again = connector::core::normalize_redirect_url(normalized.key);
  if (!key_again || key_again->key != normalized.key || key_again->full != normalized.key)
    violated("normalising the key changes nothing", input);

  // The host appends the flow's outcome; the URL must still lead to the same place.
  const std::string returned =
      connector::core::append_query(normalized.full, {{"connection_id", "conn_fuzz"}, {"status", "success"}});
  const auto landed = boost::urls::parse_absolute_uri(returned);
  if (!landed) violated("the URL with the host's parameters parses", returned);
  boost::urls::url origin_and_path(*landed);
  origin_and_path.remove_query();
  if (origin_and_path.buffer() != normalized.key) violated("the host's parameters keep origin and path", returned);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const auto normalized = connector::core::normalize_redirect_url(input);
  if (normalized) check_accepted(input, *normalized);
  return 0;
}
