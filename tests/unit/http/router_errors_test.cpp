// What a route's failure becomes: the store's exceptions each get their own code and status in
// the error envelope, anything else is INTERNAL_ERROR; the exception's text (which the store
// keeps free of values and passwords) is the envelope's system_message, for operators.
#include "http/router.hpp"

#include "store/store.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

using namespace connector;

namespace {

constexpr const char* internal_detail = "postgresql: SQLSTATE 08006";

template <typename Exception> host::Response answer_when_the_route_throws() {
  host::Router router([](const host::Request&) -> core::Expected<core::ApiKeyRecord> {
    return core::ApiError(core::ErrorCode::invalid_api_key);
  });
  router.add(host::Route{.method = host::http::verb::get,
                         .pattern = "/v1/failing",
                         .authenticated = false,
                         .handler = [](host::RequestContext&) -> boost::asio::awaitable<host::Response> {
                           throw Exception(internal_detail);
                           co_return host::Response{};
                         }});
  host::Request request{host::http::verb::get, "/v1/failing", host::http_1_1};
  boost::asio::io_context io;
  std::string route;
  auto answered = boost::asio::co_spawn(io, router.dispatch(request, "trace-1", route), boost::asio::use_future);
  io.run();
  return answered.get();
}

std::string code_of(const host::Response& response) {
  const auto body = nlohmann::json::parse(response.body());
  EXPECT_EQ(body.at("success"), false);
  EXPECT_EQ(body.at("error").at("system_message"), internal_detail);
  return body.at("error").at("code").get<std::string>();
}

} // namespace

TEST(RouterErrors, AnUnreachableDatabaseIs503StoreUnavailable) {
  const host::Response response = answer_when_the_route_throws<core::StoreUnavailable>();
  EXPECT_EQ(response.result_int(), 503U);
  EXPECT_EQ(code_of(response), "STORE_UNAVAILABLE");
}

TEST(RouterErrors, AFullDiskIs503StorageFull) {
  const host::Response response = answer_when_the_route_throws<core::StorageFull>();
  EXPECT_EQ(response.result_int(), 503U);
  EXPECT_EQ(code_of(response), "STORAGE_FULL");
}

TEST(RouterErrors, AnythingElseIs500InternalError) {
  const host::Response response = answer_when_the_route_throws<std::runtime_error>();
  EXPECT_EQ(response.result_int(), 500U);
  EXPECT_EQ(code_of(response), "INTERNAL_ERROR");
}
