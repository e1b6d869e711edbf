// The routes of docs/sources-and-tokens.md through the real host process, the real plugins and
// the TLS provider double: sources (create, replace, merge-patch, delete with revocation,
// test, access token, re-authorize), workspaces (rename, delete, cascade), an organization's
// own OAuth apps, and the source definitions' specs. Every refusal is checked for its error
// envelope and for leaving the store as it was.
#include "integration/flow_driver.hpp"

#include <gmock/gmock.h>

using namespace connector::testing;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

namespace {

const char* const host_keys[] = {"auth_type", "scopes", "account_id", "account_name"};

nlohmann::json without_host_keys(nlohmann::json configuration) {
  for (const char* key : host_keys)
    configuration.erase(key);
  return configuration;
}

nlohmann::json token_credentials(const std::string& token) {
  return {{"auth_type", "access_token"}, {"access_token", token}};
}

class SourceRoutes : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    work_ = std::make_unique<TempDir>("connector-sources");
    provider_ = std::make_unique<ProviderDouble>(work_->path());
    // The background refresher stays out of the way: these tests count provider calls.
    HostOptions options;
    options.environment = {{"CONNECTOR_TOKEN_REFRESH_SCAN_SECONDS", "3600"}};
    host_ = std::make_unique<HostProcess>(work_->path(), provider_.get(), options);
  }
  static void TearDownTestSuite() {
    host_.reset();
    provider_.reset();
    work_.reset();
  }
  void SetUp() override { provider_->control("POST", "/__control/reset"); }

  static std::string url(const std::string& org, const std::string& path) { return host_->api(org) + path; }
  static std::string dump() { return host_->dump(); }

  // POST sources with a token the caller holds; the answer must be 201.
  static nlohmann::json create_token_source(const std::string& org, const std::string& key,
                                            const std::string& workspace, const std::string& token,
                                            nlohmann::json configuration = nlohmann::json::object(),
                                            const std::string& name = "Own token") {
    configuration["credentials"] = token_credentials(token);
    const auto created = api_post(url(org, "/sources"), key,
                                  {{"name", name},
                                   {"source_definition_id", github_definition},
                                   {"workspace_id", workspace},
                                   {"configuration", configuration}});
    if (created.status != 201) throw std::runtime_error("POST sources answered " + created.body);
    return created.json();
  }

  // The raw bytes of the database and its write-ahead log.
  static std::string database_bytes() {
    const auto file = database_file(host_->data_dir());
    return file_bytes(file) + file_bytes(file.string() + "-wal");
  }

  static std::unique_ptr<TempDir> work_;
  static std::unique_ptr<ProviderDouble> provider_;
  static std::unique_ptr<HostProcess> host_;
};

std::unique_ptr<TempDir> SourceRoutes::work_;
std::unique_ptr<ProviderDouble> SourceRoutes::provider_;
std::unique_ptr<HostProcess> SourceRoutes::host_;

// --- Creating, reading, listing

TEST_F(SourceRoutes, AnAccessTokenSourceIsCreatedWithItsTokenSealedAndNeverShown) {
  const std::string org = "org_src_create";
  const std::string key = host_->create_key(org);
  const std::string reader = host_->create_key(org, credentials_read_permissions);
  const std::string workspace = host_->create_workspace(org, key);
  const std::string token = mint_github_token(*provider_);

  const auto created = api_post(url(org, "/sources"), key,
                                {{"name", "My repositories"},
                                 {"source_definition_id", github_definition},
                                 {"workspace_id", workspace},
                                 {"configuration",
                                  {{"credentials", token_credentials(token)},
                                   {"repositories", nlohmann::json::array({"octocat/hello-world"})}}}});
  ASSERT_EQ(created.status, 201) << created.body;
  const auto source = created.json();
  const std::string id = source.value("source_id", "");
  EXPECT_THAT(id, StartsWith("src_"));
  EXPECT_EQ(source["name"], "My repositories");
  EXPECT_EQ(source["source_definition_id"], github_definition);
  EXPECT_EQ(source["workspace_id"], workspace);
  EXPECT_EQ(source["source_type"], "github");
  EXPECT_EQ(source["status"], "active");
  EXPECT_EQ(source["auth"]["type"], "access_token");
  EXPECT_TRUE(source["auth"]["expires_at"].is_null()) << source.dump();
  EXPECT_EQ(source["auth"]["refreshable"], false) << "an access_token source is never refreshed";
  EXPECT_EQ(source["configuration"]["repositories"], nlohmann::json::array({"octocat/hello-world"}));
  EXPECT_FALSE(source["configuration"].contains("credentials")) << source.dump();
  EXPECT_THAT(created.body, Not(HasSubstr(token)));
  EXPECT_THAT(dump(), Not(HasSubstr(token))) << "the token is sealed at rest";

  const auto fetched = api_get(url(org, "/sources/" + id), key);
  ASSERT_EQ(fetched.status, 200) << fetched.body;
  EXPECT_EQ(fetched.json()["configuration"], source["configuration"]);
  EXPECT_THAT(fetched.body, Not(HasSubstr(token)));

  const auto listed = api_get(url(org, "/sources?workspace_id=" + workspace), key);
  ASSERT_EQ(listed.status, 200) << listed.body;
  ASSERT_EQ(listed.json()["sources"].size(), 1U) << listed.body;
  EXPECT_EQ(listed.json()["sources"][0]["source_id"], id);
  EXPECT_THAT(listed.body, Not(HasSubstr(token)));

  // The organization's own services get exactly the token back, never refreshed.
  const auto handed = request_access_token(*host_, org, reader, id);
  ASSERT_EQ(handed.status, 200) << handed.body;
  EXPECT_EQ(handed.json()["source_id"], id);
  EXPECT_EQ(handed.json()["access_token"], token);
  EXPECT_EQ(handed.json()["refreshed"], false);
  EXPECT_TRUE(handed.json()["expires_at"].is_null()) << handed.body;
  EXPECT_EQ(provider_->stats()["refresh_calls"], 0);
}

