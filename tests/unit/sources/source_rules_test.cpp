// The rules of a source's life (core/sources/source_rules.hpp), on records and a real sealer:
// what a source made from a flow or around a token holds, what a re-authorization, a refresh
// and a client's edit may change, and that sealed credentials open only for their own source.
#include "sources/source_rules.hpp"

#include "crypto/random.hpp"
#include "crypto/sealer.hpp"

#include <gtest/gtest.h>

using namespace connector::core;

namespace {

Sealer make_sealer() { return Sealer({SealingKey{1, random_bytes(32)}}); }

const NewSource made{"org_a", "ws_a", "def_github", "github", "Octo repos"};

FlowRecord authorized_flow() {
  FlowRecord flow;
  flow.id = "conn_0123";
  flow.organization_id = "org_a";
  flow.slug = "github";
  flow.status = FlowStatus::authorized;
  flow.granted_scopes = "repo read:org";
  flow.account_id = "583231";
  flow.account_name = "octocat";
  flow.oauth_app_scope = "org";
  flow.token_expires_at = 1'800'003'600;
  return flow;
}

Credentials token(const std::string& access_token, const std::string& account_id = "583231") {
  Credentials credentials;
  credentials.access_token = access_token;
  credentials.token_type = "bearer";
  credentials.granted_scopes = {"repo"};
  credentials.account_id = account_id;
  credentials.account_name = "octocat";
  return credentials;
}

nlohmann::json configuration(const SourceRecord& source) { return nlohmann::json::parse(source.configuration_json); }

} // namespace

