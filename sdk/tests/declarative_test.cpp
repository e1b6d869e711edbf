// The declarative provider engine (sdk/include/connector/declarative_*.hpp): what a definition
// may say, how precisely a broken one is refused, and the requests and readings the engine
// makes of it, dialect by dialect (a definition shaped like Zendesk's, like Slack's, like
// Notion's, like Microsoft's).
#include <connector/declarative_provider.hpp>

#include <gmock/gmock.h>

#include <string>
#include <utility>

using namespace connector::sdk;
using namespace connector::sdk::declarative;
using ::testing::HasSubstr;

namespace {

// A definition with a settings variable in the host, a flow variable in the query, a check
// call, revocation, client_secret_basic and a JSON body: most of what the engine does at once.
nlohmann::json zendesk_like() {
  return nlohmann::json::parse(R"({
    "definition_version": 1,
    "slug": "helpdesk",
    "display_name": "Helpdesk",
    "version": "1.0.0",
    "documentation_url": "https://developer.example.com/oauth",
    "source_definitions": [{"id": "79c1aa37-dae3-42ae-b333-d1c105477715", "name": "Helpdesk"}],
    "variables": {
      "subdomain": {"kind": "dns_label", "description": "Your account's subdomain"},
      "locale": {"from": "flow_options", "kind": "one_of", "values": ["en", "fr"], "default": "en"}
    },
    "authorization": {
      "url": "https://{subdomain}.helpdesk.example/oauth/authorizations/new",
      "scopes": {"default": ["read", "users:read"], "separator": ","},
      "parameters": {"locale": "{locale}", "prompt": "consent"},
      "pkce": "required"
    },
    "token": {
      "url": "https://{subdomain}.helpdesk.example/oauth/tokens",
      "client_authentication": "client_secret_basic",
      "body": "json",
      "default_expires_in": 7200,
      "refresh": {"supported": true, "rotates": true}
    },
    "revocation": {"url": "https://{subdomain}.helpdesk.example/oauth/revoke"},
    "check": {"url": "https://{subdomain}.helpdesk.example/api/v2/users/me.json",
              "account_id": "/user/id", "account_name": "/user/email"}
  })");
}

nlohmann::json settings_of_acme() { return {{"client_id", "cid"}, {"client_secret", "s3cret"}, {"subdomain", "Acme"}}; }

std::shared_ptr<const Definition> parsed(const nlohmann::json& document) {
  return std::make_shared<const Definition>(parse_definition(document));
}

std::string refusal_of(const nlohmann::json& document) {
  try {
    (void)parse_definition(document);
  } catch (const InvalidInput& refusal) {
    return refusal.what();
  }
  return "(accepted)";
}

HttpResponse answer(unsigned status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

FlowInput consent_input() {
  FlowInput input;
  input.redirect_uri = "https://host.example/v1/oauth/callback";
  input.state = "st4te";
  input.code_challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
  return input;
}

std::string query_value(const std::string& url, const std::string& name) {
  const auto query = form_decode(url.substr(url.find('?') + 1));
  return find_param(query, name).value_or("(absent)");
}

} // namespace

// ---- The format ---------------------------------------------------------------------------

struct BrokenDefinition {
  const char* name;
  const char* pointer; // where to change the valid definition
  nlohmann::json value;
  const char* refusal;
};

class DefinitionRefusal : public ::testing::TestWithParam<BrokenDefinition> {};

TEST_P(DefinitionRefusal, NamesThePathAndTheRule) {
  nlohmann::json document = zendesk_like();
  const BrokenDefinition& broken = GetParam();
  if (broken.value.is_null()) {
    const nlohmann::json::json_pointer pointer(broken.pointer);
    document[pointer.parent_pointer()].erase(pointer.back());
  } else {
    document[nlohmann::json::json_pointer(broken.pointer)] = broken.value;
  }
  EXPECT_THAT(refusal_of(document), HasSubstr(broken.refusal));
}