TEST_F(SourceRoutes, CreatingASourceRefusesBadBodiesAndStoresNothing) {
  const std::string org = "org_src_create_refused";
  const std::string key = host_->create_key(org);
  const std::string workspace = host_->create_workspace(org, key);
  const std::string token = mint_github_token(*provider_);
  const std::string other_key = host_->create_key("org_src_create_other");
  const nlohmann::json good = {{"name", "x"},
                               {"source_definition_id", github_definition},
                               {"workspace_id", workspace},
                               {"configuration", {{"credentials", token_credentials(token)}}}};
  const std::string before = dump();

  struct Case {
    const char* what;
    nlohmann::json body;
    int status;
    const char* code;
  };
  std::vector<Case> cases;
  auto with = [&](const std::function<void(nlohmann::json&)>& change) {
    nlohmann::json body = good;
    change(body);
    return body;
  };
  cases.push_back({"no name", with([](auto& b) { b.erase("name"); }), 422, "VALIDATION_ERROR"});
  cases.push_back({"name not a string", with([](auto& b) { b["name"] = 7; }), 422, "VALIDATION_ERROR"});
  cases.push_back({"no workspace", with([](auto& b) { b.erase("workspace_id"); }), 422, "VALIDATION_ERROR"});
  cases.push_back(
      {"configuration not an object", with([](auto& b) { b["configuration"] = "token"; }), 422, "VALIDATION_ERROR"});
  cases.push_back(
      {"no credentials", with([](auto& b) { b["configuration"].erase("credentials"); }), 422, "VALIDATION_ERROR"});
  cases.push_back({"credentials without a token",
                   with([](auto& b) { b["configuration"]["credentials"].erase("access_token"); }), 422,
                   "VALIDATION_ERROR"});
  cases.push_back({"credentials of another auth type",
                   with([](auto& b) { b["configuration"]["credentials"]["auth_type"] = "oauth2.0"; }), 422,
                   "VALIDATION_ERROR"});
  cases.push_back({"unknown definition", with([](auto& b) { b["source_definition_id"] = "no-such-definition"; }), 404,
                   "SOURCE_DEFINITION_NOT_FOUND"});
  cases.push_back(
      {"unknown workspace", with([](auto& b) { b["workspace_id"] = "ws_nope"; }), 404, "WORKSPACE_NOT_FOUND"});
  for (const auto& c : cases) {
    const auto refused = api_post(url(org, "/sources"), key, c.body);
    EXPECT_TRUE(is_error(refused, c.status, c.code)) << c.what;
    EXPECT_THAT(refused.body, Not(HasSubstr(token))) << c.what;
  }
  const auto malformed =
      http_request("POST", url(org, "/sources"),
                   {{"Authorization", "Bearer " + key}, {"Content-Type", "application/json"}}, "{\"name\": ");
  EXPECT_TRUE(is_error(malformed, 400, "INVALID_REQUEST_BODY"));
  EXPECT_EQ(dump(), before) << "refusals store nothing";

  // Another organization's workspace does not exist for this one.
  const auto foreign = api_post(url("org_src_create_other", "/sources"), other_key, with([](auto&) {}));
  EXPECT_TRUE(is_error(foreign, 404, "WORKSPACE_NOT_FOUND"));
  EXPECT_EQ(dump(), before);
}

TEST_F(SourceRoutes, AnUnknownOrForeignSourceIsNotFoundOnEveryRoute) {
  const std::string org = "org_src_unknown";
  const std::string key = host_->create_key(org, credentials_read_permissions);
  const std::string workspace = host_->create_workspace(org, key);
  const auto source = create_token_source(org, key, workspace, mint_github_token(*provider_));
  const std::string other = "org_src_unknown_other";
  const std::string other_key = host_->create_key(other, credentials_read_permissions);
  const std::string before = dump();

  for (const std::string& id : {std::string("src_does_not_exist"), source["source_id"].get<std::string>()}) {
    const std::string base = url(other, "/sources/" + id);
    EXPECT_TRUE(is_error(api_get(base, other_key), 404, "SOURCE_NOT_FOUND")) << id;
    EXPECT_TRUE(is_error(api_call("PUT", base, other_key, {{"name", "x"}, {"configuration", nlohmann::json::object()}}),
                         404, "SOURCE_NOT_FOUND"))
        << id;
    EXPECT_TRUE(is_error(api_call("PATCH", base, other_key, {{"name", "x"}}), 404, "SOURCE_NOT_FOUND")) << id;
    EXPECT_TRUE(is_error(api_call("DELETE", base, other_key), 404, "SOURCE_NOT_FOUND")) << id;
    EXPECT_TRUE(
        is_error(api_post(base + "/access-token", other_key, nlohmann::json::object()), 404, "SOURCE_NOT_FOUND"))
        << id;
    EXPECT_TRUE(is_error(api_post(base + "/reauthorize", other_key, {{"redirect_url", client_redirect}}), 404,
                         "SOURCE_NOT_FOUND"))
        << id;
    EXPECT_TRUE(
        is_error(api_post(url(other, "/sources/test"), other_key, {{"source_id", id}}), 404, "SOURCE_NOT_FOUND"))
        << id;
  }
  EXPECT_EQ(dump(), before);
  EXPECT_EQ(provider_->stats()["revokes"], 0);
  EXPECT_EQ(get_source(*host_, org, key, source["source_id"])["name"], "Own token");
}

// --- PUT and PATCH

TEST_F(SourceRoutes, PutReplacesNameAndSettingsAndKeepsTheHostsKeys) {
  const std::string org = "org_src_put";
  const std::string key = host_->create_key(org);
  const std::string workspace = host_->create_workspace(org, key);
  const auto flow = run_flow(*host_, org, key, workspace, github_definition, "Before");
  const std::string id = flow.source_id();
  const nlohmann::json original = flow.source["configuration"];
  ASSERT_EQ(original["auth_type"], "oauth2.0") << original.dump();
  ASSERT_EQ(original["account_name"], "octocat") << original.dump();
  const std::string source_url = url(org, "/sources/" + id);

  const auto put = api_call("PUT", source_url, key, {{"name", "After"}, {"configuration", {{"branch", "main"}}}});
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(put.json()["source_id"], id);
  EXPECT_EQ(put.json()["name"], "After");
  EXPECT_EQ(put.json()["configuration"]["branch"], "main");
  for (const char* host_key : host_keys)
    EXPECT_EQ(put.json()["configuration"][host_key], original[host_key]) << host_key;
  EXPECT_EQ(get_source(*host_, org, key, id), put.json()) << "GET answers what PUT answered";

  // PUT replaces: settings not in the body are gone; the host's keys stay.
  const auto replaced =
      api_call("PUT", source_url, key, {{"name", "After"}, {"configuration", {{"start_date", "2024-01-01"}}}});
  ASSERT_EQ(replaced.status, 200) << replaced.body;
  EXPECT_EQ(without_host_keys(replaced.json()["configuration"]), nlohmann::json({{"start_date", "2024-01-01"}}));
  for (const char* host_key : host_keys)
    EXPECT_EQ(replaced.json()["configuration"][host_key], original[host_key]) << host_key;

  // Restating the host's keys with their own values is no change to them.
  nlohmann::json restated = original;
  restated["start_date"] = "2025-01-01";
  const auto same = api_call("PUT", source_url, key, {{"name", "After"}, {"configuration", restated}});
  EXPECT_EQ(same.status, 200) << same.body;
  EXPECT_EQ(same.json()["configuration"]["start_date"], "2025-01-01");

  // Refusals change nothing.
  const nlohmann::json current = get_source(*host_, org, key, id);
  const std::string before = dump();
  struct Case {
    const char* what;
    nlohmann::json body;
  };
  const std::vector<Case> cases = {
      {"no configuration", {{"name", "x"}}},
      {"no name", {{"configuration", nlohmann::json::object()}}},
      {"configuration not an object", {{"name", "x"}, {"configuration", nlohmann::json::array()}}},
      {"another account_id", {{"name", "x"}, {"configuration", {{"account_id", "999"}}}}},
      {"another account_name", {{"name", "x"}, {"configuration", {{"account_name", "mallory"}}}}},
      {"other scopes", {{"name", "x"}, {"configuration", {{"scopes", nlohmann::json::array({"admin:org"})}}}}},
      {"another auth_type", {{"name", "x"}, {"configuration", {{"auth_type", "access_token"}}}}},
      {"credentials on an OAuth source",
       {{"name", "x"}, {"configuration", {{"credentials", token_credentials("gho_not_from_a_flow")}}}}},
  };
  for (const auto& c : cases) {
    const auto refused = api_call("PUT", source_url, key, c.body);
    EXPECT_TRUE(is_error(refused, 422, "VALIDATION_ERROR")) << c.what;
  }
  const auto missing = api_call("PUT", source_url, key, {{"name", "x"}});
  EXPECT_NE(missing.body.find(R"({"field":"configuration","message":"is required"})"), std::string::npos)
      << missing.body;
  EXPECT_EQ(get_source(*host_, org, key, id), current);
  EXPECT_EQ(dump(), before);
}

