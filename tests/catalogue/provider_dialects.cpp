#include "catalogue/provider_dialects.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <utility>

namespace connector::dialects {

namespace {

using json = nlohmann::json;

// A row names only what differs from the defaults, through designated initializers; g++
// before 14 still warns about each member left out (GCC bug 96868).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

// RFC 6750 3.1: a dead token refused in the WWW-Authenticate header, with no body.
HttpResponse rfc6750_refusal() { return {401, {{"WWW-Authenticate", "Bearer error=\"invalid_token\""}}, ""}; }

// Google's three APIs share one authorization server and differ only in the call that names
// the account. https://developers.google.com/identity/protocols/oauth2/web-server
Dialect google(std::string slug, Check check) {
  return {.slug = std::move(slug),
          .consent = {.url = "https://accounts.google.com/o/oauth2/v2/auth",
                      .parameters = {{"access_type", "offline"}, {"prompt", "consent"}},
                      .pkce = Pkce::supported},
          .token = {.url = "https://oauth2.googleapis.com/token",
                    .auth = ClientAuth::either, // its discovery document lists both
                    .expires_in = 3599,
                    .refresh = Refresh::keeps,
                    .refused_grant = {400, {}, R"({"error":"invalid_grant","error_description":"Bad Request"})"},
                    .refused_client = {401, {}, R"({"error":"invalid_client","error_description":"Unauthorized"})"}},
          // Takes either token, and no client authentication.
          .revoke = {.style = Revocation::rfc7009, .url = "https://oauth2.googleapis.com/revoke"},
          .checks = {std::move(check)},
          .refused_token = {401, {}, R"({"error":{"code":401,"status":"UNAUTHENTICATED"}})"}};
}

// Microsoft identity platform v2, one tenant for every Graph-based connector; no revocation
// endpoint. https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow
Dialect microsoft(std::string slug) {
  const std::string tenant = "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/";
  return {.slug = std::move(slug),
          .settings = {{"tenant", "contoso.onmicrosoft.com"}},
          .consent = {.url = tenant + "authorize", .scopes = {"offline_access"}, .pkce = Pkce::supported},
          .token = {.url = tenant + "token",
                    .auth = ClientAuth::either,
                    .expires_in = 3599,
                    .refresh = Refresh::reissues,
                    .refused_grant = {400, {}, R"({"error":"invalid_grant","error_codes":[70000]})"},
                    .refused_client = {401, {}, R"({"error":"invalid_client","error_codes":[7000215]})"}},
          .checks = {{.url = "https://graph.microsoft.com/v1.0/me",
                      .answer = R"({"id":"87d349ed-44d7-43e1-9a83-5f2406dee5bd","displayName":"Ada Lovelace",
                                    "userPrincipalName":"ada@contoso.onmicrosoft.com","mail":"ada@contoso.com"})",
                      .id = "87d349ed-44d7-43e1-9a83-5f2406dee5bd",
                      .name = "ada@contoso.onmicrosoft.com|Ada Lovelace|ada@contoso.com",
                      .scope = "User.Read"}},
          .refused_token = {401, {}, R"({"error":{"code":"InvalidAuthenticationToken"}})"}};
}

// Jira and Confluence share Atlassian's 3LO server (an Auth0: 403 for invalid_grant, JSON or
// form bodies) and its identity calls.
// https://developer.atlassian.com/cloud/jira/platform/oauth-2-3lo-apps/
Dialect atlassian(std::string slug) {
  return {.slug = std::move(slug),
          .consent = {.url = "https://auth.atlassian.com/authorize",
                      .parameters = {{"audience", "api.atlassian.com"}, {"prompt", "consent"}},
                      .scopes = {"offline_access"}},
          .token = {.url = "https://auth.atlassian.com/oauth/token",
                    .body = Body::form_or_json,
                    .expires_in = 3600,
                    .refresh = Refresh::rotates,
                    .refused_grant = {403,
                                      {},
                                      R"({"error":"invalid_grant","error_description":"Invalid authorization code"})"},
                    .refused_client = {401, {}, R"({"error":"access_denied","error_description":"Unauthorized"})"}},
          .checks = {{.url = "https://api.atlassian.com/me",
                      .answer = R"({"account_type":"atlassian","account_id":"5b10ac8d82e05b22cc7d4ef5",
                                "email":"ada@acme.com","name":"Ada Lovelace","account_status":"active"})",
                      .id = "5b10ac8d82e05b22cc7d4ef5",
                      .name = "Ada Lovelace|ada@acme.com",
                      .scope = "read:me"},
                     {.url = "https://api.atlassian.com/oauth/token/accessible-resources",
                      .answer = R"([{"id":"1324a887-45db-1bf4-1e99-ef0ff456d421","url":"https://acme.atlassian.net",
                                 "name":"acme","scopes":[]}])",
                      .id = "1324a887-45db-1bf4-1e99-ef0ff456d421",
                      .name = "acme|https://acme.atlassian.net"}},
          .refused_token = {401, {}, R"({"code":401,"message":"Unauthorized"})"}};
}