INSTANTIATE_TEST_SUITE_P(
    Definitions, DefinitionRefusal,
    ::testing::Values(
        BrokenDefinition{"version", "/definition_version", 2, "$.definition_version: must be 1"},
        BrokenDefinition{"unknown_member", "/tokn", "x", "$.tokn: is not a known member"},
        BrokenDefinition{"misspelt_nested", "/token/client_auth", "x", "$.token.client_auth: is not a known member"},
        BrokenDefinition{"slug", "/slug", "Help Desk", "$.slug: must be 1-64 of [a-z0-9-]"},
        BrokenDefinition{"plain_http", "/token/url", "http://acme.example/token",
                         "$.token.url: must start with https://"},
        BrokenDefinition{"undeclared", "/check/url", "https://{region}.example/me",
                         "names {region}, which is not declared"},
        BrokenDefinition{"flow_option_host", "/token/url", "https://{locale}.example/token",
                         "{locale} comes from flow options and cannot name the host"},
        BrokenDefinition{"flow_option_issuer", "/issuer", "https://acme.example/{locale}",
                         "$.issuer: {locale} comes from flow options; an issuer takes settings only"},
        BrokenDefinition{"unbalanced", "/authorization/url", "https://{subdomain.example/a", "a '{' without its '}'"},
        BrokenDefinition{"fragment", "/authorization/url", "https://acme.example/a#x", "must not have a fragment"},
        BrokenDefinition{"auth_choice", "/token/client_authentication", "private_key_jwt",
                         "must be one of client_secret_post, client_secret_basic"},
        BrokenDefinition{"pointer", "/token/tokens_at", "authed_user", "must be a JSON pointer"},
        BrokenDefinition{"engine_parameter", "/authorization/parameters/redirect_uri", "x",
                         "is set by the engine itself"},
        BrokenDefinition{"reserved_variable", "/variables/client_id", R"({"kind": "token"})"_json,
                         "is a setting every definition has already"},
        BrokenDefinition{"one_of_without_values", "/variables/locale/values", nullptr, "is required for kind one_of"},
        BrokenDefinition{"choice_with_slash", "/variables/locale/values", R"(["en/../x"])"_json,
                         "choices are 1-128 unreserved characters"},
        BrokenDefinition{"scope_with_space", "/authorization/scopes/default", R"(["read write"])"_json,
                         "must hold scope names without spaces"},
        BrokenDefinition{"uuid", "/source_definitions/0/id", "not-a-uuid",
                         "$.source_definitions[0].id: must be a UUID"},
        BrokenDefinition{"lifetime", "/token/default_expires_in", 5, "must be a whole number of seconds"},
        BrokenDefinition{"rotation_without_refresh", "/token/refresh/supported", false,
                         "needs refresh to be supported"},
        BrokenDefinition{"missing_token", "/token", nullptr, "$.token: is required"}),
    [](const ::testing::TestParamInfo<BrokenDefinition>& param_info) { return std::string(param_info.param.name); });

TEST(Definition, AnOriginSettingMayOpenAUrlAndNothingElse) {
  nlohmann::json document = zendesk_like();
  document["variables"]["base_url"] = {{"kind", "https_origin"}, {"default", "https://gitlab.com"}};
  document["check"]["url"] = "{base_url}/api/v4/user";
  EXPECT_EQ(refusal_of(document), "(accepted)");
  document["check"]["url"] = "https://x.example/{base_url}/user";
  EXPECT_THAT(refusal_of(document), HasSubstr("is an https_origin and can only open the URL"));
  document["check"]["url"] = "{subdomain}/user";
  EXPECT_THAT(refusal_of(document), HasSubstr("must start with https:// or an https_origin"));
}

TEST(Definition, DescribesSettingsAndFlowOptionsAsJsonSchema) {
  const Descriptor d = describe(*parsed(zendesk_like()));
  EXPECT_EQ(d.slug, "helpdesk");
  EXPECT_TRUE(d.supports_pkce);
  EXPECT_TRUE(d.supports_refresh);
  EXPECT_TRUE(d.supports_revoke);
  EXPECT_EQ(d.default_scopes, (std::vector<std::string>{"read", "users:read"}));
  EXPECT_EQ(d.settings_schema["required"], nlohmann::json({"client_id", "client_secret", "subdomain"}));
  EXPECT_EQ(d.settings_schema["properties"]["client_secret"]["x-secret"], true);
  EXPECT_EQ(d.settings_schema["additionalProperties"], false);
  EXPECT_EQ(d.flow_options_schema["properties"]["locale"]["enum"], nlohmann::json({"en", "fr"}));
}

// ---- Settings and flow options: no value reaches a URL unchecked -------------------------

