// A guard every URL parse in the host goes through before trusting its host.
#pragma once

#include <boost/url/url_view.hpp>

namespace connector::core {

// True when the URL's host is all of its authority as written. Boost.URL 1.81 reads
// "http://127.0.0.1.evil.example/cb" as the IPv4 host 127.0.0.1 followed by the path
// ".evil.example/cb", while a browser or resolver goes to 127.0.0.1.evil.example: the host the
// code checks would not be the host the request reaches. After an authority, RFC 3986 §3.3
// allows only an empty path or one that starts with '/', so a path that does not is the sign.
inline bool host_is_whole_authority(const boost::urls::url_view& url) {
  const auto path = url.encoded_path();
  return !url.has_authority() || path.empty() || path.front() == '/';
}

} // namespace connector::core
