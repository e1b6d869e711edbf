#include "net/https_client.hpp"
#include "unit/net/tls_test_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/field.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <optional>
#include <stdexcept>

using namespace connector::core;
using connector::test::make_response;
using connector::test::test_tls_dir;
using connector::test::TestRequest;
using connector::test::TestResponse;
using connector::test::TlsTestServer;
using namespace std::chrono_literals;
namespace net = boost::asio;
namespace http = boost::beast::http;

namespace {

HttpsClientOptions test_options() {
  HttpsClientOptions options;
  options.extra_ca_file = (test_tls_dir() / "ca.pem").string();
  options.use_system_ca = false; // only the test CA: nothing else may vouch for the test server
  options.connect_timeout = 5s;
  options.total_timeout = 10s;
  options.user_agent = "connector-host-test";
  return options;
}

OutgoingRequest get(std::string url) { return OutgoingRequest{"GET", std::move(url), {}, {}}; }

std::string url_of(const TlsTestServer& server, const std::string& path = "/", const std::string& host = "127.0.0.1") {
  return "https://" + host + ":" + std::to_string(server.port()) + path;
}

const std::vector<std::string> loopback = {"127.0.0.1"};

// Runs requests to completion on a fresh io_context, as the host's coroutines would.
std::vector<HttpsOutcome> send_all(const HttpsClientOptions& options, const std::vector<OutgoingRequest>& requests,
                                   const std::vector<std::string>& allowed_hosts) {
  net::io_context io;
  HttpsClient client(io.get_executor(), options);
  std::vector<std::optional<HttpsOutcome>> outcomes(requests.size());
  for (std::size_t i = 0; i < requests.size(); ++i) {
    net::co_spawn(io, client.send(requests[i], allowed_hosts),
                  [&outcomes, i](const std::exception_ptr& failure, HttpsOutcome outcome) {
                    if (failure) std::rethrow_exception(failure);
                    outcomes[i] = std::move(outcome);
                  });
  }
  io.run();
  std::vector<HttpsOutcome> done;
  for (auto& outcome : outcomes)
    done.push_back(std::move(outcome.value()));
  return done;
}

HttpsOutcome send_one(const HttpsClientOptions& options, const OutgoingRequest& request,
                      const std::vector<std::string>& allowed_hosts = loopback) {
  return std::move(send_all(options, {request}, allowed_hosts).front());
}

std::string header_of(const HeaderList& headers, std::string_view name) {
  for (const auto& [key, value] : headers) {
    if (key.size() == name.size() && std::equal(key.begin(), key.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        })) {
      return value;
    }
  }
  return {};
}

TestResponse echo(const TestRequest& request) {
  TestResponse response = make_response(200, request.body());
  response.set("X-Seen-Content-Length", request[http::field::content_length]);
  return response;
}

} // namespace

