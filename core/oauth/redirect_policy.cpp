#include "oauth/redirect_policy.hpp"

#include "net/url_authority.hpp"

#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <boost/url/url_view.hpp>

#include <algorithm>
#include <array>
#include <string>
#include <string_view>

namespace connector::core {

namespace {

constexpr std::size_t longest_redirect_url = 2048;

ApiError invalid(const std::string& why) {
  return ApiError(ErrorCode::validation_error, "redirect_url is not acceptable: " + why, {},
                  {{"field", "redirect_url"}, {"reason", why}});
}

// Plain http is allowed only where nobody else can listen: an IP literal in 127.0.0.0/8, ::1,
// or exactly "localhost". The host's text must be the whole literal, so that a name that only
// starts like one ("127.0.0.1.evil.example", "127.0.0.1evil.example") is a name, and refused.
bool is_loopback_host(const boost::urls::url& url) {
  const std::string_view host = url.encoded_host();
  switch (url.host_type()) {
  case boost::urls::host_type::ipv4:
    return url.host_ipv4_address().is_loopback() && host == url.host_ipv4_address().to_string();
  case boost::urls::host_type::ipv6: return url.host_ipv6_address().is_loopback();
  case boost::urls::host_type::name: return host == "localhost";
  default: return false;
  }
}

// The parameters the host adds to the client's URL when the flow ends: a URL that already
// carries one would reach the client with two values, and which one it reads is its parser's
// choice.
constexpr std::array<std::string_view, 5> host_parameters = {"connection_id", "status", "source_id", "error",
                                                             "error_description"};

bool carries_host_parameter(const boost::urls::url_view& url) {
  for (const auto& param : url.params()) {
    for (const std::string_view reserved : host_parameters) {
      if (param.key == reserved) return true;
    }
  }
  return false;
}

} // namespace

Expected<NormalizedRedirect> normalize_redirect_url(const std::string& text) {
  if (text.empty() || text.size() > longest_redirect_url) return invalid("must be 1 to 2048 characters");
  if (std::any_of(text.begin(), text.end(),
                  [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7F || c == '\\'; })) {
    return invalid("contains spaces, control characters or backslashes");
  }
  auto parsed = boost::urls::parse_absolute_uri(text);
  if (!parsed) return invalid("is not an absolute URL");
  if (!host_is_whole_authority(*parsed)) return invalid("has a host that is not a valid host name");
  boost::urls::url url(*parsed);
  url.normalize(); // lower-cases scheme and host, decodes unreserved escapes, removes dot segments

  if (url.has_userinfo()) return invalid("must not contain user information");
  if (url.has_fragment()) return invalid("must not contain a fragment");
  if (!url.has_authority() || url.encoded_host().empty()) return invalid("must name a host");
  const bool https = url.scheme_id() == boost::urls::scheme::https;
  const bool loopback_http = url.scheme_id() == boost::urls::scheme::http && is_loopback_host(url);
  if (!https && !loopback_http) return invalid("must use https (http only on a loopback host)");
  // An escaped byte in the host (e.g. "%2F" or "%40") never names a real host name.
  if (url.encoded_host().find('%') != boost::urls::pct_string_view::npos) return invalid("has an escaped host");
  if (carries_host_parameter(url)) {
    return invalid("must not carry connection_id, status, source_id, error or error_description: the host adds them");
  }
  if ((https && url.port() == "443") || (!https && url.port() == "80")) url.remove_port();
  if (url.encoded_path().empty()) url.set_path_absolute(true); // "https://a.example" means "/"

  // The normal form can be a character longer ("https://a.example?q" gains its "/"), and it is
  // what is stored and sent on: it must keep to the limit too.
  if (url.buffer().size() > longest_redirect_url) return invalid("is longer than 2048 characters once normalised");

  NormalizedRedirect out;
  out.full = std::string(url.buffer());
  url.remove_query();
  out.key = std::string(url.buffer());
  return out;
}

bool redirect_allowed(const NormalizedRedirect& candidate, const std::vector<std::string>& allowed_keys) {
  return std::find(allowed_keys.begin(), allowed_keys.end(), candidate.key) != allowed_keys.end();
}

Expected<HostRedirectAllowList> HostRedirectAllowList::from_urls(const std::vector<std::string>& urls) {
  HostRedirectAllowList list;
  for (const std::string& url : urls) {
    auto normalized = normalize_redirect_url(url);
    if (!normalized) return normalized.error();
    list.keys_.push_back(std::move(normalized->key));
  }
  return list;
}

Expected<NormalizedRedirect> HostRedirectAllowList::normalize(const std::string& url) const {
  if (std::find(keys_.begin(), keys_.end(), url) != keys_.end()) return NormalizedRedirect{url, url};
  return normalize_redirect_url(url);
}

std::string append_query(const std::string& text, const std::vector<std::pair<std::string, std::string>>& params) {
  boost::urls::url url(text);
  for (const auto& [name, value] : params)
    url.params().append({name, value});
  return std::string(url.buffer());
}

} // namespace connector::core