std::vector<Dialect> make_dialects() {
  std::vector<Dialect> rows;
  rows.push_back(google("google-drive",
                        {// about.get requires `fields`. https://developers.google.com/drive/api/reference/rest/v3/about
                         .url = "https://www.googleapis.com/drive/v3/about?fields=user",
                         .answer = R"({"user":{"kind":"drive#user","displayName":"Ada Lovelace","me":true,
                                       "permissionId":"04102447227369937405","emailAddress":"ada@example.com"}})",
                         .id = "04102447227369937405",
                         .name = "ada@example.com|Ada Lovelace"}));
  rows.push_back(google("google-calendar",
                        {// https://developers.google.com/calendar/api/v3/reference/calendarList/get
                         .url = "https://www.googleapis.com/calendar/v3/users/me/calendarList/primary "
                                "https://www.googleapis.com/calendar/v3/calendars/primary",
                         .answer = R"({"kind":"calendar#calendarListEntry","id":"ada@example.com",
                                       "summary":"ada@example.com","timeZone":"Europe/London","primary":true})",
                         .id = "ada@example.com",
                         .name = "ada@example.com"}));
  rows.push_back(google("gmail",
                        {// https://developers.google.com/gmail/api/reference/rest/v1/users/getProfile
                         .url = "https://gmail.googleapis.com/gmail/v1/users/me/profile "
                                "https://www.googleapis.com/gmail/v1/users/me/profile",
                         .answer = R"({"emailAddress":"ada@example.com","messagesTotal":1200,"threadsTotal":800,
                                       "historyId":"4242"})",
                         .id = "ada@example.com",
                         .name = "ada@example.com"}));
  // https://docs.gitlab.com/ee/api/oauth2.html (Doorkeeper: either client authentication;
  // access tokens of two hours; each refresh revokes the refresh token it used).
  rows.push_back(
      {.slug = "gitlab",
       .consent = {.url = "https://gitlab.com/oauth/authorize", .pkce = Pkce::supported},
       .token = {.url = "https://gitlab.com/oauth/token",
                 .auth = ClientAuth::either,
                 .answer_extras = R"({"created_at":1700000000})",
                 .expires_in = 7200,
                 .refresh = Refresh::rotates},
       .revoke = {.style = Revocation::rfc7009, .url = "https://gitlab.com/oauth/revoke", .auth = ClientAuth::either},
       .checks = {{.url = "https://gitlab.com/api/v4/user",
                   .answer = R"({"id":1234567,"username":"ada","name":"Ada Lovelace","state":"active"})",
                   .id = "1234567",
                   .name = "ada|Ada Lovelace"}},
       .refused_token = {401, {}, R"({"error":"invalid_token"})"}});
  // https://developer.atlassian.com/cloud/bitbucket/oauth-2/ (the client in Basic only;
  // scopes are the consumer's; no revocation endpoint).
  rows.push_back({.slug = "bitbucket",
                  .consent = {.url = "https://bitbucket.org/site/oauth2/authorize", .scope_parameter = ""},
                  .token = {.url = "https://bitbucket.org/site/oauth2/access_token",
                            .auth = ClientAuth::basic,
                            .answer_extras = R"({"scopes":"account repository","state":"authorization_code"})",
                            .expires_in = 7200,
                            .refresh = Refresh::keeps,
                            .refused_grant = {400, {}, R"({"error":"invalid_grant",
                                                           "error_description":"The specified code is not valid."})"}},
                  .checks = {{.url = "https://api.bitbucket.org/2.0/user",
                              .answer = R"({"type":"user","uuid":"{b2c4e6f8-1a2b-4c3d-8e9f-0a1b2c3d4e5f}",
                                            "account_id":"557058:3f2b1c0d","username":"ada",
                                            "display_name":"Ada Lovelace"})",
                              .id = "{b2c4e6f8-1a2b-4c3d-8e9f-0a1b2c3d4e5f}|557058:3f2b1c0d",
                              .name = "ada|Ada Lovelace"}},
                  .refused_token = {401, {}, R"({"type":"error","error":{"message":"Access token expired."}})"}});
  // https://api.slack.com/authentication/oauth-v2: user scopes in user_scope, commas; errors
  // with HTTP 200; the user token under authed_user, never expiring while token rotation is
  // off (the default); auth.revoke revokes the token that calls it.
  // https://api.slack.com/methods/auth.revoke, https://api.slack.com/methods/auth.test
  rows.push_back({.slug = "slack",
                  .consent = {.url = "https://slack.com/oauth/v2/authorize",
                              .scope_parameter = "user_scope",
                              .scope_separator = ","},
                  .token = {.url = "https://slack.com/api/oauth.v2.access",
                            .auth = ClientAuth::either,
                            .answer_extras = R"({"ok":true,"app_id":"A0KRD7HC3","team":{"id":"T9TK3CUKW","name":"Acme"},
                                      "enterprise":null,"is_enterprise_install":false})",
                            .tokens_at = "authed_user",
                            .refresh_token = false,
                            .refresh = Refresh::none,
                            .refused_grant = {200, {}, R"({"ok":false,"error":"invalid_code"})"},
                            .refused_client = {200, {}, R"({"ok":false,"error":"invalid_client_id"})"}},
                  .revoke = {.style = Revocation::bearer,
                             .url = "https://slack.com/api/auth.revoke",
                             .answer = R"({"ok":true,"revoked":true})"},
                  .checks = {{.url = "https://slack.com/api/auth.test",
                              .answer = R"({"ok":true,"url":"https://acme.slack.com/","team":"Acme","user":"ada",
                                 "team_id":"T9TK3CUKW","user_id":"U0G9QF9C6"})",
                              .id = "U0G9QF9C6",
                              .name = "ada"}},
                  .refused_token = {200, {}, R"({"ok":false,"error":"invalid_auth"})"},
                  .grant_facts = {"T9TK3CUKW"}}); // the workspace the user installed into
  // https://developers.notion.com/docs/authorization: owner=user, no scopes, Basic client
  // authentication with a JSON body, tokens that do not expire, no refresh; every API call
  // needs Notion-Version. https://developers.notion.com/reference/get-self
  rows.push_back({.slug = "notion",
                  .consent = {.url = "https://api.notion.com/v1/oauth/authorize",
                              .parameters = {{"owner", "user"}},
                              .scope_parameter = ""},
                  .token = {.url = "https://api.notion.com/v1/oauth/token",
                            .auth = ClientAuth::basic,
                            .body = Body::json,
                            .answer_extras = R"({"bot_id":"b3414d65-9d4e-4b5c-9f1a-2c3d4e5f6a7b",
                                                 "workspace_id":"e0e4d6c8-1111-2222-3333-444455556666",
                                                 "workspace_name":"Acme","owner":{"type":"user"}})",
                            .refresh_token = false,
                            .refresh = Refresh::none},
                  .checks = {{.url = "https://api.notion.com/v1/users/me",
                              .headers = {{"Notion-Version", ""}},
                              .answer = R"({"object":"user","id":"b3414d65-9d4e-4b5c-9f1a-2c3d4e5f6a7b",
                                            "name":"Acme Integration","type":"bot",
                                            "bot":{"owner":{"type":"user"},"workspace_name":"Acme"}})",
                              .id = "b3414d65-9d4e-4b5c-9f1a-2c3d4e5f6a7b",
                              .name = "Acme Integration|Acme"}},
                  .refused_token = {401, {}, R"({"object":"error","status":401,"code":"unauthorized"})"},
                  .grant_facts = {"e0e4d6c8-1111-2222-3333-444455556666"}}); // the workspace
  rows.push_back(microsoft("microsoft-onedrive"));
  rows.push_back(microsoft("microsoft-outlook"));
  rows.push_back(microsoft("microsoft-sharepoint"));
  // https://help.salesforce.com/s/articleView?id=sf.remoteaccess_oauth_web_server_flow.htm: a
  // refresh token only with the refresh_token (or offline_access) scope; no expires_in: the
  // org's session timeout applies, two hours by default; revocation without client auth.
  rows.push_back(
      {.slug = "salesforce",
       .settings = {{"login_url", "https://login.salesforce.com"}},
       .consent = {.url = "https://login.salesforce.com/services/oauth2/authorize",
                   .scopes = {"refresh_token|offline_access"},
                   .pkce = Pkce::supported},
       .token = {.url = "https://login.salesforce.com/services/oauth2/token",
                 .answer_extras = R"({"instance_url":"https://acme.my.salesforce.com","issued_at":"1700000000000",
                                      "id":"https://login.salesforce.com/id/00Dxx0000001gPLEAY/005xx000001SwiUAAS",
                                      "signature":"c2lnbmF0dXJl"})",
                 .lifetime = 7200,
                 .refresh = Refresh::keeps,
                 .refused_grant = {400,
                                   {},
                                   R"({"error":"invalid_grant","error_description":"authentication failure"})"},
                 .refused_client = {400,
                                    {},
                                    R"({"error":"invalid_client","error_description":"invalid client credentials"})"}},
       .revoke = {.style = Revocation::rfc7009, .url = "https://login.salesforce.com/services/oauth2/revoke"},
       .checks = {{.url = "https://login.salesforce.com/services/oauth2/userinfo",
                   .answer = R"({"sub":"https://login.salesforce.com/id/00Dxx0000001gPLEAY/005xx000001SwiUAAS",
                                 "user_id":"005xx000001SwiUAAS","organization_id":"00Dxx0000001gPLEAY",
                                 "preferred_username":"ada@acme.com","name":"Ada Lovelace","email":"ada@acme.com"})",
                   .id = "005xx000001SwiUAAS|https://login.salesforce.com/id/00Dxx0000001gPLEAY/005xx000001SwiUAAS",
                   .name = "ada@acme.com|Ada Lovelace"}},
       .refused_token = {401, {}, R"([{"message":"Session expired or invalid","errorCode":"INVALID_SESSION_ID"}])"},
       // Every REST call goes to the org's own instance, named only in the token answer.
       .grant_facts = {"https://acme.my.salesforce.com"}});
  // https://developers.hubspot.com/docs/api/oauth-quickstart-guide: a form body only, errors
  // spelt in `status`; revocation is a DELETE of the refresh token's URL (the format has no
  // such style). https://developers.hubspot.com/docs/api/settings/account-information-api
  rows.push_back(
      {.slug = "hubspot",
       .consent = {.url = "https://app.hubspot.com/oauth/authorize"},
       .token = {.url = "https://api.hubapi.com/oauth/v1/token",
                 .expires_in = 1800,
                 .refresh = Refresh::keeps,
                 .refused_grant = {400, {}, R"({"status":"BAD_AUTH_CODE","message":"missing or unknown auth code"})"},
                 .refused_client = {400, {}, R"({"status":"BAD_CLIENT_ID","message":"missing or unknown client id"})"},
                 .refused_refresh = HttpResponse{400, {}, R"({"status":"BAD_REFRESH_TOKEN",
                                                              "message":"missing or unknown refresh token"})"}},
       .checks = {{.url = "https://api.hubapi.com/account-info/v3/details https://api.hubapi.com/integrations/v1/me",
                   .answer = R"({"portalId":62515,"accountType":"STANDARD","timeZone":"US/Eastern",
                                 "companyCurrency":"USD","uiDomain":"app.hubspot.com","dataHostingLocation":"na1"})",
                   .id = "62515",
                   .name = "|app.hubspot.com"}},
       .refused_token = {401, {}, R"({"status":"error","category":"INVALID_AUTHENTICATION"})"}});
  // https://developer.zendesk.com/documentation/ticketing/working-with-oauth/creating-and-using-oauth-tokens-with-the-api/
  // The account's subdomain in every URL; tokens that do not expire; revocation is a DELETE.
  rows.push_back({.slug = "zendesk",
                  .settings = {{"subdomain", "acme"}},
                  .consent = {.url = "https://acme.zendesk.com/oauth/authorizations/new"},
                  .token = {.url = "https://acme.zendesk.com/oauth/tokens",
                            .body = Body::form_or_json,
                            .refresh_token = false,
                            .refresh = Refresh::none},
                  .checks = {{.url = "https://acme.zendesk.com/api/v2/users/me.json "
                                     "https://acme.zendesk.com/api/v2/users/me",
                              .answer = R"({"user":{"id":35436,"name":"Ada Lovelace","email":"ada@acme.com",
                                            "role":"admin"}})",
                              .id = "35436",
                              .name = "Ada Lovelace|ada@acme.com"}},
                  .refused_token = {401, {}, R"({"error":"invalid_token"})"}});
  // https://developers.intercom.com/docs/build-an-integration/learn-more/authentication/setting-up-oauth
  // Permissions are the app's; tokens that do not expire;
  // https://developers.intercom.com/docs/references/rest-api/api.intercom.io/admins/identifyadmin
  rows.push_back(
      {.slug = "intercom",
       .consent = {.url = "https://app.intercom.com/oauth https://app.intercom.io/oauth", .scope_parameter = ""},
       .token = {.url = "https://api.intercom.io/auth/eagle/token", .refresh_token = false, .refresh = Refresh::none},
       // An app uninstalls itself, its token with it, by a POST authorized by that token.
       .revoke = {.style = Revocation::bearer, .url = "https://api.intercom.io/auth/uninstall"},
       .checks = {{.url = "https://api.intercom.io/me",
                   .answer = R"({"type":"admin","id":"991267","email":"ada@acme.com","name":"Ada Lovelace",
                                 "app":{"type":"app","id_code":"abc123","name":"Acme"}})",
                   .id = "991267",
                   .name = "Ada Lovelace|ada@acme.com"}},
       .refused_token = {401, {}, R"({"type":"error.list","errors":[{"code":"unauthorized"}]})"}});
  rows.push_back(atlassian("jira"));
  rows.push_back(atlassian("confluence"));
  // https://developers.asana.com/docs/oauth: revocation takes the refresh token with the client
  // in the body; a refresh hands back no new refresh token.
  rows.push_back({.slug = "asana",
                  .consent = {.url = "https://app.asana.com/-/oauth_authorize", .pkce = Pkce::supported},
                  .token = {.url = "https://app.asana.com/-/oauth_token",
                            .answer_extras = R"({"data":{"id":4673218951,"gid":"4673218951","name":"Ada Lovelace"}})",
                            .expires_in = 3600,
                            .refresh = Refresh::keeps},
                  .revoke = {.style = Revocation::rfc7009,
                             .url = "https://app.asana.com/-/oauth_revoke",
                             .auth = ClientAuth::post,
                             .token = RevokedToken::refresh},
                  .checks = {{.url = "https://app.asana.com/api/1.0/users/me",
                              .answer = R"({"data":{"gid":"4673218951","email":"ada@acme.com","name":"Ada Lovelace",
                                            "resource_type":"user"}})",
                              .id = "4673218951",
                              .name = "Ada Lovelace|ada@acme.com"}},
                  .refused_token = {401, {}, R"({"errors":[{"message":"Not Authorized"}]})"}});
  // https://linear.app/developers/oauth-2-0-authentication: scopes with commas; day-long access
  // tokens with refresh tokens; /oauth/revoke takes the access token as a bearer.
  // https://linear.app/developers/graphql
  rows.push_back(
      {.slug = "linear",
       .consent = {.url = "https://linear.app/oauth/authorize", .scope_separator = ",", .pkce = Pkce::supported},
       .token = {.url = "https://api.linear.app/oauth/token",
                 .answer_extras = R"({"scope":"read"})",
                 .expires_in = 86399,
                 .refresh = Refresh::reissues},
       .revoke = {.style = Revocation::bearer, .url = "https://api.linear.app/oauth/revoke"},
       .checks = {{.url = "https://api.linear.app/graphql",
                   .method = "POST",
                   .body_has = "viewer",
                   .answer = R"({"data":{"viewer":{"id":"2f1a7c4e-8b9d-4e3f-a1b2-c3d4e5f6a7b8","name":"Ada Lovelace",
                                 "email":"ada@acme.com"}}})",
                   .id = "2f1a7c4e-8b9d-4e3f-a1b2-c3d4e5f6a7b8",
                   .name = "Ada Lovelace|ada@acme.com"}},
       .refused_token = {401, {}, R"({"errors":[{"message":"Authentication required, not authenticated"}]})"}});
  // https://airtable.com/developers/web/api/oauth-reference: PKCE required; a confidential
  // client in Basic only; single-use refresh tokens; no revocation endpoint.
  // https://airtable.com/developers/web/api/get-user-id-scopes
  rows.push_back({.slug = "airtable",
                  .consent = {.url = "https://airtable.com/oauth2/v1/authorize", .pkce = Pkce::required},
                  .token = {.url = "https://airtable.com/oauth2/v1/token",
                            .auth = ClientAuth::basic,
                            .answer_extras = R"({"scope":"data.records:read","refresh_expires_in":5184000})",
                            .expires_in = 3600,
                            .refresh = Refresh::rotates},
                  .checks = {{.url = "https://api.airtable.com/v0/meta/whoami",
                              .answer = R"({"id":"usrL2PNC5o3H4lBEi","email":"ada@acme.com","scopes":[]})",
                              .id = "usrL2PNC5o3H4lBEi",
                              .name = "ada@acme.com|"}},
                  .refused_token = {401, {}, R"({"error":{"type":"AUTHENTICATION_REQUIRED"}})"}});
  // https://developers.dropbox.com/oauth-guide and
  // https://www.dropbox.com/developers/documentation/http/documentation: token_access_type=offline
  // for a refresh token; RPC calls are POSTs of JSON (`null` when they take no argument).
  rows.push_back({.slug = "dropbox",
                  .consent = {.url = "https://www.dropbox.com/oauth2/authorize",
                              .parameters = {{"token_access_type", "offline"}},
                              .pkce = Pkce::supported},
                  .token = {.url = "https://api.dropboxapi.com/oauth2/token",
                            .auth = ClientAuth::either,
                            .answer_extras = R"({"account_id":"dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc",
                                                 "uid":"12345","scope":"account_info.read"})",
                            .expires_in = 14400,
                            .refresh = Refresh::keeps,
                            .refused_client = {400, {}, R"({"error":"invalid_client"})"}},
                  .revoke = {.style = Revocation::bearer,
                             .url = "https://api.dropboxapi.com/2/auth/token/revoke",
                             .answer = "null"},
                  .checks = {{.url = "https://api.dropboxapi.com/2/users/get_current_account",
                              .method = "POST",
                              .body_has = "null",
                              .answer = R"({"account_id":"dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc",
                                            "name":{"display_name":"Ada Lovelace"},"email":"ada@acme.com"})",
                              .id = "dbid:AAH4f99T0taONIb-OurWxbNQ6ywGRopQngc",
                              .name = "ada@acme.com|Ada Lovelace"}},
                  .refused_token = {401, {}, R"({"error_summary":"invalid_access_token/",
                                                 "error":{".tag":"invalid_access_token"}})"}});
  // https://developer.box.com/guides/authentication/oauth2/: the client in the body; each
  // refresh token is single-use; revoking either token ends the grant.
  // https://developer.box.com/reference/get-users-me/
  rows.push_back(
      {.slug = "box",
       .consent = {.url = "https://account.box.com/api/oauth2/authorize"},
       .token = {.url = "https://api.box.com/oauth2/token",
                 .answer_extras = R"({"restricted_to":[]})",
                 .expires_in = 3600,
                 .refresh = Refresh::rotates,
                 .refused_client = {400, {}, R"({"error":"invalid_client"})"}},
       .revoke = {.style = Revocation::rfc7009, .url = "https://api.box.com/oauth2/revoke", .auth = ClientAuth::post},
       .checks = {{.url = "https://api.box.com/2.0/users/me",
                   .answer = R"({"type":"user","id":"11446498","name":"Ada Lovelace",
                                            "login":"ada@acme.com"})",
                   .id = "11446498",
                   .name = "ada@acme.com|Ada Lovelace"}},
       .refused_token = rfc6750_refusal()});
  // https://developers.zoom.us/docs/integrations/oauth/: Basic client authentication; a bad
  // code is `invalid_request`; refresh tokens rotate; /oauth/revoke takes the access token.
  // https://developers.zoom.us/docs/api/users/#tag/users/GET/users/{userId}
  rows.push_back(
      {.slug = "zoom",
       .consent = {.url = "https://zoom.us/oauth/authorize", .pkce = Pkce::supported},
       .token = {.url = "https://zoom.us/oauth/token",
                 .auth = ClientAuth::basic,
                 .answer_extras = R"({"scope":"user:read"})",
                 .expires_in = 3599,
                 .refresh = Refresh::rotates,
                 .refused_grant = {400, {}, R"({"reason":"Invalid authorization code","error":"invalid_request"})"},
                 .dead_code_spelt_generically = true,
                 .refused_client = {401,
                                    {},
                                    R"({"reason":"Invalid client_id or client_secret","error":"invalid_client"})"},
                 .refused_refresh = HttpResponse{400, {}, R"({"reason":"Invalid Token!","error":"invalid_grant"})"}},
       .revoke = {.style = Revocation::rfc7009,
                  .url = "https://zoom.us/oauth/revoke",
                  .auth = ClientAuth::basic,
                  .token = RevokedToken::access},
       .checks = {{.url = "https://api.zoom.us/v2/users/me",
                   .answer = R"({"id":"KDcuGIm1QgePTO8WbOqwIQ","first_name":"Ada","last_name":"Lovelace",
                                 "display_name":"Ada Lovelace","email":"ada@acme.com"})",
                   .id = "KDcuGIm1QgePTO8WbOqwIQ",
                   .name = "Ada Lovelace|ada@acme.com"}},
       .refused_token = {401, {}, R"({"code":124,"message":"Invalid access token."})"}});
  // https://shopify.dev/docs/apps/build/authentication-authorization/access-tokens/authorization-code-grant
  // The shop in every URL; scopes with commas; an offline token that does not expire; the
  // Admin API takes it in X-Shopify-Access-Token. https://shopify.dev/docs/api/admin-rest/latest/resources/shop
  rows.push_back(
      {.slug = "shopify",
       .settings = {{"shop", "acme"}},
       .consent = {.url = "https://acme.myshopify.com/admin/oauth/authorize",
                   .scope_separator = ",",
                   .pkce = Pkce::none},
       .token = {.url = "https://acme.myshopify.com/admin/oauth/access_token",
                 .body = Body::form_or_json,
                 .answer_extras = R"({"scope":"read_products"})",
                 .refresh_token = false,
                 .refresh = Refresh::none,
                 .refused_grant = {400, {}, R"({"error":"invalid_request",
                                               "error_description":"The authorization code was not found or was already used"})"},
                 .dead_code_spelt_generically = true},
       .checks = {{.url = "https://acme.myshopify.com/admin/api/*/shop.json",
                   .header = "X-Shopify-Access-Token",
                   .scheme = "",
                   .answer = R"({"shop":{"id":548380009,"name":"Acme Store","email":"ada@acme.com",
                                 "myshopify_domain":"acme.myshopify.com"}})",
                   .id = "548380009",
                   .name = "Acme Store|acme.myshopify.com"},
                  {.url = "https://acme.myshopify.com/admin/api/*/graphql.json",
                   .method = "POST",
                   .header = "X-Shopify-Access-Token",
                   .scheme = "",
                   .body_has = "shop",
                   .answer = R"({"data":{"shop":{"id":"gid://shopify/Shop/548380009","name":"Acme Store"}}})",
                   .id = "gid://shopify/Shop/548380009",
                   .name = "Acme Store"}},
       .refused_token = {401, {}, R"({"errors":"[API] Invalid API key or access token"})"},
       // Every store is a host of its own; API calls after the grant need to know which.
       .grant_facts = {"acme"}});
  // https://discord.com/developers/docs/topics/oauth2: form bodies only; week-long tokens;
  // RFC 7009 revocation with the client. https://discord.com/developers/docs/resources/user
  rows.push_back({.slug = "discord",
                  .consent = {.url = "https://discord.com/oauth2/authorize https://discord.com/api/oauth2/authorize"},
                  .token = {.url = "https://discord.com/api/oauth2/token https://discord.com/api/v10/oauth2/token",
                            .auth = ClientAuth::either,
                            .answer_extras = R"({"scope":"identify guilds"})",
                            .expires_in = 604800,
                            .refresh = Refresh::reissues,
                            .refused_grant = {400, {}, R"({"error":"invalid_grant",
                                                           "error_description":"Invalid \"code\" in request."})"}},
                  .revoke = {.style = Revocation::rfc7009,
                             .url = "https://discord.com/api/oauth2/token/revoke "
                                    "https://discord.com/api/v10/oauth2/token/revoke",
                             .auth = ClientAuth::either},
                  .checks = {{.url = "https://discord.com/api/users/@me https://discord.com/api/v10/users/@me",
                              .answer = R"({"id":"80351110224678912","username":"nelly","global_name":"Nelly",
                                            "discriminator":"0"})",
                              .id = "80351110224678912",
                              .name = "nelly|Nelly"}},
                  .refused_token = {401, {}, R"({"message":"401: Unauthorized","code":0})"}});
  // https://www.figma.com/developers/api#oauth2 (2024 endpoints): Basic client authentication;
  // a refresh endpoint of its own that hands back no new refresh token; 90-day tokens;
  // invalid tokens answered with 403. https://www.figma.com/developers/api#get-me-endpoint
  rows.push_back({.slug = "figma",
                  .consent = {.url = "https://www.figma.com/oauth", .scope_separator = ""},
                  .token = {.url = "https://api.figma.com/v1/oauth/token",
                            .auth = ClientAuth::basic,
                            .answer_extras = R"({"user_id_string":"1234567890"})",
                            .expires_in = 7776000,
                            .refresh = Refresh::keeps,
                            .refresh_url = "https://api.figma.com/v1/oauth/refresh"},
                  .checks = {{.url = "https://api.figma.com/v1/me",
                              .answer = R"({"id":"1234567890","email":"ada@acme.com","handle":"Ada Lovelace",
                                            "img_url":"https://s3-alpha.figma.com/profile/ada"})",
                              .id = "1234567890",
                              .name = "Ada Lovelace|ada@acme.com"}},
                  .refused_token = {403, {}, R"({"status":403,"err":"Invalid token"})"}});
  // https://developer.xero.com/documentation/guides/oauth2/auth-flow: offline_access for a
  // refresh token, single-use refresh tokens, RFC 7009 revocation with Basic.
  // https://developer.xero.com/documentation/guides/oauth2/tenants
  rows.push_back({.slug = "xero",
                  .consent = {.url = "https://login.xero.com/identity/connect/authorize",
                              .scopes = {"offline_access"},
                              .pkce = Pkce::supported},
                  .token = {.url = "https://identity.xero.com/connect/token",
                            .auth = ClientAuth::either,
                            .expires_in = 1800,
                            .refresh = Refresh::rotates,
                            .refused_client = {400, {}, R"({"error":"invalid_client"})"}},
                  .revoke = {.style = Revocation::rfc7009,
                             .url = "https://identity.xero.com/connect/revocation",
                             .auth = ClientAuth::either},
                  .checks = {{.url = "https://api.xero.com/connections",
                              .answer = R"([{"id":"e1eede29-f875-4a5d-8470-17f6a29a88b1",
                                             "tenantId":"70784a63-d24b-46a9-a4db-0e70a274b056",
                                             "tenantType":"ORGANISATION","tenantName":"Maple Florists"}])",
                              .id = "70784a63-d24b-46a9-a4db-0e70a274b056|e1eede29-f875-4a5d-8470-17f6a29a88b1",
                              .name = "Maple Florists"},
                             {.url = "https://identity.xero.com/connect/userinfo",
                              .answer = R"({"sub":"b4c1f0a2","xero_userid":"1d2c3b4a-5e6f-7a8b-9c0d-1e2f3a4b5c6d",
                                            "email":"ada@acme.com","name":"Ada Lovelace"})",
                              .id = "1d2c3b4a-5e6f-7a8b-9c0d-1e2f3a4b5c6d|b4c1f0a2",
                              .name = "Ada Lovelace|ada@acme.com",
                              .scope = "openid"}},
                  .refused_token = rfc6750_refusal()});
  // https://developer.intuit.com/app/developer/qbo/docs/develop/authentication-and-authorization/oauth-2.0
  // Basic client authentication; a refresh may hand back a new refresh token; revocation takes
  // a JSON body.
  // https://developer.intuit.com/app/developer/qbo/docs/develop/authentication-and-authorization/openid-connect
  rows.push_back(
      {.slug = "quickbooks",
       .consent = {.url = "https://appcenter.intuit.com/connect/oauth2"},
       .token = {.url = "https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer",
                 .auth = ClientAuth::basic,
                 .answer_extras = R"({"x_refresh_token_expires_in":8726400})",
                 .expires_in = 3600,
                 .refresh = Refresh::reissues},
       .revoke = {.style = Revocation::rfc7009,
                  .url = "https://developer.api.intuit.com/v2/oauth2/tokens/revoke",
                  .auth = ClientAuth::basic,
                  .body = Body::json},
       .checks = {{.url = "https://accounts.platform.intuit.com/v1/openid_connect/userinfo",
                   .answer = R"({"sub":"1182d6ec-2a1f-4aa3-af3f-bb3b95db45af","email":"ada@acme.com",
                                            "givenName":"Ada","familyName":"Lovelace"})",
                   .id = "1182d6ec-2a1f-4aa3-af3f-bb3b95db45af",
                   .name = "ada@acme.com|Ada",
                   .scope = "openid"},
                  // https://developer.intuit.com/app/developer/qbo/docs/api/accounting/all-entities/companyinfo
                  {.url = "https://quickbooks.api.intuit.com/v3/company/4620816365/companyinfo/4620816365",
                   .answer = R"({"CompanyInfo":{"Id":"1","CompanyName":"Acme Books","Country":"US"},
                                            "time":"2026-12-04T10:00:00-08:00"})",
                   .id = "1",
                   .name = "Acme Books"}},
       .refused_token = rfc6750_refusal(),
       // The company (realm) the user picked comes only on the redirect, and every
       // Accounting API URL names it.
       .redirect_extras = {{"realmId", "4620816365"}},
       .grant_facts = {"4620816365"}});
  // https://pipedrive.readme.io/docs/marketplace-oauth-authorization: scopes are the app's;
  // Basic client authentication; RFC 7009 revocation with Basic.
  // https://developers.pipedrive.com/docs/api/v1/Users#getCurrentUser
  rows.push_back({.slug = "pipedrive",
                  .consent = {.url = "https://oauth.pipedrive.com/oauth/authorize", .scope_parameter = ""},
                  .token = {.url = "https://oauth.pipedrive.com/oauth/token",
                            .auth = ClientAuth::basic,
                            .answer_extras = R"({"scope":"base,deals:read","api_domain":"https://acme.pipedrive.com"})",
                            .expires_in = 3599,
                            .refresh = Refresh::reissues},
                  .revoke = {.style = Revocation::rfc7009,
                             .url = "https://oauth.pipedrive.com/oauth/revoke",
                             .auth = ClientAuth::basic},
                  .checks = {{.url = "https://api.pipedrive.com/v1/users/me",
                              .answer = R"({"success":true,"data":{"id":123,"name":"Ada Lovelace",
                                            "email":"ada@acme.com","company_domain":"acme"}})",
                              .id = "123",
                              .name = "Ada Lovelace|ada@acme.com"}},
                  .refused_token = {401, {}, R"({"success":false,"error":"unauthorized access","errorCode":401})"},
                  // API calls go to the company's own domain, named in the token answer.
                  .grant_facts = {"https://acme.pipedrive.com"}});
  // https://developer.monday.com/apps/docs/oauth: tokens that do not expire, no refresh, no
  // revocation; the API takes the token alone in Authorization.
  // https://developer.monday.com/api-reference/docs/authentication
  rows.push_back({.slug = "monday",
                  .consent = {.url = "https://auth.monday.com/oauth2/authorize"},
                  .token = {.url = "https://auth.monday.com/oauth2/token",
                            .body = Body::form_or_json,
                            .answer_extras = R"({"scope":"me:read boards:read"})",
                            .refresh_token = false,
                            .refresh = Refresh::none},
                  .checks = {{.url = "https://api.monday.com/v2",
                              .method = "POST",
                              .scheme = "",
                              .body_has = "me",
                              .answer = R"({"data":{"me":{"id":"12345678","name":"Ada Lovelace"}},
                                            "account_id":9876543})",
                              .id = "12345678",
                              .name = "Ada Lovelace"}},
                  .refused_token = {401, {}, R"({"errors":[{"message":"Not Authenticated"}]})"}});
  // https://clickup.com/api/developer-portal/authentication/: consent at app.clickup.com/api,
  // no scopes; the token request's parameters in the query; a token that does not expire,
  // sent alone in Authorization; errors as {"err", "ECODE"}.
  // https://clickup.com/api/clickupreference/operation/GetAuthorizedUser/
  rows.push_back({.slug = "clickup",
                  .consent = {.url = "https://app.clickup.com/api", .scope_parameter = "", .pkce = Pkce::none},
                  .token = {.url = "https://api.clickup.com/api/v2/oauth/token",
                            .body = Body::query,
                            .refresh_token = false,
                            .refresh = Refresh::none,
                            .refused_grant = {400, {}, R"({"err":"Code not found","ECODE":"OAUTH_014"})"},
                            .dead_code_spelt_generically = true,
                            .refused_client = {400, {}, R"({"err":"Client not found","ECODE":"OAUTH_010"})"}},
                  .checks = {{.url = "https://api.clickup.com/api/v2/user",
                              .scheme = "",
                              .answer = R"({"user":{"id":123,"username":"Ada Lovelace","email":"ada@acme.com"}})",
                              .id = "123",
                              .name = "Ada Lovelace|ada@acme.com"}},
                  .refused_token = {401, {}, R"({"err":"Oauth token not found","ECODE":"OAUTH_019"})"}});
  // https://developer.calendly.com/how-to-authenticate-with-oauth: no scopes, PKCE, two-hour
  // tokens, single-use refresh tokens, RFC 7009 revocation.
  // https://developer.calendly.com/api-docs/005832c83aeae-get-current-user
  rows.push_back(
      {.slug = "calendly",
       .consent = {.url = "https://auth.calendly.com/oauth/authorize", .scope_parameter = "", .pkce = Pkce::supported},
       .token = {.url = "https://auth.calendly.com/oauth/token",
                 .auth = ClientAuth::either,
                 .answer_extras = R"({"scope":"default","created_at":1700000000,
                                                 "owner":"https://api.calendly.com/users/EBHAAFHDCAEQTSEZ"})",
                 .expires_in = 7200,
                 .refresh = Refresh::rotates},
       .revoke = {.style = Revocation::rfc7009,
                  .url = "https://auth.calendly.com/oauth/revoke",
                  .auth = ClientAuth::either},
       .checks = {{.url = "https://api.calendly.com/users/me",
                   .answer = R"({"resource":{"uri":"https://api.calendly.com/users/EBHAAFHDCAEQTSEZ",
                                            "name":"Ada Lovelace","slug":"ada","email":"ada@acme.com"}})",
                   .id = "https://api.calendly.com/users/EBHAAFHDCAEQTSEZ",
                   .name = "Ada Lovelace|ada@acme.com"}},
       .refused_token = {401, {}, R"({"title":"Unauthenticated","message":"The access token is invalid"})"}});
  // https://www.typeform.com/developers/get-started/applications/: the `offline` scope for a
  // refresh token; week-long tokens. https://www.typeform.com/developers/responses/reference/retrieve-your-own-user/
  rows.push_back(
      {.slug = "typeform",
       .consent = {.url = "https://api.typeform.com/oauth/authorize", .scopes = {"offline", "accounts:read"}},
       .token = {.url = "https://api.typeform.com/oauth/token", .expires_in = 604800, .refresh = Refresh::reissues},
       .checks = {{.url = "https://api.typeform.com/me",
                   .answer = R"({"alias":"Ada Lovelace","email":"ada@acme.com","language":"en",
                                            "user_id":"01HBFX4Q2Z"})",
                   .id = "01HBFX4Q2Z|ada@acme.com",
                   .name = "Ada Lovelace|ada@acme.com"}},
       .refused_token = {401, {}, R"({"code":"AUTHENTICATION_FAILED"})"}});
  // https://developers.docusign.com/platform/auth/authcode/authcode-get-token/: the account
  // server (account.docusign.com, account-d for the developer sandbox); Basic client
  // authentication; eight-hour tokens; no revocation endpoint.
  // https://developers.docusign.com/platform/auth/reference/user-info/
  rows.push_back({.slug = "docusign",
                  .settings = {{"account_server", "https://account.docusign.com"}, {"environment", "account"}},
                  .consent = {.url = "https://account.docusign.com/oauth/auth", .pkce = Pkce::supported},
                  .token = {.url = "https://account.docusign.com/oauth/token",
                            .auth = ClientAuth::basic,
                            .expires_in = 28800,
                            .refresh = Refresh::reissues},
                  .checks = {{.url = "https://account.docusign.com/oauth/userinfo",
                              .answer = R"({"sub":"4799e5e9-1559-4915-9862-cf4713bbcacc","name":"Ada Lovelace",
                                            "email":"ada@acme.com","accounts":[{"account_id":"18b4799a",
                                            "is_default":true,"base_uri":"https://na3.docusign.net"}]})",
                              .id = "4799e5e9-1559-4915-9862-cf4713bbcacc",
                              .name = "Ada Lovelace|ada@acme.com"}},
                  .refused_token = rfc6750_refusal()});
  return rows;
}
#pragma GCC diagnostic pop