TEST(DeclarativeProvider, RefusesSettingsThatWouldBendItsUrls) {
  const auto definition = parsed(zendesk_like());
  for (const char* subdomain : {"acme.evil.example", "acme/..", "", "-acme", "acme@evil"}) {
    nlohmann::json settings = settings_of_acme();
    settings["subdomain"] = subdomain;
    EXPECT_THROW(DeclarativeProvider(definition, settings), InvalidInput) << subdomain;
  }
  nlohmann::json unknown = settings_of_acme();
  unknown["subdomian"] = "acme";
  EXPECT_THROW(DeclarativeProvider(definition, unknown), InvalidInput);
  nlohmann::json missing = settings_of_acme();
  missing.erase("subdomain");
  EXPECT_THROW(DeclarativeProvider(definition, missing), InvalidInput);

  const DeclarativeProvider provider(definition, settings_of_acme());
  FlowInput input = consent_input();
  input.options = {{"locale", "de"}};
  EXPECT_THROW((void)provider.authorization_url(input), InvalidInput) << "not one of the declared choices";
}

TEST(DeclarativeProvider, AllowsTheHostsItsUrlsNameOnceConfigured) {
  const DeclarativeProvider provider(parsed(zendesk_like()), settings_of_acme());
  EXPECT_EQ(provider.allowed_hosts(), (std::vector<std::string>{"acme.helpdesk.example"}));
}

// ---- Consent URL --------------------------------------------------------------------------

TEST(DeclarativeProvider, TheConsentUrlCarriesRfc6749sParametersAndEveryDeclaredOne) {
  const DeclarativeProvider provider(parsed(zendesk_like()), settings_of_acme());
  const std::string url = provider.authorization_url(consent_input());
  EXPECT_EQ(url.rfind("https://acme.helpdesk.example/oauth/authorizations/new?", 0), 0U) << url;
  EXPECT_EQ(query_value(url, "response_type"), "code");
  EXPECT_EQ(query_value(url, "client_id"), "cid");
  EXPECT_EQ(query_value(url, "redirect_uri"), "https://host.example/v1/oauth/callback");
  EXPECT_EQ(query_value(url, "scope"), "read,users:read") << "the declared separator";
  EXPECT_EQ(query_value(url, "state"), "st4te");
  EXPECT_EQ(query_value(url, "code_challenge_method"), "S256");
  EXPECT_EQ(query_value(url, "locale"), "en") << "the flow variable's default";
  EXPECT_EQ(query_value(url, "prompt"), "consent");

  FlowInput without_pkce = consent_input();
  without_pkce.code_challenge.clear();
  EXPECT_THROW((void)provider.authorization_url(without_pkce), InvalidInput) << "pkce: required";
}

TEST(DeclarativeProvider, SlackStyleScopesGoInTheParameterTheDefinitionNames) {
  nlohmann::json document = zendesk_like();
  document["authorization"]["scopes"]["parameter"] = "user_scope";
  document["authorization"]["pkce"] = "none";
  const DeclarativeProvider provider(parsed(document), settings_of_acme());
  FlowInput input = consent_input();
  input.options = {{"scopes", {"files:read"}}};
  const std::string url = provider.authorization_url(input);
  EXPECT_EQ(query_value(url, "user_scope"), "read,users:read,files:read");
  EXPECT_EQ(query_value(url, "scope"), "(absent)");
  EXPECT_EQ(query_value(url, "code_challenge"), "(absent)") << "pkce: none sends no challenge";
}

// ---- Token requests and answers ---------------------------------------------------------

TEST(DeclarativeProvider, TheExchangeAuthenticatesAsDeclaredAndSendsGrantType) {
  const DeclarativeProvider provider(parsed(zendesk_like()), settings_of_acme());
  FlowInput input = consent_input();
  input.code = "c0de";
  input.code_verifier = "v3rifier";
  const Step<TokenSet> step = provider.exchange_code(input, nullptr);
  const auto& request = std::get<HttpRequest>(step);
  EXPECT_EQ(request.url, "https://acme.helpdesk.example/oauth/tokens");
  const nlohmann::json body = nlohmann::json::parse(request.body);
  EXPECT_EQ(body["grant_type"], "authorization_code");
  EXPECT_EQ(body["code_verifier"], "v3rifier");
  EXPECT_FALSE(body.contains("client_secret")) << "client_secret_basic keeps it out of the body";
  EXPECT_THAT(request.headers, ::testing::Contains(std::pair<std::string, std::string>(
                                   "Authorization", "Basic Y2lkOnMzY3JldA=="))); // base64("cid:s3cret")
  EXPECT_THAT(request.headers,
              ::testing::Contains(std::pair<std::string, std::string>("Content-Type", "application/json")));

  nlohmann::json post = zendesk_like();
  post["token"]["client_authentication"] = "client_secret_post";
  post["token"]["body"] = "form";
  const DeclarativeProvider form_provider(parsed(post), settings_of_acme());
  const auto form = form_decode(std::get<HttpRequest>(form_provider.exchange_code(input, nullptr)).body);
  EXPECT_EQ(find_param(form, "grant_type"), "authorization_code");
  EXPECT_EQ(find_param(form, "client_secret"), "s3cret");
}