TEST(SourceRules, ASourceFromAFlowHoldsItsGrantAndCredentialsSealedForItself) {
  const Sealer sealer = make_sealer();
  const std::string credentials = token("gho_flow").to_json().dump();
  const SourceRecord source = source_from_flow(made, authorized_flow(), credentials, sealer, 1'800'000'000);
  EXPECT_EQ(source.id.substr(0, 4), "src_");
  EXPECT_EQ(source.connection_id, "conn_0123");
  EXPECT_EQ(source.auth_type, "oauth2.0");
  EXPECT_EQ(source.status, "active");
  EXPECT_EQ(source.oauth_app_scope, "org");
  EXPECT_EQ(source.token_expires_at, 1'800'003'600);
  EXPECT_EQ(configuration(source), (nlohmann::json{{"auth_type", "oauth2.0"},
                                                   {"scopes", {"repo", "read:org"}},
                                                   {"account_id", "583231"},
                                                   {"account_name", "octocat"}}));
  ASSERT_TRUE(open_source_credentials(sealer, source));
  EXPECT_EQ(open_source_credentials(sealer, source)->access_token, "gho_flow");

  SourceRecord moved = source;
  moved.id = "src_other";
  EXPECT_FALSE(open_source_credentials(sealer, moved)) << "sealed for one source, they open for no other";
}

TEST(SourceRules, ATokenSourceKeepsTheClientsConfigurationButNotItsCredentials) {
  const Sealer sealer = make_sealer();
  const SourceRecord source = source_with_token(
      made, {{"repository", "octo/hello"}, {"credentials", {{"access_token", "t"}}}}, token("ghp_given"), sealer, 5);
  EXPECT_EQ(source.auth_type, "access_token");
  EXPECT_EQ(configuration(source), (nlohmann::json{{"repository", "octo/hello"}, {"auth_type", "access_token"}}));
  EXPECT_EQ(open_source_credentials(sealer, source)->access_token, "ghp_given");
}

TEST(SourceRules, TokenCredentialsAreAnAccessTokenAndNothingElse) {
  const auto good = token_credentials({{"access_token", "ghp_x"}}, 42);
  ASSERT_TRUE(good);
  EXPECT_EQ(good->token_type, "bearer");
  EXPECT_EQ(good->obtained_at, 42);
  EXPECT_EQ(token_credentials({{"access_token", ""}}, 0).error().details["errors"][0]["field"],
            "configuration.credentials.access_token");
  EXPECT_EQ(token_credentials({{"access_token", "x"}, {"refresh_token", "y"}}, 0).error().details["errors"][0]["field"],
            "configuration.credentials.refresh_token");
  EXPECT_EQ(
      token_credentials({{"access_token", "x"}, {"auth_type", "oauth2.0"}}, 0).error().details["errors"][0]["field"],
      "configuration.credentials.auth_type");
  EXPECT_FALSE(token_credentials("ghp_x", 0));
}

TEST(SourceRules, AnEditKeepsTheHostsKeysAndRefusesToChangeThem) {
  const Sealer sealer = make_sealer();
  SourceRecord source = source_from_flow(made, authorized_flow(), token("gho").to_json().dump(), sealer, 1);
  ASSERT_FALSE(change_configuration(source, {{"repository", "octo/a"}}, /*replace=*/true, sealer, 2));
  EXPECT_EQ(configuration(source)["repository"], "octo/a");
  EXPECT_EQ(configuration(source)["account_id"], "583231") << "a replace keeps what the host wrote";

  ASSERT_FALSE(change_configuration(source, {{"branch", "main"}}, /*replace=*/false, sealer, 3));
  EXPECT_EQ(configuration(source)["repository"], "octo/a") << "a merge patch keeps the rest";
  EXPECT_EQ(configuration(source)["branch"], "main");

  const std::string before = source.configuration_json;
  const auto refused = change_configuration(source, {{"account_id", "1"}}, false, sealer, 4);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->details["errors"][0]["field"], "configuration.account_id");
  EXPECT_TRUE(change_configuration(source, {{"credentials", {{"access_token", "x"}}}}, false, sealer, 4))
      << "an OAuth source's token changes only by re-authorizing it";
  EXPECT_EQ(source.configuration_json, before) << "a refused edit changes nothing";
}

TEST(SourceRules, ATokenSourcesEditMayReplaceItsToken) {
  const Sealer sealer = make_sealer();
  SourceRecord source = source_with_token(made, nlohmann::json::object(), token("old"), sealer, 1);
  source.status = "needs_reauth";
  ASSERT_FALSE(change_configuration(source, {{"credentials", {{"access_token", "new"}}}}, false, sealer, 9));
  EXPECT_EQ(open_source_credentials(sealer, source)->access_token, "new");
  EXPECT_EQ(open_source_credentials(sealer, source)->obtained_at, 9);
  EXPECT_EQ(source.status, "active");
  EXPECT_FALSE(configuration(source).contains("credentials"));
}

TEST(SourceRules, AReauthorizationRenewsTheSourceForTheSameAccountOnly) {
  const Sealer sealer = make_sealer();
  SourceRecord source = source_from_flow(made, authorized_flow(), token("gho_old").to_json().dump(), sealer, 1);
  source.status = "needs_reauth";
  source.refresh_failures = 3;
  source.refresh_lease_owner = "host_x";
  const SourceRecord untouched = source;

  const auto refused = reauthorize_source(source, token("gho_other", "999"), "ws:ws_a", sealer, 50);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->code, "account_mismatch");
  EXPECT_EQ(source.sealed_credentials, untouched.sealed_credentials) << "a refusal changes nothing";
  EXPECT_EQ(source.status, "needs_reauth");

  ASSERT_FALSE(reauthorize_source(source, token("gho_new"), "ws:ws_a", sealer, 60));
  EXPECT_EQ(open_source_credentials(sealer, source)->access_token, "gho_new");
  EXPECT_EQ(source.status, "active");
  EXPECT_EQ(source.refresh_failures, 0);
  EXPECT_TRUE(source.refresh_lease_owner.empty());
  EXPECT_EQ(source.oauth_app_scope, "ws:ws_a");
  EXPECT_EQ(source.granted_scopes, "repo");
  EXPECT_EQ(configuration(source)["scopes"], (nlohmann::json{"repo"}));
  EXPECT_EQ(source.updated_at, 60);
}