std::pair<std::string, std::string> split_query(const std::string& url) {
  const std::size_t mark = url.find('?');
  if (mark == std::string::npos) return {url, ""};
  return {url.substr(0, mark), url.substr(mark + 1)};
}

bool one_url_matches(const std::string& pattern, const std::string& url) {
  const auto [pattern_base, pattern_query] = split_query(pattern);
  const auto [base, query] = split_query(url);
  std::size_t p = 0, u = 0;
  while (p < pattern_base.size() && u < base.size()) {
    if (pattern_base[p] == '*') { // one path segment
      ++p;
      const std::size_t end = base.find('/', u);
      if (end == u) return false;
      u = end == std::string::npos ? base.size() : end;
    } else if (pattern_base[p++] != base[u++]) {
      return false;
    }
  }
  if (p != pattern_base.size() || u != base.size()) return false;
  const Params given = sdk::form_decode(query);
  for (const auto& [name, value] : sdk::form_decode(pattern_query)) {
    if (sdk::find_param(given, name) != value) return false;
  }
  return true;
}

std::string header_of(const Headers& headers, const std::string& name) {
  return HttpResponse{0, headers, ""}.header(name);
}

} // namespace

const std::vector<Dialect>& dialects() {
  static const std::vector<Dialect> rows = make_dialects();
  return rows;
}