TEST(DeclarativeProvider, TokensNestedWhereTheDefinitionSaysAndTheCheckCallNamesTheAccount) {
  nlohmann::json document = zendesk_like();
  document["token"]["tokens_at"] = "/authed_user";
  const DeclarativeProvider provider(parsed(document), settings_of_acme());
  FlowInput input = consent_input();
  input.code = "c0de";
  const HttpResponse exchanged = answer(200, R"({"ok":true,"authed_user":{"access_token":"xoxp-1","scope":"read"}})");
  const Step<TokenSet> check = provider.exchange_code(input, &exchanged);
  const auto* request = std::get_if<HttpRequest>(&check);
  ASSERT_TRUE(request) << "the check call comes next";
  EXPECT_EQ(request->method, "GET");
  EXPECT_EQ(request->url, "https://acme.helpdesk.example/api/v2/users/me.json");
  EXPECT_THAT(request->headers,
              ::testing::Contains(std::pair<std::string, std::string>("Authorization", "Bearer xoxp-1")));

  input.continuation = request->continuation;
  const HttpResponse me = answer(200, R"({"user":{"id":421,"email":"ada@acme.example"}})");
  const Step<TokenSet> done = provider.exchange_code(input, &me);
  const auto& tokens = std::get<TokenSet>(done);
  EXPECT_EQ(tokens.access_token, "xoxp-1");
  EXPECT_EQ(tokens.account_id, "421");
  EXPECT_EQ(tokens.account_name, "ada@acme.example");
  EXPECT_EQ(tokens.expires_in, 7200) << "default_expires_in when the answer has none";
  EXPECT_EQ(tokens.granted_scopes, (std::vector<std::string>{"read"}));
}

TEST(DeclarativeProvider, AnErrorSpelledWithHttp200IsAFailure) {
  nlohmann::json document = zendesk_like();
  document.erase("check");
  const DeclarativeProvider provider(parsed(document), settings_of_acme());
  FlowInput input = consent_input();
  input.code = "c0de";
  const HttpResponse slack = answer(200, R"({"ok":false,"error":"invalid_grant"})");
  const Failure failure = std::get<Failure>(provider.exchange_code(input, &slack));
  EXPECT_EQ(failure.status, CONNECTOR_STATUS_GRANT_INVALID);
  EXPECT_EQ(failure.code, "invalid_grant");
  const HttpResponse down = answer(503, "<html>busy</html>");
  EXPECT_EQ(std::get<Failure>(provider.exchange_code(input, &down)).status, CONNECTOR_STATUS_TRANSIENT);
  const HttpResponse misplaced = answer(200, R"({"ok":true,"access_token":"x"})");
  nlohmann::json nested = document;
  nested["token"]["tokens_at"] = "/authed_user";
  const DeclarativeProvider nested_provider(parsed(nested), settings_of_acme());
  EXPECT_THAT(std::get<Failure>(nested_provider.exchange_code(input, &misplaced)).description,
              HasSubstr("no tokens where the definition says"));
}

TEST(DeclarativeProvider, ARotatingProviderMustHandBackANewRefreshToken) {
  const DeclarativeProvider provider(parsed(zendesk_like()), settings_of_acme());
  FlowInput input;
  input.refresh_token = "r1";
  const auto request = std::get<HttpRequest>(provider.refresh(input, nullptr));
  EXPECT_EQ(nlohmann::json::parse(request.body)["grant_type"], "refresh_token");
  const HttpResponse rotated = answer(200, R"({"access_token":"a2","refresh_token":"r2","expires_in":3600})");
  EXPECT_EQ(std::get<TokenSet>(provider.refresh(input, &rotated)).refresh_token, "r2");
  const HttpResponse kept = answer(200, R"({"access_token":"a2","expires_in":3600})");
  EXPECT_EQ(std::get<Failure>(provider.refresh(input, &kept)).code, "refresh_token_missing");

  nlohmann::json no_refresh = zendesk_like();
  no_refresh["token"].erase("refresh");
  const DeclarativeProvider without(parsed(no_refresh), settings_of_acme());
  EXPECT_EQ(std::get<Failure>(without.refresh(input, nullptr)).status, CONNECTOR_STATUS_UNSUPPORTED);
}

