// Each catalogue provider's OAuth dialect as its own documentation states it, written down
// independently of the definitions in plugins/catalogue (a row copied from a definition could
// never catch that definition's mistake), and a provider double that speaks one dialect
// strictly: a request in the wrong place, shape or spelling is refused the way the provider
// refuses it. catalogue_dialects_test.cpp drives each real definition against its row.
#ifndef CONNECTOR_TESTS_PROVIDER_DIALECTS_HPP
#define CONNECTOR_TESTS_PROVIDER_DIALECTS_HPP

#include <connector/encoding.hpp>
#include <connector/provider.hpp>

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace connector::dialects {

using sdk::Headers;
using sdk::HttpRequest;
using sdk::HttpResponse;
using sdk::Params;

enum class ClientAuth { basic, post, either };       // either: one of the two, never both (RFC 6749 2.3)
enum class Body { form, json, query, form_or_json }; // how the token endpoint takes its parameters
enum class Pkce { required, supported, none, unsure };
enum class Refresh {
  none,
  keeps,
  reissues,
  rotates
}; // keeps: no new refresh token; reissues: a new
   // one, the old still good; rotates: the old dies
enum class Revocation { none, rfc7009, bearer };
enum class RevokedToken { refresh, access, either };

// In the URLs below, ' ' separates documented alternatives and '*' stands for one path
// segment (an API version); a query in a URL is required as written.
struct Consent {
  std::string url;
  Params parameters;                     // required beyond RFC 6749's; an empty value: any
  std::string scope_parameter = "scope"; // empty: scopes are set on the app, not the URL
  std::string scope_separator = " ";     // empty: not documented
  std::vector<std::string> scopes;       // needed for what the test does ('|': alternatives)
  Pkce pkce = Pkce::unsure;
};

struct Token {
  std::string url;
  ClientAuth auth = ClientAuth::post;
  Body body = Body::form;
  std::string answer_extras = "{}";  // the answer's other members, as the provider sends them
  std::string tokens_at;             // the member holding the tokens; empty: the top level
  std::optional<int64_t> expires_in; // sent with each access token
  std::optional<int64_t> lifetime;   // documented when expires_in is not sent; neither: no expiry
  bool refresh_token = true;         // the code exchange hands one out
  Refresh refresh = Refresh::keeps;
  std::string refresh_url; // empty: the token endpoint
  HttpResponse refused_grant{400, {}, R"({"error":"invalid_grant"})"};
  // The provider spells a dead code like any other bad request (Zoom's and Shopify's
  // invalid_request): a definite refusal, which no definition can tell apart from the rest.
  bool dead_code_spelt_generically = false;
  HttpResponse refused_client{401, {}, R"({"error":"invalid_client"})"};
  std::optional<HttpResponse> refused_refresh; // when a bad refresh token is spelt otherwise
};

struct Revoke {
  Revocation style = Revocation::none;
  std::string url;
  std::optional<ClientAuth> auth; // none: the endpoint does not authenticate the client
  Body body = Body::form;
  RevokedToken token = RevokedToken::either;
  std::string answer; // its success body
};

struct Check {
  std::string url;
  std::string method = "GET";
  std::string header = "Authorization";
  std::string scheme = "Bearer"; // empty: the token alone
  Headers headers;               // required constant headers; an empty value: any
  std::string body_has;          // with POST: text the JSON body must hold
  std::string answer;
  std::string id;    // the account id the test expects ('|': alternatives)
  std::string name;  // the account name ('|': alternatives; an empty one: none is fine)
  std::string scope; // the scope this call needs, if any ('|': alternatives)
};

struct Dialect {
  std::string slug;
  Params settings; // values for the definition's variables, named as the provider names them
  Consent consent;
  Token token;
  Revoke revoke;
  std::vector<Check> checks;                 // the calls that name the account; any one will do
  HttpResponse refused_token{401, {}, "{}"}; // a check call's answer to a dead token
  Params redirect_extras;                    // what the provider adds to its redirect (Intuit's realmId)
  // Values from the answer or the redirect without which a client cannot call the API (a
  // Salesforce instance URL, an Intuit realm): the definition must keep each as metadata.
  std::vector<std::string> grant_facts;
};

const std::vector<Dialect>& dialects();

// RFC 7636 appendix B's pair: the only PKCE pair the suite uses, so the double needs no SHA-256.
inline constexpr const char* pkce_verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
inline constexpr const char* pkce_challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

// True when `url` is `pattern` (alternatives, '*' segments, its required query; see above).
bool url_matches(const std::string& pattern, const std::string& url);

// One provider in process: HttpRequest in, HttpResponse out, with one grant's state.
class ProviderDouble {
public:
  ProviderDouble(const Dialect& dialect, std::string client_id, std::string client_secret);

  // The user says yes on the consent page `consent_url` leads to: returns the code.
  std::string consent(const std::string& consent_url);
  // The user withdraws the grant at the provider: every token it issued dies.
  void withdraw() {
    access_.clear();
    refresh_.clear();
  }

  HttpResponse answer(const HttpRequest& request);

  bool live(const std::string& token) const { return access_.count(token) + refresh_.count(token) != 0; }
  int check_answered() const { return check_answered_; }    // index in dialect.checks, -1: none
  const std::string& refusals() const { return refusals_; } // what it refused and why

private:
  HttpResponse token_endpoint(const HttpRequest& request, bool refresh_endpoint);
  HttpResponse revocation_endpoint(const HttpRequest& request);
  HttpResponse check_endpoint(const HttpRequest& request, int index);
  HttpResponse tokens(bool with_refresh_token);
  bool client_authenticated(const HttpRequest& request, const Params& params, ClientAuth auth);
  std::optional<Params> parameters(const HttpRequest& request, Body body);
  HttpResponse refuse(HttpResponse answer, const std::string& why);

  const Dialect& dialect_;
  std::string client_id_;
  std::string client_secret_;
  std::string code_, redirect_uri_, challenge_;
  std::set<std::string> access_, refresh_;
  int consents_ = 0;
  int issued_ = 0;
  int check_answered_ = -1;
  std::string refusals_;
};

} // namespace connector::dialects

#endif // CONNECTOR_TESTS_PROVIDER_DIALECTS_HPP