bool url_matches(const std::string& pattern, const std::string& url) {
  std::size_t start = 0;
  while (start < pattern.size()) {
    const std::size_t end = std::min(pattern.find(' ', start), pattern.size());
    if (end > start && one_url_matches(pattern.substr(start, end - start), url)) return true;
    start = end + 1;
  }
  return false;
}

ProviderDouble::ProviderDouble(const Dialect& dialect, std::string client_id, std::string client_secret)
    : dialect_(dialect), client_id_(std::move(client_id)), client_secret_(std::move(client_secret)) {}

std::string ProviderDouble::consent(const std::string& consent_url) {
  const Params query = sdk::form_decode(split_query(consent_url).second);
  redirect_uri_ = sdk::find_param(query, "redirect_uri").value_or("");
  challenge_ = sdk::find_param(query, "code_challenge").value_or("");
  code_ = "code-" + std::to_string(++consents_);
  return code_;
}

HttpResponse ProviderDouble::refuse(HttpResponse answer, const std::string& why) {
  refusals_ += dialect_.slug + " double refused: " + why + "\n";
  return answer;
}

HttpResponse ProviderDouble::answer(const HttpRequest& request) {
  const Token& token = dialect_.token;
  if (url_matches(token.url, request.url)) return token_endpoint(request, token.refresh_url.empty());
  if (!token.refresh_url.empty() && url_matches(token.refresh_url, request.url)) return token_endpoint(request, true);
  if (dialect_.revoke.style != Revocation::none && url_matches(dialect_.revoke.url, request.url)) {
    return revocation_endpoint(request);
  }
  for (std::size_t i = 0; i < dialect_.checks.size(); ++i) {
    if (url_matches(dialect_.checks[i].url, request.url)) return check_endpoint(request, static_cast<int>(i));
  }
  return refuse({404, {}, R"({"error":"not_found"})"}, request.method + " " + request.url + ": no such endpoint");
}