TEST(DeclarativeProvider, RevocationFollowsRfc7009) {
  const DeclarativeProvider provider(parsed(zendesk_like()), settings_of_acme());
  FlowInput input;
  input.access_token = "a1";
  input.refresh_token = "r1";
  const auto request = std::get<HttpRequest>(provider.revoke(input, nullptr));
  EXPECT_EQ(request.url, "https://acme.helpdesk.example/oauth/revoke");
  const auto form = form_decode(request.body);
  EXPECT_EQ(find_param(form, "token"), "r1");
  EXPECT_EQ(find_param(form, "token_type_hint"), "refresh_token");
  const HttpResponse ok = answer(200, "");
  EXPECT_TRUE(std::holds_alternative<Done>(provider.revoke(input, &ok)));
  const HttpResponse refused = answer(400, R"({"error":"unsupported_token_type"})");
  EXPECT_EQ(std::get<Failure>(provider.revoke(input, &refused)).code, "unsupported_token_type");
}

TEST(DeclarativeProvider, TheCheckCallRefusedWith401MeansTheGrantIsGone) {
  const DeclarativeProvider provider(parsed(zendesk_like()), settings_of_acme());
  FlowInput input;
  input.access_token = "a1";
  const HttpResponse refused = answer(401, R"({"error":"invalid_token"})");
  EXPECT_EQ(std::get<Failure>(provider.check(input, &refused)).status, CONNECTOR_STATUS_GRANT_INVALID);
  const HttpResponse nameless = answer(200, R"({"user":{}})");
  EXPECT_THAT(std::get<Failure>(provider.check(input, &nameless)).description, HasSubstr("no account id"));
}

TEST(DeclarativeProvider, ACheckCallMayPostSendTheTokenAloneAndSpellErrorsIn200) {
  nlohmann::json document = zendesk_like();
  document["check"] = {{"url", "https://{subdomain}.helpdesk.example/2/users/get_current_account"},
                       {"method", "POST"},
                       {"body", "null"},
                       {"authorization", ""},
                       {"account_id", "/account_id"},
                       {"error_at", "/error"},
                       {"grant_gone_errors", {"invalid_auth", "token_revoked"}}};
  const DeclarativeProvider provider(parsed(document), settings_of_acme());
  FlowInput input;
  input.access_token = "a1";
  const auto request = std::get<HttpRequest>(provider.check(input, nullptr));
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.body, "null");
  EXPECT_THAT(request.headers, ::testing::Contains(std::pair<std::string, std::string>("Authorization", "a1")));

  const HttpResponse revoked = answer(200, R"({"ok":false,"error":"token_revoked"})");
  EXPECT_EQ(std::get<Failure>(provider.check(input, &revoked)).status, CONNECTOR_STATUS_GRANT_INVALID);
  const HttpResponse limited = answer(200, R"({"ok":false,"error":"ratelimited"})");
  EXPECT_EQ(std::get<Failure>(provider.check(input, &limited)).status, CONNECTOR_STATUS_PROVIDER_REJECTED);
  const HttpResponse fine = answer(200, R"({"ok":true,"account_id":"dbid:1"})");
  EXPECT_EQ(std::get<Account>(provider.check(input, &fine)).account_id, "dbid:1");

  document["check"]["headers"] = {{"Notion-Version", "2022-06-28"}};
  const DeclarativeProvider versioned(parsed(document), settings_of_acme());
  EXPECT_THAT(std::get<HttpRequest>(versioned.check(input, nullptr)).headers,
              ::testing::Contains(std::pair<std::string, std::string>("Notion-Version", "2022-06-28")));
  document["check"]["headers"] = {{"Authorization", "Basic x"}};
  EXPECT_THAT(refusal_of(document), HasSubstr("$.check.headers.Authorization: must be a plain header name"));
  document["check"]["headers"] = {{"X-Api", "a\r\nInjected: 1"}};
  EXPECT_THAT(refusal_of(document), HasSubstr("$.check.headers.X-Api: must be printable ASCII"));
  document["check"].erase("headers");

  document["check"]["method"] = "GET";
  EXPECT_THAT(refusal_of(document), HasSubstr("$.check.body: belongs to a POST"));
  document["check"].erase("body");
  document["check"].erase("error_at");
  EXPECT_THAT(refusal_of(document), HasSubstr("$.check.grant_gone_errors: needs error_at"));
  document["check"].erase("grant_gone_errors");
  document["check"]["authorization"] = "Bearer x";
  EXPECT_THAT(refusal_of(document), HasSubstr("$.check.authorization: must be a scheme"));
}

