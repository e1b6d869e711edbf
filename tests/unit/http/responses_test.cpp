#include "http/responses.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace connector::host;

namespace {

struct Answer {
  Request request{http::verb::post, "/x", 11};
  RequestContext context{request, "trace-1", "/x", "", {}, {}};
};

} // namespace

TEST(JsonStringsResponse, PlainStringsAreWrittenAsNlohmannWouldWriteThem) {
  Answer answer;
  const std::string url =
      "https://github.com/login/oauth/authorize?client_id=abc&state=conn_1.x-Y_z~&scope=repo%20user";
  const Response written = json_strings_response(answer.context, http::status::ok,
                                                 {{"authorization_url", url}, {"connection_id", "conn_1"}});
  const nlohmann::json expected = {{"authorization_url", url}, {"connection_id", "conn_1"}};
  EXPECT_EQ(written.body(), expected.dump());
  EXPECT_EQ(written.result(), http::status::ok);
  EXPECT_EQ(written[http::field::content_type], "application/json");
  EXPECT_EQ(written["X-Request-Id"], "trace-1");
  EXPECT_EQ(written[http::field::content_length], std::to_string(written.body().size()));
}

TEST(JsonStringsResponse, AnythingToEscapeGoesThroughTheLibrary) {
  const std::vector<std::string> values = {"a \"quoted\" word", "back\\slash", "tab\there", "caf\xc3\xa9",
                                           "broken \xff byte"};
  for (const std::string& value : values) {
    Answer answer;
    const Response written = json_strings_response(answer.context, http::status::created, {{"name", value}});
    const auto parsed = nlohmann::json::parse(written.body(), nullptr, false);
    ASSERT_FALSE(parsed.is_discarded()) << written.body();
    if (value.find('\xff') == std::string::npos) {
      EXPECT_EQ(parsed.at("name"), value);
    } else {
      EXPECT_EQ(parsed.at("name"), "broken \xef\xbf\xbd byte"); // replaced, as json_response does
    }
    EXPECT_EQ(written.result(), http::status::created);
  }
}