TEST_F(SourceRoutes, PatchIsAJsonMergePatchOfNameAndSettings) {
  const std::string org = "org_src_patch";
  const std::string key = host_->create_key(org);
  const std::string workspace = host_->create_workspace(org, key);
  const auto source = create_token_source(org, key, workspace, mint_github_token(*provider_),
                                          {{"repositories", nlohmann::json::array({"octocat/a"})},
                                           {"start_date", "2024-01-01"},
                                           {"nested", {{"a", 1}, {"b", 2}}}},
                                          "Patched");
  const std::string id = source["source_id"];
  const std::string source_url = url(org, "/sources/" + id);

  const auto patched = api_call(
      "PATCH", source_url, key,
      {{"configuration", {{"start_date", nullptr}, {"nested", {{"b", nullptr}, {"c", 3}}}, {"branch", "main"}}}});
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(patched.json()["name"], "Patched") << "a name not in the patch stays";
  EXPECT_EQ(without_host_keys(patched.json()["configuration"]),
            nlohmann::json({{"repositories", nlohmann::json::array({"octocat/a"})},
                            {"nested", {{"a", 1}, {"c", 3}}},
                            {"branch", "main"}}));
  for (const char* host_key : host_keys)
    EXPECT_EQ(patched.json()["configuration"].value(host_key, nlohmann::json()),
              source["configuration"].value(host_key, nlohmann::json()))
        << host_key;

  // Arrays are replaced whole (RFC 7396), and the name alone can change.
  const auto renamed = api_call(
      "PATCH", source_url, key,
      {{"name", "Renamed"}, {"configuration", {{"repositories", nlohmann::json::array({"octocat/b", "octocat/c"})}}}});
  ASSERT_EQ(renamed.status, 200) << renamed.body;
  EXPECT_EQ(renamed.json()["name"], "Renamed");
  EXPECT_EQ(renamed.json()["configuration"]["repositories"], nlohmann::json::array({"octocat/b", "octocat/c"}));
  EXPECT_EQ(renamed.json()["configuration"]["branch"], "main");
  EXPECT_EQ(get_source(*host_, org, key, id), renamed.json());

  const nlohmann::json current = renamed.json();
  const std::string before = dump();
  EXPECT_TRUE(is_error(api_call("PATCH", source_url, key, {{"name", 7}}), 422, "VALIDATION_ERROR"));
  EXPECT_TRUE(is_error(api_call("PATCH", source_url, key, {{"configuration", "x"}}), 422, "VALIDATION_ERROR"));
  EXPECT_TRUE(is_error(api_call("PATCH", source_url, key, {{"configuration", {{"auth_type", "oauth2.0"}}}}), 422,
                       "VALIDATION_ERROR"));
  const auto malformed =
      http_request("PATCH", source_url, {{"Authorization", "Bearer " + key}, {"Content-Type", "application/json"}},
                   "{\"configuration\": {");
  EXPECT_TRUE(is_error(malformed, 400, "INVALID_REQUEST_BODY"));
  EXPECT_EQ(get_source(*host_, org, key, id), current);
  EXPECT_EQ(dump(), before);
}

TEST_F(SourceRoutes, PatchRefusesTheHostsKeysOfAnOAuthSourceAndItsCredentials) {
  const std::string org = "org_src_patch_oauth";
  const std::string key = host_->create_key(org);
  const std::string workspace = host_->create_workspace(org, key);
  const auto flow = run_flow(*host_, org, key, workspace, github_definition, "OAuth source");
  const std::string source_url = url(org, "/sources/" + flow.source_id());
  const nlohmann::json original = flow.source["configuration"];

  const std::vector<std::pair<const char*, nlohmann::json>> patches = {
      {"auth_type", "access_token"}, {"scopes", nlohmann::json::array({"admin:org"})},          {"account_id", "999"},
      {"account_name", "mallory"},   {"credentials", token_credentials("gho_not_from_a_flow")},
  };
  const nlohmann::json current = get_source(*host_, org, key, flow.source_id());
  const std::string before = dump();
  for (const auto& [member, value] : patches) {
    const auto refused = api_call("PATCH", source_url, key, {{"configuration", {{member, value}}}});
    EXPECT_TRUE(is_error(refused, 422, "VALIDATION_ERROR")) << member;
  }
  EXPECT_EQ(get_source(*host_, org, key, flow.source_id()), current);
  EXPECT_EQ(dump(), before);

  // The same values again are no change, and other settings merge in.
  const auto same = api_call("PATCH", source_url, key,
                             {{"configuration", {{"account_id", original["account_id"]}, {"branch", "dev"}}}});
  ASSERT_EQ(same.status, 200) << same.body;
  EXPECT_EQ(same.json()["configuration"]["branch"], "dev");
  EXPECT_EQ(same.json()["configuration"]["account_id"], original["account_id"]);
  EXPECT_EQ(same.json()["configuration"]["scopes"], original["scopes"]);
}

TEST_F(SourceRoutes, NewCredentialsReplaceTheTokenOfAnAccessTokenSource) {
  const std::string org = "org_src_new_token";
  const std::string key = host_->create_key(org, credentials_read_permissions);
  const std::string workspace = host_->create_workspace(org, key);
  const std::string first = mint_github_token(*provider_);
  const std::string second = mint_github_token(*provider_);
  const std::string third = mint_github_token(*provider_);
  const auto source = create_token_source(org, key, workspace, first);
  const std::string id = source["source_id"];

  const auto patched = api_call("PATCH", url(org, "/sources/" + id), key,
                                {{"configuration", {{"credentials", token_credentials(second)}}}});
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_THAT(patched.body, Not(HasSubstr(second)));
  EXPECT_FALSE(patched.json()["configuration"].contains("credentials"));
  EXPECT_EQ(request_access_token(*host_, org, key, id).json()["access_token"], second);

  const auto put = api_call("PUT", url(org, "/sources/" + id), key,
                            {{"name", "Replaced"}, {"configuration", {{"credentials", token_credentials(third)}}}});
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_THAT(put.body, Not(HasSubstr(third)));
  EXPECT_EQ(request_access_token(*host_, org, key, id).json()["access_token"], third);
  EXPECT_THAT(dump(), Not(HasSubstr(third)));

  // A PUT without credentials keeps the token.
  const auto kept =
      api_call("PUT", url(org, "/sources/" + id), key, {{"name", "Kept"}, {"configuration", {{"branch", "main"}}}});
  ASSERT_EQ(kept.status, 200) << kept.body;
  EXPECT_EQ(request_access_token(*host_, org, key, id).json()["access_token"], third);
}

// --- DELETE