TEST(DeclarativeProvider, ABearerRevocationIsAuthorizedByTheTokenItRevokes) {
  nlohmann::json document = zendesk_like();
  document["revocation"] = {{"url", "https://{subdomain}.helpdesk.example/2/auth/token/revoke"}, {"style", "bearer"}};
  const DeclarativeProvider provider(parsed(document), settings_of_acme());
  FlowInput input;
  input.access_token = "a1";
  input.refresh_token = "r1";
  const auto request = std::get<HttpRequest>(provider.revoke(input, nullptr));
  EXPECT_EQ(request.method, "POST");
  EXPECT_TRUE(request.body.empty()) << "neither token nor client secret in a body";
  EXPECT_THAT(request.headers, ::testing::Contains(std::pair<std::string, std::string>("Authorization", "Bearer a1")));
  const HttpResponse dead = answer(401, R"({"error":"invalid_access_token"})");
  EXPECT_TRUE(std::holds_alternative<Done>(provider.revoke(input, &dead))) << "already revoked";

  document["revocation"]["token"] = "refresh_token";
  EXPECT_THAT(refusal_of(document), HasSubstr("$.revocation.style: bearer revokes the access token"));
}

TEST(DeclarativeProvider, ATokenRequestMayTravelInTheQueryAndRefreshAtAnEndpointOfItsOwn) {
  nlohmann::json document = zendesk_like();
  document["token"]["client_authentication"] = "client_secret_post";
  document["token"]["body"] = "query";
  document["token"]["refresh"]["url"] = "https://{subdomain}.helpdesk.example/oauth/refresh";
  const DeclarativeProvider provider(parsed(document), settings_of_acme());
  FlowInput input = consent_input();
  input.code = "c0de";
  const auto exchange = std::get<HttpRequest>(provider.exchange_code(input, nullptr));
  EXPECT_TRUE(exchange.body.empty());
  EXPECT_EQ(query_value(exchange.url, "grant_type"), "authorization_code");
  EXPECT_EQ(query_value(exchange.url, "client_secret"), "s3cret");
  EXPECT_EQ(exchange.url.substr(0, exchange.url.find('?')), "https://acme.helpdesk.example/oauth/tokens");

  input.refresh_token = "r1";
  const auto refresh = std::get<HttpRequest>(provider.refresh(input, nullptr));
  EXPECT_EQ(refresh.url.substr(0, refresh.url.find('?')), "https://acme.helpdesk.example/oauth/refresh");
  EXPECT_EQ(query_value(refresh.url, "refresh_token"), "r1");

  document["token"]["client_authentication"] = "client_secret_basic";
  EXPECT_THAT(refusal_of(document), HasSubstr("$.token.body: query carries the client's credentials"));
  document["token"]["client_authentication"] = "client_secret_post";
  document["token"]["refresh"] = {{"supported", false}, {"url", "https://acme.example/refresh"}};
  EXPECT_THAT(refusal_of(document), HasSubstr("$.token.refresh.url: needs refresh to be supported"));
  document["token"]["refresh"] = {{"url", "https://{locale}.example/refresh"}};
  EXPECT_THAT(refusal_of(document), HasSubstr("{locale} comes from flow options and cannot name the host"));
}

TEST(DeclarativeProvider, ARevocationMayPostJsonAndACheckMayCarryTheTokenInTheApisOwnHeader) {
  nlohmann::json document = zendesk_like();
  document["revocation"]["body"] = "json";
  document["check"]["token_header"] = "X-Shop-Access-Token";
  document["check"]["authorization"] = "";
  const DeclarativeProvider provider(parsed(document), settings_of_acme());
  FlowInput input;
  input.access_token = "a1";
  input.refresh_token = "r1";
  const auto revocation = std::get<HttpRequest>(provider.revoke(input, nullptr));
  EXPECT_EQ(nlohmann::json::parse(revocation.body)["token"], "r1");
  EXPECT_THAT(revocation.headers,
              ::testing::Contains(std::pair<std::string, std::string>("Content-Type", "application/json")));
  const auto check = std::get<HttpRequest>(provider.check(input, nullptr));
  EXPECT_THAT(check.headers, ::testing::Contains(std::pair<std::string, std::string>("X-Shop-Access-Token", "a1")));
  EXPECT_THAT(check.headers, ::testing::Not(::testing::Contains(::testing::Key("Authorization"))));

  document["check"]["token_header"] = "Content-Type";
  EXPECT_THAT(refusal_of(document), HasSubstr("$.check.token_header: must be a plain header name"));
  document["check"]["token_header"] = "X-Token";
  document["revocation"] = {
      {"url", "https://{subdomain}.helpdesk.example/revoke"}, {"style", "bearer"}, {"body", "json"}};
  EXPECT_THAT(refusal_of(document), HasSubstr("$.revocation.style: bearer revokes the access token"));
}