std::optional<Params> ProviderDouble::parameters(const HttpRequest& request, Body body) {
  const std::string type = header_of(request.headers, "Content-Type");
  const auto [base, query] = split_query(request.url);
  const bool form = type.rfind("application/x-www-form-urlencoded", 0) == 0;
  const bool json_body = type.rfind("application/json", 0) == 0;
  if (body == Body::query) {
    if (!request.body.empty()) return std::nullopt;
    return sdk::form_decode(query);
  }
  // Credentials and codes never travel in the URL of a body-taking endpoint.
  if (!query.empty()) return std::nullopt;
  if (form && (body == Body::form || body == Body::form_or_json)) return sdk::form_decode(request.body);
  if (json_body && (body == Body::json || body == Body::form_or_json)) {
    const json object = json::parse(request.body, nullptr, /*allow_exceptions=*/false);
    if (!object.is_object()) return std::nullopt;
    Params params;
    for (const auto& [name, value] : object.items()) {
      if (!value.is_string()) return std::nullopt;
      params.emplace_back(name, value.get<std::string>());
    }
    return params;
  }
  return std::nullopt;
}

bool ProviderDouble::client_authenticated(const HttpRequest& request, const Params& params, ClientAuth auth) {
  const std::string authorization = header_of(request.headers, "Authorization");
  const bool basic = !authorization.empty();
  const bool in_body = sdk::find_param(params, "client_secret").has_value();
  if (auth == ClientAuth::basic && (!basic || in_body)) return false;
  if (auth == ClientAuth::post && (basic || !in_body)) return false;
  if (basic == in_body) return false; // both, or neither
  if (basic) {
    return authorization == "Basic " + sdk::base64_encode(sdk::form_encode_component(client_id_) + ":" +
                                                          sdk::form_encode_component(client_secret_));
  }
  return sdk::find_param(params, "client_id") == client_id_ &&
         sdk::find_param(params, "client_secret") == client_secret_;
}