TEST_F(SourceRoutes, DeletingErasesTheSealedCredentialsFromTheFilesAndRevokesTheGrant) {
  const std::string org = "org_src_delete";
  const std::string key = host_->create_key(org, credentials_read_permissions);
  const std::string workspace = host_->create_workspace(org, key);
  const auto flow = run_flow(*host_, org, key, workspace, github_definition);
  const std::string id = flow.source_id();
  const auto handed = request_access_token(*host_, org, key, id);
  ASSERT_EQ(handed.status, 200) << handed.body;
  const std::string token = handed.json()["access_token"];
  ASSERT_TRUE(github_token_works(*provider_, token));

  const std::string hex =
      sqlite_query(host_->data_dir(), "SELECT hex(sealed_credentials) FROM sources WHERE id = '" + id + "'");
  ASSERT_GE(hex.size(), 64U) << "the sealed credentials: " << hex;
  const std::string sealed = hex_to_bytes(hex);
  const std::string middle = sealed.substr(sealed.size() / 2 - 16, 32);
  ASSERT_NE(database_bytes().find(middle), std::string::npos) << "the ciphertext is on disk before the delete";

  const auto deleted = api_call("DELETE", url(org, "/sources/" + id), key);
  EXPECT_EQ(deleted.status, 204) << deleted.body;
  EXPECT_EQ(deleted.header("connector-revocation"), "revoked");

  const auto stats = provider_->stats();
  EXPECT_EQ(stats["github"]["revokes"], 1) << stats.dump();
  ASSERT_EQ(stats["revoked_tokens"].size(), 1U) << stats.dump();
  EXPECT_EQ(stats["revoked_tokens"][0]["token"], token);
  EXPECT_FALSE(github_token_works(*provider_, token)) << "the grant is revoked at the provider";

  EXPECT_TRUE(is_error(api_get(url(org, "/sources/" + id), key), 404, "SOURCE_NOT_FOUND"));
  EXPECT_EQ(api_get(url(org, "/sources?workspace_id=" + workspace), key).json()["sources"].size(), 0U);
  EXPECT_EQ(sqlite_query(host_->data_dir(), "SELECT count(*) FROM sources WHERE id = '" + id + "'"), "0");

  const std::string after = database_bytes();
  EXPECT_EQ(after.find(sealed), std::string::npos) << "the sealed credentials are still in the database files";
  EXPECT_EQ(after.find(middle), std::string::npos) << "part of the sealed credentials is still in the files";

  // Deleting again: the source is gone.
  EXPECT_TRUE(is_error(api_call("DELETE", url(org, "/sources/" + id), key), 404, "SOURCE_NOT_FOUND"));
  EXPECT_EQ(provider_->stats()["revokes"], 1);
}

TEST_F(SourceRoutes, DeletingAGoogleSourceRevokesThroughGoogle) {
  const std::string org = "org_src_delete_google";
  const std::string key = host_->create_key(org, credentials_read_permissions);
  const std::string workspace = host_->create_workspace(org, key);
  const auto flow = run_flow(*host_, org, key, workspace, google_sheets_definition);
  const std::string token = request_access_token(*host_, org, key, flow.source_id()).json().value("access_token", "");
  ASSERT_THAT(token, StartsWith("ya29."));

  const auto deleted = api_call("DELETE", url(org, "/sources/" + flow.source_id() + "?revoke=true"), key);
  EXPECT_EQ(deleted.status, 204) << deleted.body;
  EXPECT_EQ(deleted.header("connector-revocation"), "revoked");
  const auto stats = provider_->stats();
  EXPECT_EQ(stats["google"]["revokes"], 1) << stats.dump();
  EXPECT_FALSE(google_token_works(*provider_, token));
  EXPECT_TRUE(is_error(api_get(url(org, "/sources/" + flow.source_id()), key), 404, "SOURCE_NOT_FOUND"));
}

TEST_F(SourceRoutes, DeletingWithRevokeFalseLeavesTheGrantAlone) {
  const std::string org = "org_src_delete_keep";
  const std::string key = host_->create_key(org);
  const std::string workspace = host_->create_workspace(org, key);
  const std::string token = mint_github_token(*provider_);
  const auto source = create_token_source(org, key, workspace, token);

  const auto deleted =
      api_call("DELETE", url(org, "/sources/" + source["source_id"].get<std::string>() + "?revoke=false"), key);
  EXPECT_EQ(deleted.status, 204) << deleted.body;
  EXPECT_EQ(deleted.header("connector-revocation"), "skipped");
  EXPECT_EQ(provider_->stats()["revokes"], 0);
  EXPECT_TRUE(github_token_works(*provider_, token)) << "the token still works at the provider";
  EXPECT_TRUE(
      is_error(api_get(url(org, "/sources/" + source["source_id"].get<std::string>()), key), 404, "SOURCE_NOT_FOUND"));
}

// The host revokes only grants its OAuth app obtained: a token the caller brought is theirs.
// (docs/sources-and-tokens.md lists "skipped" for ?revoke=false or no token; the implementation
// also skips access_token sources.)
TEST_F(SourceRoutes, DeletingAnAccessTokenSourceLeavesTheCallersTokenAlone) {
  const std::string org = "org_src_delete_token";
  const std::string key = host_->create_key(org);
  const std::string workspace = host_->create_workspace(org, key);
  const std::string token = mint_github_token(*provider_);
  const auto source = create_token_source(org, key, workspace, token);

  const auto deleted = api_call("DELETE", url(org, "/sources/" + source["source_id"].get<std::string>()), key);
  EXPECT_EQ(deleted.status, 204) << deleted.body;
  EXPECT_EQ(deleted.header("connector-revocation"), "skipped");
  EXPECT_EQ(provider_->stats()["revokes"], 0);
  EXPECT_TRUE(github_token_works(*provider_, token));
  EXPECT_TRUE(
      is_error(api_get(url(org, "/sources/" + source["source_id"].get<std::string>()), key), 404, "SOURCE_NOT_FOUND"));
}

TEST_F(SourceRoutes, AGrantTheUserAlreadyRemovedCountsAsRevoked) {
  const std::string org = "org_src_delete_gone";
  const std::string key = host_->create_key(org);
  const std::string workspace = host_->create_workspace(org, key);
  const auto flow = run_flow(*host_, org, key, workspace, github_definition);
  provider_->control("POST", "/__control/revoke-all"); // the user revoked the app at GitHub already

  // GitHub answers 404 for a grant it no longer has: the grant is gone, which was the point.
  const auto deleted = api_call("DELETE", url(org, "/sources/" + flow.source_id()), key);
  EXPECT_EQ(deleted.status, 204) << deleted.body;
  EXPECT_EQ(deleted.header("connector-revocation"), "revoked");
  EXPECT_EQ(provider_->stats()["revokes"], 1) << "the host asked";
  EXPECT_TRUE(is_error(api_get(url(org, "/sources/" + flow.source_id()), key), 404, "SOURCE_NOT_FOUND"));
}

// --- sources/test