// ---- The grant's metadata -----------------------------------------------------------------

namespace {

// Salesforce's instance_url in the token answer, Intuit's realmId on the redirect, and the
// company's URL built from it.
nlohmann::json with_metadata() {
  nlohmann::json document = zendesk_like();
  document["variables"]["instance_url"] = {{"from", "token_answer"}, {"at", "/instance_url"}, {"kind", "https_origin"}};
  document["variables"]["realm_id"] = {{"from", "callback"}, {"parameter", "realmId"}, {"kind", "token"}};
  document["check"]["url"] = "https://{subdomain}.helpdesk.example/v3/company/{realm_id}/companyinfo/{realm_id}";
  document["check"]["account_id"] = "/CompanyInfo/Id";
  return document;
}

} // namespace

TEST(DeclarativeProvider, KeepsTheGrantsMetadataAndUsesItInLaterCalls) {
  const DeclarativeProvider provider(parsed(with_metadata()), settings_of_acme());
  FlowInput input = consent_input();
  input.code = "c0de";
  input.callback_parameters = {{"realmId", "4620816365"}, {"unrelated", "x"}};
  const HttpResponse tokens =
      answer(200, R"({"access_token":"a1","refresh_token":"r1","instance_url":"https://acme.my.example/"})");
  const auto check = std::get<HttpRequest>(provider.exchange_code(input, &tokens));
  EXPECT_EQ(check.url, "https://acme.helpdesk.example/v3/company/4620816365/companyinfo/4620816365");
  input.continuation = check.continuation;
  const HttpResponse company = answer(200, R"({"CompanyInfo":{"Id":"1"}})");
  const auto exchanged = std::get<TokenSet>(provider.exchange_code(input, &company));
  const Metadata expected = {{"instance_url", "https://acme.my.example"}, {"realm_id", "4620816365"}};
  EXPECT_EQ(exchanged.metadata, expected) << "kept as its kind says (no trailing slash), nothing else kept";

  FlowInput later;
  later.access_token = "a1";
  later.refresh_token = "r1";
  later.metadata = expected;
  EXPECT_EQ(std::get<HttpRequest>(provider.check(later, nullptr)).url, check.url);
  const HttpResponse moved =
      answer(200, R"({"access_token":"a2","refresh_token":"r2","instance_url":"https://moved.my.example"})");
  const auto refreshed = std::get<TokenSet>(provider.refresh(later, &moved));
  EXPECT_EQ(refreshed.metadata.at("instance_url"), "https://moved.my.example");
  EXPECT_EQ(refreshed.metadata.at("realm_id"), "4620816365") << "what the refresh does not say is kept";

  later.metadata.clear();
  EXPECT_THAT([&] { (void)provider.check(later, nullptr); },
              ::testing::ThrowsMessage<InvalidInput>(HasSubstr("the grant has no realm_id")));
}

TEST(DeclarativeProvider, MetadataOfTheWrongKindFailsTheExchange) {
  const DeclarativeProvider provider(parsed(with_metadata()), settings_of_acme());
  FlowInput input = consent_input();
  input.code = "c0de";
  input.callback_parameters = {{"realmId", "46/../admin"}};
  const HttpResponse tokens = answer(200, R"({"access_token":"a1","refresh_token":"r1"})");
  const auto failure = std::get<Failure>(provider.exchange_code(input, &tokens));
  EXPECT_EQ(failure.code, "bad_metadata");
  EXPECT_THAT(failure.description, HasSubstr("realm_id (from the redirect) is not 1-128 of"));
  input.callback_parameters = {{"realmId", "46"}};
  const HttpResponse elsewhere = answer(200, R"({"access_token":"a1","instance_url":"https://a.example/path"})");
  EXPECT_EQ(std::get<Failure>(provider.exchange_code(input, &elsewhere)).code, "bad_metadata");
}

TEST(Definition, MetadataIsKnownOnlyAfterTheGrantAndNeverNamesAHost) {
  nlohmann::json document = with_metadata();
  document["authorization"]["parameters"]["company"] = "{realm_id}";
  EXPECT_THAT(refusal_of(document),
              HasSubstr("$.authorization.parameters.company: {realm_id} is the grant's metadata, not known before"));
  document = with_metadata();
  document["token"]["url"] = "https://{subdomain}.helpdesk.example/{realm_id}/token";
  EXPECT_THAT(refusal_of(document), HasSubstr("$.token.url: {realm_id} is the grant's metadata"));
  document = with_metadata();
  document["check"]["url"] = "{instance_url}/me";
  EXPECT_THAT(refusal_of(document), HasSubstr("{instance_url} comes from the token answer and cannot name the host"));
  document = with_metadata();
  document["variables"]["realm_id"]["parameter"] = "state";
  EXPECT_THAT(refusal_of(document), HasSubstr("$.variables.realm_id.parameter: is the redirect's own"));
  document = with_metadata();
  document["variables"]["realm_id"].erase("parameter");
  EXPECT_THAT(refusal_of(document), HasSubstr("$.variables.realm_id.parameter: belongs to, and is required by"));
  document = with_metadata();
  document["variables"]["instance_url"]["default"] = "https://x.example";
  EXPECT_THAT(refusal_of(document), HasSubstr("metadata is what the provider sends, without default"));

  const Descriptor described = describe(parse_definition(with_metadata()));
  EXPECT_FALSE(described.settings_schema["properties"].contains("realm_id"));
  EXPECT_FALSE(described.flow_options_schema["properties"].contains("realm_id"));
}

TEST(DeclarativeProvider, AFlowOptionMayNameTheStoreBeforeAWrittenDomainAndIsKeptWithTheGrant) {
  nlohmann::json document = zendesk_like();
  document["variables"]["shop"] = {{"from", "flow_options"}, {"kind", "dns_label"}};
  document["authorization"]["url"] = "https://{shop}.shops.example/admin/oauth/authorize";
  document["token"]["url"] = "https://{shop}.shops.example/admin/oauth/access_token";
  document["check"]["url"] = "https://{shop}.shops.example/admin/api/shop.json";
  const DeclarativeProvider provider(parsed(document), settings_of_acme());
  EXPECT_THAT(provider.allowed_hosts(), ::testing::Contains("*.shops.example"));

  FlowInput input = consent_input();
  input.options = {{"shop", "Acme-Store"}};
  EXPECT_THAT(provider.authorization_url(input), ::testing::StartsWith("https://acme-store.shops.example/admin/oauth"));
  input.options = {{"shop", "acme.evil.example/x"}};
  EXPECT_THROW((void)provider.authorization_url(input), InvalidInput) << "a label, never a host or a path";

  input.options = {{"shop", "acme"}};
  input.code = "c0de";
  const HttpResponse tokens = answer(200, R"({"access_token":"a1"})");
  const auto check = std::get<HttpRequest>(provider.exchange_code(input, &tokens));
  EXPECT_EQ(check.url, "https://acme.shops.example/admin/api/shop.json");
  input.continuation = check.continuation;
  const HttpResponse user = answer(200, R"({"user":{"id":7}})");
  const auto exchanged = std::get<TokenSet>(provider.exchange_code(input, &user));
  EXPECT_EQ(exchanged.metadata.at("shop"), "acme") << "later calls have no flow to ask";
  FlowInput later;
  later.access_token = "a1";
  later.metadata = exchanged.metadata;
  EXPECT_EQ(std::get<HttpRequest>(provider.check(later, nullptr)).url, check.url);

  for (const char* url : {"https://{shop}.example/token", "https://www.{shop}.shops.example/token",
                          "https://{shop}-x.shops.example/token"}) {
    document["token"]["url"] = url;
    EXPECT_THAT(refusal_of(document), HasSubstr("{shop} comes from flow options and cannot name the host")) << url;
  }
  document["token"]["url"] = "https://{shop}.shops.example/token";
  document["variables"]["shop"]["kind"] = "token";
  EXPECT_THAT(refusal_of(document), HasSubstr("cannot name the host"));
}

TEST(Definition, AUrlTemplateHoldsOnlyTheCharactersOfAUrl) {
  nlohmann::json document = zendesk_like();
  for (const char* url : {"https://acme.example/oauth token", "https://acme.example/\"x\"", "https://acme.example/é",
                          "https://acme.example/a\tb", "https://acme.example/<x>"}) {
    document["token"]["url"] = url;
    EXPECT_THAT(refusal_of(document), HasSubstr("$.token.url: holds a character no URL may")) << url;
  }
  document["token"]["url"] = "https://acme.example/oauth%20token?x=1&y=[2]";
  EXPECT_EQ(refusal_of(document), "(accepted)");
  document["variables"]["base"] = {{"kind", "https_origin"}};
  document["token"]["url"] = "{base}&oauth/token";
  EXPECT_THAT(refusal_of(document), HasSubstr("an https_origin must be followed by '/', '?' or nothing"))
      << "else the origin's host would run on into the rest";
}