HttpResponse ProviderDouble::tokens(bool with_refresh_token) {
  const Token& token = dialect_.token;
  const std::string serial = std::to_string(++issued_);
  json tokens = {{"access_token", "access-" + serial}, {"token_type", "Bearer"}};
  access_.insert("access-" + serial);
  if (token.expires_in) tokens["expires_in"] = *token.expires_in;
  if (with_refresh_token) {
    tokens["refresh_token"] = "refresh-" + serial;
    refresh_.insert("refresh-" + serial);
  }
  json answer = json::parse(token.answer_extras);
  if (token.tokens_at.empty()) {
    answer.update(tokens);
  } else {
    answer[token.tokens_at] = tokens;
  }
  return {200, {{"Content-Type", "application/json"}}, answer.dump()};
}

HttpResponse ProviderDouble::token_endpoint(const HttpRequest& request, bool refresh_endpoint) {
  const Token& token = dialect_.token;
  if (request.method != "POST") return refuse({405, {}, ""}, "the token endpoint takes POST only");
  const std::optional<Params> params = parameters(request, token.body);
  if (!params)
    return refuse({400, {}, R"({"error":"invalid_request"})"}, "token parameters not in the documented body");
  if (!client_authenticated(request, *params, token.auth)) {
    return refuse(token.refused_client, "the client is not authenticated the documented way");
  }
  const std::string grant_type = sdk::find_param(*params, "grant_type").value_or("");
  if (grant_type == "authorization_code" && url_matches(token.url, request.url)) {
    const std::string code = sdk::find_param(*params, "code").value_or("");
    const std::string verifier = sdk::find_param(*params, "code_verifier").value_or("");
    if (sdk::find_param(*params, "redirect_uri") != redirect_uri_) {
      return refuse(token.refused_grant, "redirect_uri missing or not the consent's");
    }
    if (code.empty() || code != code_) return refuse(token.refused_grant, "unknown or used code");
    if ((challenge_.empty() && dialect_.consent.pkce == Pkce::required) ||
        (!challenge_.empty() && (challenge_ != pkce_challenge || verifier != pkce_verifier))) {
      return refuse(token.refused_grant, "PKCE: no challenge, or no matching verifier");
    }
    code_.clear(); // single use
    return tokens(token.refresh_token);
  }
  if (grant_type == "refresh_token" && refresh_endpoint && token.refresh != Refresh::none) {
    const std::string presented = sdk::find_param(*params, "refresh_token").value_or("");
    if (refresh_.count(presented) == 0) {
      return refuse(token.refused_refresh.value_or(token.refused_grant), "unknown or used refresh token");
    }
    if (token.refresh == Refresh::rotates) refresh_.erase(presented);
    return tokens(token.refresh != Refresh::keeps);
  }
  return refuse({400, {}, R"({"error":"unsupported_grant_type"})"}, "grant_type '" + grant_type + "' not taken here");
}