TEST_F(SourceRoutes, TestingASourceSucceedsThenFailsOnceTheUserRevokedTheApp) {
  const std::string org = "org_src_test";
  const std::string key = host_->create_key(org);
  const std::string workspace = host_->create_workspace(org, key);
  const auto flow = run_flow(*host_, org, key, workspace, github_definition);
  const int user_calls_before = provider_->stats()["github"]["user_calls_ok"];

  const auto tested = api_post(url(org, "/sources/test"), key, {{"source_id", flow.source_id()}});
  ASSERT_EQ(tested.status, 200) << tested.body;
  const auto result = tested.json();
  EXPECT_EQ(result["status"], "succeeded") << tested.body;
  const auto& job = result["job_info"];
  EXPECT_THAT(job.value("job_id", ""), StartsWith("job_"));
  EXPECT_EQ(job["config_type"], "check_connection_source");
  EXPECT_EQ(job["source_id"], flow.source_id());
  EXPECT_EQ(job["succeeded"], true);
  EXPECT_EQ(job["token_refreshed"], false);
  EXPECT_TRUE(job["failure_reason"].is_null()) << tested.body;
  EXPECT_TRUE(job["duration_ms"].is_number()) << tested.body;
  EXPECT_TRUE(job["created_at"].is_string() && job["ended_at"].is_string()) << tested.body;
  EXPECT_EQ(provider_->stats()["github"]["user_calls_ok"], user_calls_before + 1) << "GitHub's GET /user was called";

  provider_->control("POST", "/__control/revoke-all");
  const auto failed = api_post(url(org, "/sources/test"), key, {{"source_id", flow.source_id()}});
  ASSERT_EQ(failed.status, 200) << "a failed check is still HTTP 200: " << failed.body;
  EXPECT_EQ(failed.json()["status"], "failed");
  EXPECT_FALSE(failed.json().value("message", "").empty()) << failed.body;
  EXPECT_EQ(failed.json()["job_info"]["succeeded"], false);
  ASSERT_TRUE(failed.json()["job_info"]["failure_reason"].is_object()) << failed.body;
  EXPECT_FALSE(failed.json()["job_info"]["failure_reason"].value("code", "").empty()) << failed.body;
  EXPECT_FALSE(failed.json()["job_info"]["failure_reason"].value("message", "").empty()) << failed.body;
}

TEST_F(SourceRoutes, TestingAConfigurationChecksTheGivenTokenWithoutStoringIt) {
  const std::string org = "org_src_test_inline";
  const std::string key = host_->create_key(org);
  const std::string token = mint_github_token(*provider_);

  const auto good = api_post(
      url(org, "/sources/test"), key,
      {{"source_definition_id", github_definition}, {"configuration", {{"credentials", token_credentials(token)}}}});
  ASSERT_EQ(good.status, 200) << good.body;
  EXPECT_EQ(good.json()["status"], "succeeded") << good.body;
  EXPECT_THAT(good.body, Not(HasSubstr(token)));
  EXPECT_THAT(dump(), Not(HasSubstr(token)));

  const auto bad = api_post(url(org, "/sources/test"), key,
                            {{"source_definition_id", github_definition},
                             {"configuration", {{"credentials", token_credentials("gho_" + std::string(36, 'x'))}}}});
  ASSERT_EQ(bad.status, 200) << bad.body;
  EXPECT_EQ(bad.json()["status"], "failed") << bad.body;

  const std::string before = dump();
  EXPECT_TRUE(is_error(api_post(url(org, "/sources/test"), key, nlohmann::json::object()), 422, "VALIDATION_ERROR"));
  EXPECT_TRUE(is_error(api_post(url(org, "/sources/test"), key,
                                {{"source_definition_id", "no-such-definition"},
                                 {"configuration", {{"credentials", token_credentials(token)}}}}),
                       404, "SOURCE_DEFINITION_NOT_FOUND"));
  EXPECT_EQ(dump(), before);
}

TEST_F(SourceRoutes, TestingRefreshesFirstWhenTheTokenIsDue) {
  const std::string org = "org_src_test_refresh";
  const std::string key = host_->create_key(org);
  const std::string workspace = host_->create_workspace(org, key);
  // GitHub App user tokens that expire within the refresh margin.
  provider_->control("POST", "/__control/mode", {{"github_expiring", true}, {"github_expires_in", 60}});
  const auto flow = run_flow(*host_, org, key, workspace, github_definition);
  provider_->control("POST", "/__control/mode", {{"github_expires_in", 28800}});
  provider_->control("POST", "/__control/reset", {{"stats_only", true}});

  const auto tested = api_post(url(org, "/sources/test"), key, {{"source_id", flow.source_id()}});
  ASSERT_EQ(tested.status, 200) << tested.body;
  EXPECT_EQ(tested.json()["status"], "succeeded") << tested.body;
  EXPECT_EQ(tested.json()["job_info"]["token_refreshed"], true) << tested.body;
  EXPECT_EQ(provider_->stats()["refresh_calls"], 1);
  const auto source = get_source(*host_, org, key, flow.source_id());
  EXPECT_FALSE(source["auth"]["last_refreshed_at"].is_null()) << source.dump();
}

// --- access-token

TEST_F(SourceRoutes, AccessTokenNeedsTheCredentialsReadPermission) {
  const std::string org = "org_src_access";
  const std::string plain = host_->create_key(org);
  const std::string reader = host_->create_key(org, credentials_read_permissions);
  const std::string workspace = host_->create_workspace(org, plain);
  const auto flow = run_flow(*host_, org, plain, workspace, github_definition);
  const std::string before = dump();

  const auto refused = request_access_token(*host_, org, plain, flow.source_id());
  EXPECT_TRUE(is_error(refused, 403, "INSUFFICIENT_PERMISSIONS"));
  EXPECT_EQ(refused.json()["error"]["details"]["required_permission"], "credentials:read") << refused.body;
  EXPECT_THAT(refused.body, Not(HasSubstr("gho_")));
  EXPECT_EQ(dump(), before);

  const auto handed = request_access_token(*host_, org, reader, flow.source_id());
  ASSERT_EQ(handed.status, 200) << handed.body;
  const auto token = handed.json();
  EXPECT_EQ(token["source_id"], flow.source_id());
  EXPECT_THAT(token.value("access_token", ""), StartsWith("gho_"));
  EXPECT_EQ(token["token_type"], "bearer");
  EXPECT_TRUE(token["expires_at"].is_null()) << "an OAuth App token does not expire: " << handed.body;
  ASSERT_TRUE(token["scopes"].is_array()) << handed.body;
  EXPECT_THAT(token["scopes"].dump(), HasSubstr("\"repo\""));
  EXPECT_EQ(token["refreshed"], false);
  EXPECT_TRUE(github_token_works(*provider_, token["access_token"]));

  const auto bad_body =
      api_post(url(org, "/sources/" + flow.source_id() + "/access-token"), reader, {{"force_refresh", "yes"}});
  EXPECT_TRUE(is_error(bad_body, 422, "VALIDATION_ERROR"));
}

// --- Re-authorizing