TEST(HttpsClient, ReturnsStatusHeadersAndBody) {
  TlsTestServer server("server", [](const TestRequest&) {
    TestResponse response = make_response(201, "{\"ok\":true}");
    response.set("X-Answer", "yes");
    return response;
  });
  OutgoingRequest request = get(url_of(server, "/v1/token?grant=a%20b&x=1#fragment"));
  request.headers = {{"Accept", "application/json"}, {"X-Custom", "one"}, {"X-Custom", "two"}};
  const HttpsOutcome outcome = send_one(test_options(), request);

  ASSERT_TRUE(outcome.ok()) << to_string(outcome.failure) << ": " << outcome.message;
  EXPECT_EQ(outcome.answer.status, 201U);
  EXPECT_EQ(outcome.answer.body, "{\"ok\":true}");
  EXPECT_EQ(header_of(outcome.answer.headers, "x-answer"), "yes");
  EXPECT_EQ(header_of(outcome.answer.headers, "Content-Type"), "text/plain");
  EXPECT_GT(outcome.elapsed.count(), 0);
  EXPECT_TRUE(outcome.message.empty());

  const auto seen = server.requests();
  ASSERT_EQ(seen.size(), 1U);
  EXPECT_EQ(seen[0].method(), http::verb::get);
  EXPECT_EQ(seen[0].target(), "/v1/token?grant=a%20b&x=1"); // the fragment stays on the client
  EXPECT_EQ(seen[0][http::field::host], "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(seen[0][http::field::user_agent], "connector-host-test");
  EXPECT_EQ(seen[0][http::field::accept], "application/json");
  EXPECT_EQ(std::distance(seen[0].equal_range("X-Custom").first, seen[0].equal_range("X-Custom").second), 2);
  EXPECT_EQ(seen[0].count(http::field::content_length), 0U); // a bodiless GET says nothing about a body
}

TEST(HttpsClient, DeliversAPostBodyIntactWithItsLength) {
  TlsTestServer server("server", echo);
  std::string body;
  for (int i = 0; i < 100000; ++i)
    body.push_back(static_cast<char>(i * 7 % 256)); // NULs, CR, LF and all
  OutgoingRequest request{"POST", url_of(server, "/token"), {{"Content-Type", "application/octet-stream"}}, body};
  const HttpsOutcome outcome = send_one(test_options(), request);

  ASSERT_TRUE(outcome.ok()) << outcome.message;
  EXPECT_EQ(outcome.answer.body, body);
  EXPECT_EQ(header_of(outcome.answer.headers, "X-Seen-Content-Length"), "100000");
  ASSERT_EQ(server.requests().size(), 1U);
  EXPECT_EQ(server.requests()[0].method(), http::verb::post);
}

TEST(HttpsClient, SendsContentLengthZeroForAnEmptyPost) {
  TlsTestServer server("server", echo);
  const HttpsOutcome outcome = send_one(test_options(), OutgoingRequest{"POST", url_of(server), {}, {}});
  ASSERT_TRUE(outcome.ok()) << outcome.message;
  EXPECT_EQ(header_of(outcome.answer.headers, "X-Seen-Content-Length"), "0");
}

TEST(HttpsClient, OwnsHostFramingAndConnectionHeaders) {
  TlsTestServer server("server", echo);
  OutgoingRequest request{"POST", url_of(server), {}, "abc"};
  request.headers = {{"Host", "evil.example"},
                     {"Content-Length", "999"},
                     {"Transfer-Encoding", "chunked"},
                     {"User-Agent", "provider-demands-this"}};
  const HttpsOutcome outcome = send_one(test_options(), request);
  ASSERT_TRUE(outcome.ok()) << outcome.message;
  EXPECT_EQ(outcome.answer.body, "abc");
  const auto seen = server.requests();
  ASSERT_EQ(seen.size(), 1U);
  EXPECT_EQ(seen[0][http::field::host], "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(seen[0][http::field::content_length], "3");
  EXPECT_EQ(seen[0].count(http::field::transfer_encoding), 0U);
  EXPECT_EQ(seen[0][http::field::user_agent], "provider-demands-this");
}

TEST(HttpsClient, ReachesADnsNameWithACaseInsensitiveAllowList) {
  TlsTestServer server(
      "server", [](const TestRequest& request) { return make_response(200, std::string(request[http::field::host])); });
  const HttpsOutcome outcome = send_one(test_options(), get(url_of(server, "/", "LocalHost")), {"LOCALHOST"});
  ASSERT_TRUE(outcome.ok()) << outcome.message;
  EXPECT_EQ(outcome.answer.body, "localhost:" + std::to_string(server.port()));
}

TEST(HttpsClient, ReachesAnIpv6Literal) {
  std::unique_ptr<TlsTestServer> server;
  try {
    server = std::make_unique<TlsTestServer>("server", echo, TlsTestServer::Behaviour::answer, "::1");
  } catch (const std::exception& error) {
    GTEST_SKIP() << "no IPv6 loopback here: " << error.what();
  }
  const std::string url = "https://[::1]:" + std::to_string(server->port()) + "/";
  const HttpsOutcome outcome = send_one(test_options(), get(url), {"[0:0::1]"});
  ASSERT_TRUE(outcome.ok()) << outcome.message;
  ASSERT_EQ(server->requests().size(), 1U);
  EXPECT_EQ(server->requests()[0][http::field::host], "[::1]:" + std::to_string(server->port()));
}

TEST(HttpsClient, RefusesHostsNotAllowedWithoutConnecting) {
  TlsTestServer server("server", echo);
  for (const std::vector<std::string>& allowed :
       {std::vector<std::string>{}, std::vector<std::string>{"example.com"},
        std::vector<std::string>{"127.0.0.2", "localhost"}, std::vector<std::string>{"127.0.0.1.example.com"}}) {
    const HttpsOutcome outcome = send_one(test_options(), get(url_of(server)), allowed);
    EXPECT_EQ(outcome.failure, HttpsFailure::not_allowed) << outcome.message;
  }
  EXPECT_EQ(server.connections_accepted(), 0U);
}

TEST(HttpsClient, AWildcardAllowsOneLabelUnderItsDomainAndNothingElse) {
  EXPECT_TRUE(host_is_allowed("*.myshopify.com", "acme.myshopify.com"));
  EXPECT_TRUE(host_is_allowed("*.myshopify.com", "ACME.MyShopify.com"));
  EXPECT_FALSE(host_is_allowed("*.myshopify.com", "myshopify.com"));
  EXPECT_FALSE(host_is_allowed("*.myshopify.com", "a.b.myshopify.com")) << "one label, not any";
  EXPECT_FALSE(host_is_allowed("*.myshopify.com", "evilmyshopify.com"));
  EXPECT_FALSE(host_is_allowed("*.myshopify.com", "acme.myshopify.com.evil.example"));
  EXPECT_FALSE(host_is_allowed("*.0.0.1", "127.0.0.1")) << "never an IP address";
  EXPECT_TRUE(host_is_allowed("localhost", "LocalHost"));
  EXPECT_TRUE(host_is_allowed("[0:0::1]", "::1"));

  TlsTestServer server("server", echo);
  const HttpsOutcome outcome = send_one(test_options(), get(url_of(server, "/", "localhost")), {"*.localhost"});
  EXPECT_EQ(outcome.failure, HttpsFailure::not_allowed) << outcome.message;
  EXPECT_EQ(server.connections_accepted(), 0U);
}

TEST(HttpsClient, RefusesAnythingButHttpsUrls) {
  TlsTestServer server("server", echo);
  const std::string port = std::to_string(server.port());
  const std::vector<std::string> urls = {
      "http://127.0.0.1:" + port + "/", "ftp://127.0.0.1:" + port + "/", "//127.0.0.1:" + port + "/",
      "127.0.0.1:" + port, "https:///path", "https://127.0.0.1:99999/", "https://127.0.0.1:65536/",
      "https://127.0.0.1:0/", "https://[v1.fe]/", "https://exa%6dple.com/", "https://a b/",
      // Boost.URL 1.81 reads the host as 127.0.0.1 and the
      // rest as a path; a resolver would go elsewhere.
      "https://127.0.0.1.evil.example/", "https://127.0.0.1evil.example:" + port + "/", ""};
  for (const std::string& url : urls) {
    const HttpsOutcome outcome = send_one(test_options(), get(url));
    EXPECT_EQ(outcome.failure, HttpsFailure::bad_url) << url << " -> " << outcome.message;
  }
  EXPECT_EQ(server.connections_accepted(), 0U);
}

TEST(HttpsClient, RefusesUserInfoWithoutRepeatingIt) {
  TlsTestServer server("server", echo);
  for (const std::string_view userinfo : {"user:s3cretpass@", "user@", ":s3cretpass@", "@"}) {
    const HttpsOutcome outcome =
        send_one(test_options(), get(url_of(server, "/", std::string(userinfo) + "127.0.0.1")));
    EXPECT_EQ(outcome.failure, HttpsFailure::bad_url) << userinfo;
    EXPECT_EQ(outcome.message.find("s3cretpass"), std::string::npos) << outcome.message;
  }
  EXPECT_EQ(server.connections_accepted(), 0U);
}

TEST(HttpsClient, RefusesHeaderInjectionAndBadMethods) {
  TlsTestServer server("server", echo);
  OutgoingRequest injected = get(url_of(server));
  injected.headers = {{"Authorization", "Bearer SECRETVALUE\r\nX-Evil: 1"}};
  OutgoingRequest bad_name = get(url_of(server));
  bad_name.headers = {{"Bad Name", "SECRETVALUE"}};
  for (const OutgoingRequest& request :
       {injected, bad_name, OutgoingRequest{"GET /x HTTP/1.1\r\n", url_of(server), {}, {}},
        OutgoingRequest{"", url_of(server), {}, {}}}) {
    const HttpsOutcome outcome = send_one(test_options(), request);
    EXPECT_EQ(outcome.failure, HttpsFailure::protocol) << outcome.message;
    EXPECT_EQ(outcome.message.find("SECRETVALUE"), std::string::npos) << outcome.message;
  }
  EXPECT_EQ(server.connections_accepted(), 0U);
}

TEST(HttpsClient, FailsTlsOnACertificateForAnotherHost) {
  TlsTestServer server("wrong-host", echo);
  const HttpsOutcome outcome = send_one(test_options(), get(url_of(server)));
  EXPECT_EQ(outcome.failure, HttpsFailure::tls) << outcome.message;
  EXPECT_NE(outcome.message.find("mismatch"), std::string::npos) << outcome.message;
  EXPECT_TRUE(server.requests().empty());
}

TEST(HttpsClient, FailsTlsOnACertificateForAnotherHostName) {
  // The same refusal on the DNS-name path (SNI and name checks instead of the IP check).
  TlsTestServer server("wrong-host", echo);
  const HttpsOutcome outcome = send_one(test_options(), get(url_of(server, "/", "localhost")), {"localhost"});
  EXPECT_EQ(outcome.failure, HttpsFailure::tls) << outcome.message;
}

TEST(HttpsClient, FailsTlsOnAnUntrustedCertificate) {
  TlsTestServer server("untrusted", echo);
  const HttpsOutcome outcome = send_one(test_options(), get(url_of(server)));
  EXPECT_EQ(outcome.failure, HttpsFailure::tls) << outcome.message;
  EXPECT_TRUE(server.requests().empty());
}

TEST(HttpsClient, TrustsTheTestCaOnlyWhenConfigured) {
  TlsTestServer server("server", echo);
  HttpsClientOptions options = test_options();
  options.extra_ca_file.clear();
  options.use_system_ca = true;
  const HttpsOutcome outcome = send_one(options, get(url_of(server)));
  EXPECT_EQ(outcome.failure, HttpsFailure::tls) << outcome.message;
}

TEST(HttpsClient, RefusesToStartWithAMissingCaFile) {
  net::io_context io;
  HttpsClientOptions options = test_options();
  options.extra_ca_file = "/nonexistent/ca.pem";
  try {
    HttpsClient client(io.get_executor(), options);
    FAIL() << "no exception";
  } catch (const std::runtime_error& error) {
    EXPECT_NE(std::string(error.what()).find("/nonexistent/ca.pem"), std::string::npos) << error.what();
  }
}

TEST(HttpsClient, TimesOutOnAServerThatNeverAnswers) {
  TlsTestServer server("server", echo, TlsTestServer::Behaviour::silent_after_request);
  HttpsClientOptions options = test_options();
  options.total_timeout = 300ms;
  const auto start = std::chrono::steady_clock::now();
  const HttpsOutcome outcome = send_one(options, get(url_of(server)));
  const auto wall = std::chrono::steady_clock::now() - start;

  EXPECT_EQ(outcome.failure, HttpsFailure::timeout) << outcome.message;
  EXPECT_EQ(server.requests().size(), 1U); // it got as far as asking
  EXPECT_GE(outcome.elapsed, 290ms);
  EXPECT_LT(outcome.elapsed, 1000ms);
  EXPECT_LT(wall, 1500ms);
  EXPECT_NE(outcome.message.find("300 ms"), std::string::npos) << outcome.message;
}

TEST(HttpsClient, TimesOutOnAServerThatNeverShakesHands) {
  TlsTestServer server("server", echo, TlsTestServer::Behaviour::silent_before_handshake);
  HttpsClientOptions options = test_options();
  options.connect_timeout = 200ms;
  options.total_timeout = 5s;
  const HttpsOutcome outcome = send_one(options, get(url_of(server)));
  EXPECT_EQ(outcome.failure, HttpsFailure::timeout) << outcome.message;
  EXPECT_GE(outcome.elapsed, 190ms);
  EXPECT_LT(outcome.elapsed, 1000ms);
  EXPECT_NE(outcome.message.find("connect timeout 200 ms"), std::string::npos) << outcome.message;
}

TEST(HttpsClient, ReportsARefusedConnection) {
  std::uint16_t closed_port = 0;
  {
    net::io_context io;
    net::ip::tcp::acceptor probe(io, net::ip::tcp::endpoint(net::ip::make_address("127.0.0.1"), 0));
    closed_port = probe.local_endpoint().port();
  }
  const HttpsOutcome outcome = send_one(test_options(), get("https://127.0.0.1:" + std::to_string(closed_port) + "/"));
  EXPECT_EQ(outcome.failure, HttpsFailure::connect) << outcome.message;
}

TEST(HttpsClient, ReportsAnUnresolvableName) {
  HttpsClientOptions options = test_options();
  options.connect_timeout = 2s;
  const HttpsOutcome outcome = send_one(options, get("https://no-such-host.invalid/"), {"no-such-host.invalid"});
  // Without DNS at all the lookup may hang instead of failing; the connect timeout then ends it.
  EXPECT_TRUE(outcome.failure == HttpsFailure::resolve || outcome.failure == HttpsFailure::timeout)
      << to_string(outcome.failure) << ": " << outcome.message;
  EXPECT_LT(outcome.elapsed, 2500ms);
}

TEST(HttpsClient, RefusesAnAnswerOverTheLimit) {
  TlsTestServer sized("server", [](const TestRequest&) { return make_response(200, std::string(4096, 'x')); });
  TlsTestServer chunked("server", [](const TestRequest&) {
    TestResponse response{http::status::ok, 11};
    response.body() = std::string(4096, 'x');
    response.chunked(true);
    return response;
  });
  HttpsClientOptions options = test_options();
  options.max_response_bytes = 1024;
  for (const TlsTestServer* server : {&sized, &chunked}) {
    const HttpsOutcome outcome = send_one(options, get(url_of(*server)));
    EXPECT_EQ(outcome.failure, HttpsFailure::too_large) << outcome.message;
    EXPECT_TRUE(outcome.answer.body.empty());
  }
  // Exactly at the limit is fine.
  options.max_response_bytes = 4096;
  EXPECT_TRUE(send_one(options, get(url_of(sized))).ok());
  EXPECT_TRUE(send_one(options, get(url_of(chunked))).ok());
}

TEST(HttpsClient, ReturnsARedirectWithoutFollowingIt) {
  TlsTestServer server("server", [](const TestRequest&) {
    TestResponse response = make_response(302, "");
    response.set(http::field::location, "https://127.0.0.1:1/elsewhere");
    return response;
  });
  const HttpsOutcome outcome = send_one(test_options(), get(url_of(server, "/start")));
  ASSERT_TRUE(outcome.ok()) << outcome.message;
  EXPECT_EQ(outcome.answer.status, 302U);
  EXPECT_EQ(header_of(outcome.answer.headers, "Location"), "https://127.0.0.1:1/elsewhere");
  EXPECT_EQ(server.requests().size(), 1U);
}

TEST(HttpsClient, KeepsSecretsOutOfFailureMessages) {
  TlsTestServer server("wrong-host", echo);
  OutgoingRequest request{"POST",
                          url_of(server, "/revoke?token=SECRET-IN-QUERY"),
                          {{"Authorization", "Bearer SECRET-IN-HEADER"}},
                          "client_secret=SECRET-IN-BODY"};
  const HttpsOutcome outcome = send_one(test_options(), request);
  EXPECT_EQ(outcome.failure, HttpsFailure::tls);
  EXPECT_EQ(outcome.message.find("SECRET"), std::string::npos) << outcome.message;
}

TEST(HttpsClient, ServesManyConcurrentRequests) {
  TlsTestServer server("server", [](const TestRequest& request) {
    return make_response(200, "answer to " + std::string(request.target()));
  });
  std::vector<OutgoingRequest> requests;
  for (int i = 0; i < 50; ++i)
    requests.push_back(get(url_of(server, "/item/" + std::to_string(i))));
  const auto outcomes = send_all(test_options(), requests, loopback);
  ASSERT_EQ(outcomes.size(), 50U);
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    ASSERT_TRUE(outcomes[i].ok()) << i << ": " << outcomes[i].message;
    EXPECT_EQ(outcomes[i].answer.body, "answer to /item/" + std::to_string(i));
  }
  EXPECT_EQ(server.connections_accepted(), 50U);
}

TEST(HttpsClient, NamesEveryFailure) {
  EXPECT_STREQ(to_string(HttpsFailure::none), "none");
  EXPECT_STREQ(to_string(HttpsFailure::bad_url), "bad_url");
  EXPECT_STREQ(to_string(HttpsFailure::not_allowed), "not_allowed");
  EXPECT_STREQ(to_string(HttpsFailure::resolve), "resolve");
  EXPECT_STREQ(to_string(HttpsFailure::connect), "connect");
  EXPECT_STREQ(to_string(HttpsFailure::tls), "tls");
  EXPECT_STREQ(to_string(HttpsFailure::timeout), "timeout");
  EXPECT_STREQ(to_string(HttpsFailure::too_large), "too_large");
  EXPECT_STREQ(to_string(HttpsFailure::protocol), "protocol");
}