TEST(SourceRules, ARefreshMakesTheSourceActiveWithItsNewToken) {
  const Sealer sealer = make_sealer();
  SourceRecord source = source_from_flow(made, authorized_flow(), token("gho_old").to_json().dump(), sealer, 1);
  source.status = "refresh_failing";
  source.refresh_failures = 2;
  source.last_refresh_error_json = R"({"code":"transient"})";
  Credentials fresh = token("gho_fresh");
  fresh.expires_at = 1'900'000'000;
  apply_refreshed_credentials(source, fresh, sealer, 70);
  EXPECT_EQ(open_source_credentials(sealer, source)->access_token, "gho_fresh");
  EXPECT_EQ(source.status, "active");
  EXPECT_EQ(source.refresh_failures, 0);
  EXPECT_TRUE(source.last_refresh_error_json.empty());
  EXPECT_EQ(source.token_expires_at, 1'900'000'000);
  EXPECT_EQ(source.last_refreshed_at, 70);
}

// What sealed records are bound to is part of the stored data: a changed name would leave
// every sealed secret already stored unopenable. Flows keep the kind they were first sealed
// under ("connection"), sources theirs.
TEST(SourceRules, SealedDataKeepsTheNamesItWasBoundTo) {
  EXPECT_EQ(flow_sealing_context("conn_1", "credentials"), "connection:conn_1:credentials");
  EXPECT_EQ(flow_sealing_context("conn_1", "code_verifier"), "connection:conn_1:code_verifier");

  const Sealer sealer = make_sealer();
  SourceRecord stored;
  stored.id = "src_1";
  stored.sealed_credentials = sealer.seal(token("gho_stored").to_json().dump(), "source:src_1:credentials");
  ASSERT_TRUE(open_source_credentials(sealer, stored));
  EXPECT_EQ(open_source_credentials(sealer, stored)->access_token, "gho_stored");
}

TEST(SourceRules, TheGrantsMetadataIsShownOnTheSourceAndBelongsToTheHost) {
  const Sealer sealer = make_sealer();
  Credentials credentials = token("gho");
  credentials.metadata = {{"instance_url", "https://acme.my.example"}};
  SourceRecord source = source_from_flow(made, authorized_flow(), credentials.to_json().dump(), sealer, 1);
  EXPECT_EQ(configuration(source)["metadata"]["instance_url"], "https://acme.my.example");
  EXPECT_EQ(open_source_credentials(sealer, source)->metadata, credentials.metadata) << "and kept with the tokens";

  ASSERT_FALSE(change_configuration(source, {{"branch", "main"}}, /*replace=*/true, sealer, 2));
  EXPECT_EQ(configuration(source)["metadata"]["instance_url"], "https://acme.my.example");
  EXPECT_TRUE(
      change_configuration(source, {{"metadata", {{"instance_url", "https://evil.example"}}}}, false, sealer, 3))
      << "a client cannot point the host's calls elsewhere";

  credentials.metadata["instance_url"] = "https://moved.my.example";
  apply_refreshed_credentials(source, credentials, sealer, 4);
  EXPECT_EQ(configuration(source)["metadata"]["instance_url"], "https://moved.my.example") << "a refresh may move it";
  EXPECT_EQ(configuration(source)["branch"], "main");
}

TEST(GrantMetadata, TakesAnObjectOfShortStringsWithPlainNamesOnly) {
  EXPECT_EQ(grant_metadata(R"({"realm_id":"4620816365","instance_url":"https://a.example"})")->size(), 2U);
  EXPECT_FALSE(grant_metadata(""));
  EXPECT_FALSE(grant_metadata("[]"));
  EXPECT_FALSE(grant_metadata(R"({"Realm":"1"})")) << "names are [a-z0-9_]";
  EXPECT_FALSE(grant_metadata(R"({"n":1})")) << "values are strings";
  EXPECT_FALSE(grant_metadata(R"({"n":"a\nb"})")) << "no control characters";
  EXPECT_FALSE(grant_metadata(nlohmann::json({{"n", std::string(501, 'x')}}).dump()));
  nlohmann::json many = nlohmann::json::object();
  for (int i = 0; i < 21; ++i)
    many["m" + std::to_string(i)] = "v";
  EXPECT_FALSE(grant_metadata(many.dump()));

  Credentials previous = token("old");
  previous.metadata = {{"realm_id", "1"}};
  OperationResult refreshed;
  refreshed.access_token = "new";
  EXPECT_EQ(Credentials::from_result(refreshed, 10, &previous).metadata, previous.metadata)
      << "a refresh that says nothing of it keeps it";
  refreshed.metadata_json = R"({"realm_id":"2"})";
  EXPECT_EQ(Credentials::from_result(refreshed, 10, &previous).metadata["realm_id"], "2");
}

TEST(GrantMetadata, TheRedirectsOtherParametersAreBoundedAndNeverMadeUp) {
  EXPECT_EQ(callback_parameters_json({}), "");
  EXPECT_EQ(callback_parameters_json({{"realmId", "46"}, {"realmId", "47"}}), R"({"realmId":"46"})")
      << "the first of a repeated parameter";
  std::vector<std::pair<std::string, std::string>> flood;
  for (int i = 0; i < 50; ++i)
    flood.emplace_back("p" + std::to_string(i), std::string(i == 0 ? 600 : 1, 'v'));
  const auto kept = nlohmann::json::parse(callback_parameters_json(flood));
  EXPECT_EQ(kept.size(), 10U);
  EXPECT_FALSE(kept.contains("p0")) << "a value past 512 bytes is left out";
  EXPECT_EQ(nlohmann::json::parse(callback_parameters_json({{"bad", "\xff\xfe"}}))["bad"], "")
      << "bytes that are not UTF-8 are dropped, not passed on";
}