TEST_F(SourceRoutes, ReauthorizingANeedsReauthSourceUpdatesTheSameSource) {
  const std::string org = "org_src_reauth";
  const std::string key = host_->create_key(org, credentials_read_permissions);
  const std::string workspace = host_->create_workspace(org, key);
  provider_->control("POST", "/__control/mode", {{"github_expiring", true}});
  const auto flow = run_flow(*host_, org, key, workspace, github_definition, "Reauthorized");
  const std::string id = flow.source_id();

  provider_->control("POST", "/__control/revoke-all");
  EXPECT_TRUE(is_error(request_access_token(*host_, org, key, id, true), 409, "SOURCE_NEEDS_REAUTH"));
  const auto broken = get_source(*host_, org, key, id);
  ASSERT_EQ(broken["status"], "needs_reauth") << broken.dump();
  EXPECT_THAT(broken.value("status_detail", ""), HasSubstr("incorrect or expired"));

  const auto started = api_post(url(org, "/sources/" + id + "/reauthorize"), key, {{"redirect_url", client_redirect}});
  ASSERT_EQ(started.status, 200) << started.body;
  const auto body = started.json();
  EXPECT_THAT(body.value("connection_id", ""), StartsWith("conn_"));
  EXPECT_TRUE(body["expires_at"].is_string()) << started.body;
  EXPECT_EQ(query_param(body.value("authorization_url", ""), "client_id"), "test-client-id");

  const std::string location = consent_and_callback(body["authorization_url"]);
  EXPECT_THAT(location, StartsWith(std::string(client_redirect) + "?"));
  EXPECT_EQ(query_param(location, "status"), "success") << location;
  EXPECT_EQ(query_param(location, "source_id"), id) << location;

  const auto repaired = get_source(*host_, org, key, id);
  EXPECT_EQ(repaired["source_id"], id);
  EXPECT_EQ(repaired["status"], "active") << repaired.dump();
  EXPECT_EQ(repaired.value("status_detail", "?"), "");
  EXPECT_EQ(repaired["created_at"], flow.source["created_at"]);
  EXPECT_EQ(repaired["name"], "Reauthorized");
  EXPECT_EQ(repaired["auth"]["consecutive_refresh_failures"], 0);
  EXPECT_TRUE(repaired["auth"]["last_refresh_error"].is_null()) << repaired.dump();
  EXPECT_EQ(api_get(url(org, "/sources?workspace_id=" + workspace), key).json()["sources"].size(), 1U)
      << "no second source";

  // The new grant works, and refreshes again.
  const auto handed = request_access_token(*host_, org, key, id, true);
  ASSERT_EQ(handed.status, 200) << handed.body;
  EXPECT_TRUE(github_token_works(*provider_, handed.json()["access_token"]));
  EXPECT_EQ(get_source(*host_, org, key, id)["status"], "active");

  // Completing with that connection answers the updated source.
  const auto completed = api_post(url(org, "/sources/oauth/callback"), key,
                                  {{"connection_id", body["connection_id"]},
                                   {"workspace_id", workspace},
                                   {"source_definition_id", github_definition},
                                   {"source_name", "Reauthorized"}});
  ASSERT_EQ(completed.status, 200) << completed.body;
  EXPECT_EQ(completed.json()["source_id"], id);
  EXPECT_EQ(completed.json()["status"], "active");
}

TEST_F(SourceRoutes, ReauthorizingWithAnotherAccountFailsAndLeavesTheSourceAlone) {
  const std::string org = "org_src_reauth_mismatch";
  const std::string key = host_->create_key(org, credentials_read_permissions);
  const std::string workspace = host_->create_workspace(org, key);
  const auto flow = run_flow(*host_, org, key, workspace, github_definition);
  const std::string id = flow.source_id();
  const std::string token = request_access_token(*host_, org, key, id).json().value("access_token", "");
  ASSERT_THAT(token, StartsWith("gho_"));
  const auto before = get_source(*host_, org, key, id);

  provider_->control("POST", "/__control/github-user", {{"login", "hubot"}, {"id", 2}});
  const auto started = api_post(url(org, "/sources/" + id + "/reauthorize"), key, {{"redirect_url", client_redirect}});
  ASSERT_EQ(started.status, 200) << started.body;
  const std::string location = consent_and_callback(started.json()["authorization_url"]);
  EXPECT_EQ(query_param(location, "status"), "error") << location;
  EXPECT_EQ(query_param(location, "error"), "account_mismatch") << location;

  EXPECT_EQ(get_source(*host_, org, key, id), before) << "the source is as it was";
  EXPECT_EQ(request_access_token(*host_, org, key, id).json()["access_token"], token) << "with its old token";
  const auto completed = api_post(url(org, "/sources/oauth/callback"), key,
                                  {{"connection_id", started.json()["connection_id"]},
                                   {"workspace_id", workspace},
                                   {"source_definition_id", github_definition},
                                   {"source_name", "x"}});
  EXPECT_TRUE(is_error(completed, 409, "CONNECTION_FAILED"));
}

TEST_F(SourceRoutes, ReauthorizeRefusesWhatCannotBeReauthorized) {
  const std::string org = "org_src_reauth_refused";
  const std::string key = host_->create_key(org);
  const std::string workspace = host_->create_workspace(org, key);
  const auto flow = run_flow(*host_, org, key, workspace, github_definition);
  const auto token_source = create_token_source(org, key, workspace, mint_github_token(*provider_));
  const std::string before = dump();

  EXPECT_TRUE(is_error(api_post(url(org, "/sources/" + flow.source_id() + "/reauthorize"), key,
                                {{"redirect_url", "https://evil.example/callback"}}),
                       422, "REDIRECT_URL_NOT_ALLOWED"));
  EXPECT_TRUE(
      is_error(api_post(url(org, "/sources/" + flow.source_id() + "/reauthorize"), key, nlohmann::json::object()), 422,
               "VALIDATION_ERROR"));
  EXPECT_TRUE(is_error(api_post(url(org, "/sources/" + token_source["source_id"].get<std::string>() + "/reauthorize"),
                                key, {{"redirect_url", client_redirect}}),
                       422, "VALIDATION_ERROR"));
  EXPECT_EQ(dump(), before);
}

// --- Workspaces

TEST_F(SourceRoutes, AWorkspaceIsRenamedWithPatchOrPut) {
  const std::string org = "org_ws_rename";
  const std::string key = host_->create_key(org);
  const std::string workspace = host_->create_workspace(org, key);
  const std::string ws_url = url(org, "/workspaces/" + workspace);

  const auto patched = api_call("PATCH", ws_url, key, {{"name", "Renamed"}});
  ASSERT_EQ(patched.status, 200) << patched.body;
  EXPECT_EQ(patched.json()["workspace_id"], workspace);
  EXPECT_EQ(patched.json()["name"], "Renamed");
  EXPECT_EQ(api_get(ws_url, key).json()["name"], "Renamed");

  const auto put = api_call("PUT", ws_url, key, {{"name", "Put"}});
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(put.json()["name"], "Put");
  EXPECT_EQ(api_get(ws_url, key).json()["name"], "Put");

  const std::string other_key = host_->create_key("org_ws_rename_other");
  const std::string before = dump();
  EXPECT_TRUE(is_error(api_call("PATCH", ws_url, key, {{"name", 7}}), 422, "VALIDATION_ERROR"));
  EXPECT_TRUE(is_error(api_call("PUT", ws_url, key, nlohmann::json::object()), 422, "VALIDATION_ERROR"));
  EXPECT_TRUE(
      is_error(api_call("PATCH", url(org, "/workspaces/ws_nope"), key, {{"name", "x"}}), 404, "WORKSPACE_NOT_FOUND"));
  EXPECT_TRUE(is_error(
      api_call("PATCH", url("org_ws_rename_other", "/workspaces/" + workspace), other_key, {{"name", "stolen"}}), 404,
      "WORKSPACE_NOT_FOUND"));
  EXPECT_EQ(dump(), before);
}