HttpResponse ProviderDouble::revocation_endpoint(const HttpRequest& request) {
  const Revoke& revoke = dialect_.revoke;
  if (request.method != "POST") return refuse({405, {}, ""}, "the revocation endpoint takes POST only");
  if (revoke.style == Revocation::bearer) {
    const std::string authorization = header_of(request.headers, "Authorization");
    if (authorization.rfind("Bearer ", 0) != 0 || access_.count(authorization.substr(7)) == 0) {
      return refuse(dialect_.refused_token, "bearer revocation without a live access token");
    }
    withdraw();
    return {200, {}, revoke.answer};
  }
  const std::optional<Params> params = parameters(request, revoke.body);
  if (!params) return refuse({400, {}, R"({"error":"invalid_request"})"}, "revocation not in the documented body");
  if (revoke.auth && !client_authenticated(request, *params, *revoke.auth)) {
    return refuse(dialect_.token.refused_client, "revocation: the client is not authenticated the documented way");
  }
  const std::string presented = sdk::find_param(*params, "token").value_or("");
  const bool refresh = refresh_.count(presented) != 0, access = access_.count(presented) != 0;
  // RFC 7009 2.2: a token it does not take is answered 200 all the same, and nothing is revoked.
  if ((refresh && revoke.token != RevokedToken::access) || (access && revoke.token != RevokedToken::refresh)) {
    withdraw();
  } else {
    refusals_ += dialect_.slug + " double revoked nothing: the token sent is not one it revokes\n";
  }
  return {200, {}, ""};
}

