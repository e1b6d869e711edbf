// The SDK's token-answer reader against the shapes real providers send (providers.md).
#include <connector/oauth2.hpp>

#include <gtest/gtest.h>

using namespace connector::sdk;

namespace {

HttpResponse answer(unsigned status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

} // namespace

TEST(TokenResponse, ReadsAJsonSuccess) {
  const auto step = parse_token_response(answer(
      200,
      R"({"access_token":"ya29.a0","expires_in":3599,"refresh_token":"1//0g","scope":"b a","token_type":"Bearer"})"));
  const auto* tokens = std::get_if<TokenSet>(&step);
  ASSERT_TRUE(tokens);
  EXPECT_EQ(tokens->access_token, "ya29.a0");
  EXPECT_EQ(tokens->refresh_token, "1//0g");
  EXPECT_EQ(tokens->expires_in, 3599);
  EXPECT_EQ(tokens->granted_scopes, (std::vector<std::string>{"b", "a"}));
  EXPECT_EQ(tokens->token_type, "Bearer");
}

TEST(TokenResponse, ReadsAFormEncodedSuccessWithNumbersAsText) {
  const auto step = parse_token_response(
      answer(200, "access_token=ghu_x&expires_in=28800&refresh_token=ghr_y&refresh_token_expires_in=15811200"
                  "&scope=&token_type=bearer"));
  const auto* tokens = std::get_if<TokenSet>(&step);
  ASSERT_TRUE(tokens);
  EXPECT_EQ(tokens->expires_in, 28800);
  EXPECT_EQ(tokens->refresh_token_expires_in, 15811200);
  EXPECT_EQ(tokens->refresh_token, "ghr_y");
  EXPECT_TRUE(tokens->granted_scopes.empty());
}

TEST(TokenResponse, AnErrorMemberWinsOverHttp200) {
  const auto step = parse_token_response(answer(
      200, R"({"error":"bad_verification_code","error_description":"The code passed is incorrect or expired."})"));
  const auto* failure = std::get_if<Failure>(&step);
  ASSERT_TRUE(failure);
  EXPECT_EQ(failure->status, CONNECTOR_STATUS_GRANT_INVALID);
  EXPECT_EQ(failure->code, "bad_verification_code");
  EXPECT_EQ(failure->description, "The code passed is incorrect or expired.");
}

TEST(TokenResponse, ClassifiesStandardErrors) {
  EXPECT_EQ(classify_oauth_error("invalid_grant"), CONNECTOR_STATUS_GRANT_INVALID);
  EXPECT_EQ(classify_oauth_error("bad_refresh_token"), CONNECTOR_STATUS_GRANT_INVALID);
  EXPECT_EQ(classify_oauth_error("invalid_client"), CONNECTOR_STATUS_CLIENT_INVALID);
  EXPECT_EQ(classify_oauth_error("incorrect_client_credentials"), CONNECTOR_STATUS_CLIENT_INVALID);
  EXPECT_EQ(classify_oauth_error("redirect_uri_mismatch"), CONNECTOR_STATUS_CLIENT_INVALID);
  EXPECT_EQ(classify_oauth_error("temporarily_unavailable"), CONNECTOR_STATUS_TRANSIENT);
  EXPECT_EQ(classify_oauth_error("invalid_scope"), CONNECTOR_STATUS_PROVIDER_REJECTED);
}

TEST(TokenResponse, HtmlAndBrokenBodiesAreTransientOrRejectedByStatus) {
  for (const unsigned status : {403U, 500U, 502U, 503U, 200U}) {
    const auto step = parse_token_response(answer(status, "<html><body>Error 403 (Forbidden)</body></html>"));
    const auto* failure = std::get_if<Failure>(&step);
    ASSERT_TRUE(failure) << status;
    EXPECT_EQ(failure->status, CONNECTOR_STATUS_TRANSIENT) << status;
  }
  const auto truncated = parse_token_response(answer(200, R"({"access_token":"ya29)"));
  EXPECT_EQ(std::get<Failure>(truncated).status, CONNECTOR_STATUS_TRANSIENT);
  const auto empty = parse_token_response(answer(400, ""));
  EXPECT_EQ(std::get<Failure>(empty).status, CONNECTOR_STATUS_PROVIDER_REJECTED);
  const auto no_token = parse_token_response(answer(200, R"({"token_type":"bearer"})"));
  EXPECT_EQ(std::get<Failure>(no_token).status, CONNECTOR_STATUS_TRANSIENT);
}

TEST(TokenResponse, ProviderTextIsCutAndControlCharactersRemoved) {
  const std::string long_text(1000, 'x');
  const auto step = parse_token_response(
      answer(400, R"({"error":"invalid_request","error_description":"line1\nline2)" + long_text + R"("})"));
  const auto& failure = std::get<Failure>(step);
  EXPECT_EQ(failure.description.size(), 300U);
  EXPECT_EQ(failure.description.substr(0, 11), "line1 line2");
}

TEST(TokenResponse, AnErrorFromAServerInTroubleIsTransient) {
  const auto step = parse_token_response(answer(503, R"({"error":"internal_failure"})"));
  const auto& failure = std::get<Failure>(step);
  EXPECT_EQ(failure.status, CONNECTOR_STATUS_TRANSIENT);
  EXPECT_EQ(failure.code, "internal_failure");
  EXPECT_EQ(std::get<Failure>(parse_token_response(answer(429, R"({"error":"slow"})"))).status,
            CONNECTOR_STATUS_TRANSIENT);
}

TEST(TokenContinuation, CarriesEveryTokenFieldToTheNextStepOfItsOwnKindOnly) {
  TokenSet tokens;
  tokens.access_token = "a1";
  tokens.refresh_token = "r1";
  tokens.token_type = "Bearer";
  tokens.granted_scopes = {"read", "write"};
  tokens.expires_in = 3600;
  tokens.refresh_token_expires_in = 86400;
  const auto text = tokens_to_continuation(tokens, "mine_v1");
  ASSERT_TRUE(text);
  const auto back = tokens_from_continuation(*text, "mine_v1");
  ASSERT_TRUE(back);
  EXPECT_EQ(back->access_token, "a1");
  EXPECT_EQ(back->refresh_token, "r1");
  EXPECT_EQ(back->token_type, "Bearer");
  EXPECT_EQ(back->granted_scopes, tokens.granted_scopes);
  EXPECT_EQ(back->expires_in, 3600);
  EXPECT_EQ(back->refresh_token_expires_in, 86400);
  EXPECT_FALSE(tokens_from_continuation(*text, "theirs_v1")) << "another step's continuation";
  EXPECT_FALSE(tokens_from_continuation("not json", "mine_v1"));

  tokens.access_token = std::string("\xff\xfe", 2);
  EXPECT_FALSE(tokens_to_continuation(tokens, "mine_v1")) << "a token that is not UTF-8 is not mended";
}