TEST_F(SourceRoutes, AWorkspaceWithSourcesIsDeletedOnlyWithCascade) {
  const std::string org = "org_ws_delete";
  const std::string key = host_->create_key(org, credentials_read_permissions);
  const std::string workspace = host_->create_workspace(org, key);
  const auto flow = run_flow(*host_, org, key, workspace, github_definition);
  const std::string flow_token = request_access_token(*host_, org, key, flow.source_id()).json()["access_token"];
  const std::string own_token = mint_github_token(*provider_);
  const auto token_source = create_token_source(org, key, workspace, own_token);
  const std::string ws_url = url(org, "/workspaces/" + workspace);
  const std::string before = dump();

  for (const std::string& suffix : {std::string(), std::string("?cascade=false")}) {
    const auto refused = api_call("DELETE", ws_url + suffix, key);
    EXPECT_TRUE(is_error(refused, 409, "WORKSPACE_NOT_EMPTY")) << suffix;
  }
  EXPECT_EQ(dump(), before);
  EXPECT_EQ(api_get(ws_url, key).status, 200);
  EXPECT_EQ(provider_->stats()["revokes"], 0);

  const auto deleted = api_call("DELETE", ws_url + "?cascade=true", key);
  EXPECT_EQ(deleted.status, 204) << deleted.body;
  EXPECT_TRUE(is_error(api_get(ws_url, key), 404, "WORKSPACE_NOT_FOUND"));
  EXPECT_TRUE(is_error(api_get(url(org, "/sources/" + flow.source_id()), key), 404, "SOURCE_NOT_FOUND"));
  EXPECT_TRUE(is_error(api_get(url(org, "/sources/" + token_source["source_id"].get<std::string>()), key), 404,
                       "SOURCE_NOT_FOUND"));
  EXPECT_EQ(sqlite_query(host_->data_dir(), "SELECT count(*) FROM sources WHERE workspace_id = '" + workspace + "'"),
            "0");
  // Each source was deleted as DELETE sources/{id} does: the flow's grant revoked, the token the
  // caller brought left alone.
  EXPECT_EQ(provider_->stats()["revokes"], 1);
  EXPECT_FALSE(github_token_works(*provider_, flow_token));
  EXPECT_TRUE(github_token_works(*provider_, own_token));
}

TEST_F(SourceRoutes, AnEmptyWorkspaceIsDeletedOnce) {
  const std::string org = "org_ws_delete_empty";
  const std::string key = host_->create_key(org);
  const std::string workspace = host_->create_workspace(org, key);
  const std::string ws_url = url(org, "/workspaces/" + workspace);
  const auto deleted = api_call("DELETE", ws_url, key);
  EXPECT_EQ(deleted.status, 204) << deleted.body;
  EXPECT_TRUE(is_error(api_get(ws_url, key), 404, "WORKSPACE_NOT_FOUND"));
  EXPECT_TRUE(is_error(api_call("DELETE", ws_url, key), 404, "WORKSPACE_NOT_FOUND"));
  const auto listed = api_get(url(org, "/workspaces"), key);
  EXPECT_EQ(listed.json()["workspaces"].size(), 0U) << listed.body;
}

// --- Bring your own OAuth app

class OwnOAuthApps : public SourceRoutes {
protected:
  void SetUp() override {
    SourceRoutes::SetUp();
    provider_->control("POST", "/__control/clients",
                       {{"clients", nlohmann::json::array({
                                        {{"client_id", "test-client-id"}, {"client_secret", "test-client-secret"}},
                                        {{"client_id", "ws-client"}, {"client_secret", "ws-secret-7f3a9c"}},
                                        {{"client_id", "org-client"}, {"client_secret", "org-secret-2b8e4d"}},
                                    })}});
  }

  static HttpResult put_app(const std::string& org, const std::string& key, const std::string& workspace,
                            const std::string& actor_type, const std::string& client_id,
                            const std::string& client_secret) {
    return api_call("PUT", url(org, "/workspaces/" + workspace + "/oauth-credentials"), key,
                    {{"actor_type", actor_type},
                     {"name", "github"},
                     {"configuration", {{"client_id", client_id}, {"client_secret", client_secret}}}});
  }

  // The client_id the provider's consent page was opened with for a new flow in `workspace`.
  static std::string flow_client_id(const std::string& org, const std::string& key, const std::string& workspace) {
    const auto started = api_post(
        url(org, "/sources/oauth"), key,
        {{"source_definition_id", github_definition}, {"workspace_id", workspace}, {"redirect_url", client_redirect}});
    return query_param(started.json().value("consent_url", ""), "client_id");
  }
};

TEST_F(OwnOAuthApps, AWorkspacesAppRunsItsFlowsRefreshesAndRevocations) {
  const std::string org = "org_app_ws";
  const std::string key = host_->create_key(org, admin_permissions);
  const std::string workspace = host_->create_workspace(org, key);
  const std::string other_workspace = host_->create_workspace(org, key);

  const auto put = put_app(org, key, workspace, "workspace", "ws-client", "ws-secret-7f3a9c");
  ASSERT_EQ(put.status, 200) << put.body;
  const auto summary = put.json();
  EXPECT_EQ(summary["actor_type"], "workspace");
  EXPECT_EQ(summary["name"], "github");
  EXPECT_EQ(summary["workspace_id"], workspace);
  EXPECT_EQ(summary["client_id"], "ws-client");
  EXPECT_TRUE(summary["updated_at"].is_string()) << put.body;
  EXPECT_THAT(put.body, Not(HasSubstr("ws-secret-7f3a9c")));
  EXPECT_THAT(dump(), Not(HasSubstr("ws-secret-7f3a9c"))) << "the app's secret is sealed at rest";

  const auto listed = api_get(url(org, "/workspaces/" + workspace + "/oauth-credentials"), key);
  ASSERT_EQ(listed.status, 200) << listed.body;
  ASSERT_EQ(listed.json()["oauth_credentials"].size(), 1U) << listed.body;
  EXPECT_EQ(listed.json()["oauth_credentials"][0]["client_id"], "ws-client");
  EXPECT_EQ(listed.json()["oauth_credentials"][0]["name"], "github");
  EXPECT_THAT(listed.body, Not(HasSubstr("ws-secret-7f3a9c")));

  // A flow in that workspace runs with its app, end to end (the double checks the code's client).
  provider_->control("POST", "/__control/mode", {{"github_expiring", true}});
  const auto flow = run_flow(*host_, org, key, workspace, github_definition);
  EXPECT_EQ(query_param(flow.consent_url, "client_id"), "ws-client");
  EXPECT_EQ(provider_->stats()["last_authorize_query"]["client_id"], "ws-client");

  // The refresh token goes back to the client it was issued to.
  const auto refreshed = request_access_token(*host_, org, key, flow.source_id(), true);
  ASSERT_EQ(refreshed.status, 200) << refreshed.body;
  EXPECT_EQ(refreshed.json()["refreshed"], true);
  EXPECT_EQ(stat_count(provider_->stats(), "bad_refresh_token"), 0);
  EXPECT_EQ(get_source(*host_, org, key, flow.source_id())["status"], "active");

  // Other workspaces keep the host's app.
  EXPECT_EQ(flow_client_id(org, key, other_workspace), "test-client-id");

  // The revocation is authenticated as the app that issued the token.
  const auto deleted = api_call("DELETE", url(org, "/sources/" + flow.source_id()), key);
  EXPECT_EQ(deleted.status, 204);
  EXPECT_EQ(deleted.header("connector-revocation"), "revoked");
  EXPECT_FALSE(github_token_works(*provider_, refreshed.json()["access_token"]));

  // Removing the app: new flows use the host's app again.
  const auto removed =
      api_call("DELETE", url(org, "/workspaces/" + workspace + "/oauth-credentials/github?actor_type=workspace"), key);
  EXPECT_EQ(removed.status, 204) << removed.body;
  EXPECT_EQ(
      api_get(url(org, "/workspaces/" + workspace + "/oauth-credentials"), key).json()["oauth_credentials"].size(), 0U);
  EXPECT_EQ(flow_client_id(org, key, workspace), "test-client-id");

  const std::string before = dump();
  EXPECT_TRUE(is_error(
      api_call("DELETE", url(org, "/workspaces/" + workspace + "/oauth-credentials/github?actor_type=workspace"), key),
      404, "OAUTH_CREDENTIALS_NOT_FOUND"));
  EXPECT_EQ(dump(), before);
}