HttpResponse ProviderDouble::check_endpoint(const HttpRequest& request, int index) {
  const Check& check = dialect_.checks[static_cast<std::size_t>(index)];
  if (request.method != check.method) return refuse({405, {}, ""}, check.url + " takes " + check.method);
  for (const auto& [name, value] : check.headers) {
    const std::string given = header_of(request.headers, name);
    if (given.empty() || (!value.empty() && given != value)) {
      return refuse({400, {}, R"({"error":"missing_header"})"}, "the check call lacks " + name);
    }
  }
  if (check.method == "POST" && (header_of(request.headers, "Content-Type").rfind("application/json", 0) != 0 ||
                                 request.body.find(check.body_has) == std::string::npos)) {
    return refuse({400, {}, R"({"error":"bad_request"})"}, "the check call's JSON body lacks " + check.body_has);
  }
  const std::string presented = header_of(request.headers, check.header);
  const std::string prefix = check.scheme.empty() ? "" : check.scheme + " ";
  if (presented.rfind(prefix, 0) != 0 || access_.count(presented.substr(prefix.size())) == 0) {
    return refuse(dialect_.refused_token, "no live access token in " + check.header + " as '" + prefix + "<token>'");
  }
  check_answered_ = index;
  return {200, {{"Content-Type", "application/json"}}, check.answer};
}

} // namespace connector::dialects