TEST_F(OwnOAuthApps, AnOrganizationsAppServesEveryWorkspaceWithoutItsOwn) {
  const std::string org = "org_app_org";
  const std::string key = host_->create_key(org, admin_permissions);
  const std::string first = host_->create_workspace(org, key);
  const std::string second = host_->create_workspace(org, key);

  const auto org_app = put_app(org, key, first, "organization", "org-client", "org-secret-2b8e4d");
  ASSERT_EQ(org_app.status, 200) << org_app.body;
  EXPECT_EQ(org_app.json()["actor_type"], "organization");
  EXPECT_EQ(org_app.json()["client_id"], "org-client");
  EXPECT_THAT(org_app.body, Not(HasSubstr("org-secret-2b8e4d")));
  // "source" is accepted as a synonym of "workspace".
  const auto ws_app = put_app(org, key, first, "source", "ws-client", "ws-secret-7f3a9c");
  ASSERT_EQ(ws_app.status, 200) << ws_app.body;
  EXPECT_EQ(ws_app.json()["client_id"], "ws-client");

  EXPECT_EQ(flow_client_id(org, key, first), "ws-client") << "the workspace's own app comes first";
  EXPECT_EQ(flow_client_id(org, key, second), "org-client") << "then the organization's";
  const auto flow = run_flow(*host_, org, key, second, github_definition);
  EXPECT_EQ(query_param(flow.consent_url, "client_id"), "org-client");

  // Another organization is not concerned.
  const std::string other_key = host_->create_key("org_app_org_other");
  EXPECT_EQ(flow_client_id("org_app_org_other", other_key, host_->create_workspace("org_app_org_other", other_key)),
            "test-client-id");

  const auto removed =
      api_call("DELETE", url(org, "/workspaces/" + first + "/oauth-credentials/github?actor_type=organization"), key);
  EXPECT_EQ(removed.status, 204) << removed.body;
  EXPECT_EQ(flow_client_id(org, key, second), "test-client-id");
  EXPECT_EQ(flow_client_id(org, key, first), "ws-client");
}

TEST_F(OwnOAuthApps, BadOAuthCredentialsAreRefusedAndStoreNothing) {
  const std::string org = "org_app_refused";
  const std::string key = host_->create_key(org, admin_permissions);
  const std::string workspace = host_->create_workspace(org, key);
  const std::string creds_url = url(org, "/workspaces/" + workspace + "/oauth-credentials");
  const nlohmann::json good = {{"actor_type", "workspace"},
                               {"name", "github"},
                               {"configuration", {{"client_id", "ws-client"}, {"client_secret", "ws-secret-7f3a9c"}}}};
  const std::string before = dump();

  auto with = [&](const std::function<void(nlohmann::json&)>& change) {
    nlohmann::json body = good;
    change(body);
    return body;
  };
  EXPECT_TRUE(is_error(api_call("PUT", creds_url, key, with([](auto& b) { b["actor_type"] = "team"; })), 422,
                       "VALIDATION_ERROR"));
  EXPECT_TRUE(is_error(api_call("PUT", creds_url, key, with([](auto& b) { b.erase("configuration"); })), 422,
                       "VALIDATION_ERROR"));
  EXPECT_TRUE(
      is_error(api_call("PUT", creds_url, key, with([](auto& b) { b["configuration"].erase("client_secret"); })), 422,
               "VALIDATION_ERROR"));
  // An organization must not point the host at another server.
  EXPECT_TRUE(is_error(
      api_call("PUT", creds_url, key, with([](auto& b) { b["configuration"]["base_url"] = "https://evil.example"; })),
      422, "VALIDATION_ERROR"));
  EXPECT_TRUE(is_error(api_call("PUT", creds_url, key, with([](auto& b) { b["name"] = "no-such-provider"; })), 404,
                       "CONNECTOR_NOT_FOUND"));
  EXPECT_TRUE(is_error(api_call("PUT", url(org, "/workspaces/ws_nope/oauth-credentials"), key, good), 404,
                       "WORKSPACE_NOT_FOUND"));
  EXPECT_TRUE(is_error(api_get(url(org, "/workspaces/ws_nope/oauth-credentials"), key), 404, "WORKSPACE_NOT_FOUND"));
  EXPECT_EQ(dump(), before);
  EXPECT_EQ(api_get(creds_url, key).json()["oauth_credentials"].size(), 0U);
}

// --- Source definitions

TEST_F(SourceRoutes, ASourceDefinitionsSpecShowsTheSettingsAndFlowOptionsSchemas) {
  const std::string org = "org_spec";
  const std::string key = host_->create_key(org, admin_permissions);
  const auto github = api_get(url(org, "/source-definitions/" + std::string(github_definition) + "/spec"), key);
  ASSERT_EQ(github.status, 200) << github.body;
  const auto spec = github.json();
  EXPECT_EQ(spec["source_definition_id"], github_definition);
  EXPECT_THAT(spec.value("documentation_url", ""), StartsWith("https://"));
  ASSERT_TRUE(spec["connection_specification"].is_object()) << github.body;
  EXPECT_TRUE(spec["connection_specification"]["properties"].contains("client_id")) << github.body;
  ASSERT_TRUE(spec["o_auth_input_specification"].is_object()) << github.body;
  EXPECT_TRUE(spec["o_auth_input_specification"]["properties"].contains("scopes")) << github.body;
  EXPECT_TRUE(spec["o_auth_input_specification"]["properties"].contains("login")) << github.body;
  EXPECT_TRUE(spec.contains("auth_specification")) << github.body;
  EXPECT_EQ(spec["supported_destination_sync_modes"], nlohmann::json::array());
  EXPECT_THAT(github.body, Not(HasSubstr("test-client-secret")));

  const auto google = api_get(url(org, "/source-definitions/" + std::string(google_sheets_definition) + "/spec"), key);
  ASSERT_EQ(google.status, 200) << google.body;
  EXPECT_EQ(google.json()["source_definition_id"], google_sheets_definition);
  EXPECT_TRUE(google.json()["o_auth_input_specification"]["properties"].contains("prompt")) << google.body;

  EXPECT_TRUE(is_error(api_get(url(org, "/source-definitions/no-such-definition/spec"), key), 404,
                       "SOURCE_DEFINITION_NOT_FOUND"));
}

} // namespace

TEST(SourceDeletion, ARevocationThatCannotReachTheProviderFailsButTheSourceIsGone) {
  TempDir work("connector-delete-unreachable");
  auto provider = std::make_unique<ProviderDouble>(work.path());
  HostProcess host(work.path(), provider.get());
  const std::string org = "org_src_delete_unreachable";
  const std::string key = host.create_key(org, admin_permissions);
  const std::string workspace = host.create_workspace(org, key);
  const auto flow = run_flow(host, org, key, workspace, github_definition);
  provider.reset(); // GitHub is down

  const auto deleted = api_call("DELETE", host.api(org) + "/sources/" + flow.source_id(), key);
  EXPECT_EQ(deleted.status, 204) << deleted.body;
  EXPECT_EQ(deleted.header("connector-revocation"), "failed");
  EXPECT_TRUE(is_error(api_get(host.api(org) + "/sources/" + flow.source_id(), key), 404, "SOURCE_NOT_FOUND"));
  EXPECT_EQ(sqlite_query(host.data_dir(), "SELECT count(*) FROM sources"), "0");
}
