// Each catalogue definition (plugins/catalogue/<slug>.json), run by the real engine
// (DeclarativeProvider) against an in-process double of its provider that speaks the dialect
// the provider documents (provider_dialects.cpp): the consent URL, the exchange with its
// check call, a refused code, refresh and rotation, revocation, the check call and a dead
// token. The rows are written from each provider's documentation, not from the definitions,
// so a definition that misdeclares its provider fails here.
#include "catalogue/provider_dialects.hpp"

#include <connector/declarative_provider.hpp>

#include <gmock/gmock.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <ostream>
#include <set>

namespace connector::dialects {
// A row prints as its slug in gtest's messages, not as its bytes.
void PrintTo(const Dialect& dialect, std::ostream* out) { *out << dialect.slug; }
} // namespace connector::dialects

namespace {

using namespace connector::dialects;
namespace sdk = connector::sdk;
namespace declarative = connector::sdk::declarative;

constexpr const char* catalogue_dir = CONNECTOR_CATALOGUE_DIR;
constexpr const char* client_id = "dialect-client";
constexpr const char* client_secret = "dialect-secret";

std::string test_name(const std::string& slug) {
  std::string name = slug;
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

// Whether `value` is one of the '|'-separated `alternatives` (an empty one included).
bool is_one_of(const std::string& alternatives, const std::string& value) {
  std::size_t start = 0;
  for (;;) {
    const std::size_t end = std::min(alternatives.find('|', start), alternatives.size());
    if (alternatives.compare(start, end - start, value) == 0) return true;
    if (end == alternatives.size()) return false;
    start = end + 1;
  }
}

std::optional<std::string> query_param(const std::string& url, const std::string& name) {
  const std::size_t mark = url.find('?');
  if (mark == std::string::npos) return std::nullopt;
  return sdk::find_param(sdk::form_decode(url.substr(mark + 1)), name);
}

// The row's value for a variable: the one the provider's own name gives, else the first whose
// form fits the variable's kind (an author names variables as they like).
std::optional<std::string> value_for(const declarative::Variable& variable, const sdk::Params& values) {
  std::vector<std::string> candidates;
  if (auto named = sdk::find_param(values, variable.name)) candidates.push_back(*named);
  for (const auto& item : values)
    candidates.push_back(item.second);
  for (const std::string& value : candidates) {
    const bool origin = value.rfind("https://", 0) == 0;
    const bool fits = variable.kind == declarative::VariableKind::https_origin ? origin
                      : variable.kind == declarative::VariableKind::one_of
                          ? std::find(variable.values.begin(), variable.values.end(), value) != variable.values.end()
                          : !origin;
    if (fits) return value;
  }
  return std::nullopt;
}

template <typename Result> std::string outcome(const sdk::Step<Result>& step) {
  if (const auto* failure = std::get_if<sdk::Failure>(&step)) {
    return "failure " + failure->code + " (status " + std::to_string(failure->status) + "): " + failure->description;
  }
  return std::holds_alternative<sdk::HttpRequest>(step) ? "a request left unanswered" : "a result";
}

template <typename Result> connector_status status_of(const sdk::Step<Result>& step) {
  const auto* failure = std::get_if<sdk::Failure>(&step);
  return failure == nullptr ? CONNECTOR_STATUS_OK : failure->status;
}

class CatalogueDialect : public ::testing::TestWithParam<Dialect> {
protected:
  void SetUp() override {
    const std::filesystem::path file = std::filesystem::path(catalogue_dir) / (row().slug + ".json");
    if (!std::filesystem::exists(file)) GTEST_SKIP() << file << " is not written yet";
    std::ifstream in(file);
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    definition_ = std::make_shared<declarative::Definition>(declarative::parse_definition(nlohmann::json::parse(text)));
    settings_ = {{"client_id", client_id}, {"client_secret", client_secret}};
    for (const declarative::Variable& variable : definition_->variables) {
      if (variable.is_metadata()) continue; // the provider's to say, in the answer or on the redirect
      const std::optional<std::string> value = value_for(variable, row().settings);
      if (variable.source == declarative::VariableSource::flow_options) {
        if (value) options_[variable.name] = *value;
      } else if (value) {
        settings_[variable.name] = *value;
      } else if (!variable.default_value) {
        ADD_FAILURE() << "the row gives no value for the settings variable " << variable.name;
      }
    }
    provider_ = provider_for(*definition_);
    double_ = std::make_unique<ProviderDouble>(row(), client_id, client_secret);
  }

  const Dialect& row() const { return GetParam(); }

  std::unique_ptr<declarative::DeclarativeProvider> provider_for(const declarative::Definition& definition) const {
    return std::make_unique<declarative::DeclarativeProvider>(
        std::make_shared<const declarative::Definition>(definition), settings_);
  }

  sdk::FlowInput consent_input() const {
    sdk::FlowInput input;
    input.redirect_uri = "https://connectors.example/v1/oauth/callback";
    input.state = "st4te";
    input.code_challenge = pkce_challenge;
    input.code_verifier = pkce_verifier;
    input.options = options_;
    return input;
  }

  // Calls `operation` until it stops asking for requests, the double answering each.
  template <typename Result, typename Operation>
  sdk::Step<Result> drive(ProviderDouble& provider_double, Operation operation, sdk::FlowInput input) const {
    sdk::Step<Result> step = operation(input, nullptr);
    for (int hop = 0; hop < 4 && std::holds_alternative<sdk::HttpRequest>(step); ++hop) {
      const sdk::HttpRequest request = std::get<sdk::HttpRequest>(step);
      const sdk::HttpResponse response = provider_double.answer(request);
      input.continuation = request.continuation;
      step = operation(input, &response);
    }
    return step;
  }

  sdk::Step<sdk::TokenSet> exchange(const declarative::DeclarativeProvider& provider, ProviderDouble& provider_double,
                                    bool right_code = true) const {
    sdk::FlowInput input = consent_input();
    input.code = provider_double.consent(provider.authorization_url(input));
    input.callback_parameters.insert(row().redirect_extras.begin(), row().redirect_extras.end());
    if (!right_code) input.code = "not-the-code";
    return drive<sdk::TokenSet>(
        provider_double,
        [&](const sdk::FlowInput& in, const sdk::HttpResponse* r) { return provider.exchange_code(in, r); }, input);
  }

  // The tokens of a successful exchange, or nullopt after recording why there are none.
  std::optional<sdk::TokenSet> granted() {
    const sdk::Step<sdk::TokenSet> step = exchange(*provider_, *double_);
    if (const auto* tokens = std::get_if<sdk::TokenSet>(&step)) {
      metadata_ = tokens->metadata;
      return *tokens;
    }
    ADD_FAILURE() << "the exchange gave " << outcome(step) << "\n" << double_->refusals();
    return std::nullopt;
  }

  sdk::Step<sdk::Account> check(const std::string& access_token) {
    sdk::FlowInput input;
    input.access_token = access_token;
    input.options = options_;
    input.metadata = metadata_;
    return drive<sdk::Account>(
        *double_, [&](const sdk::FlowInput& in, const sdk::HttpResponse* r) { return provider_->check(in, r); }, input);
  }

  // What the provider documents about a lifetime: sent, assumed no longer than documented, or none.
  void expect_lifetime(const std::optional<int64_t>& expires_in) const {
    const Token& token = row().token;
    if (token.expires_in) {
      EXPECT_EQ(expires_in, token.expires_in);
    } else if (token.lifetime) {
      ASSERT_TRUE(expires_in.has_value()) << "no expires_in is sent: the definition must assume the documented "
                                          << *token.lifetime << " s (default_expires_in)";
      EXPECT_LE(*expires_in, *token.lifetime) << "longer than the provider's documented lifetime";
    } else {
      EXPECT_EQ(expires_in, std::nullopt) << "the provider's tokens do not expire";
    }
  }

  std::shared_ptr<declarative::Definition> definition_;
  nlohmann::json settings_;
  nlohmann::json options_ = nlohmann::json::object();
  sdk::Metadata metadata_; // the last grant's, handed back with later calls as the host does
  std::unique_ptr<declarative::DeclarativeProvider> provider_;
  std::unique_ptr<ProviderDouble> double_;
};

// The scopes a consent URL asks, split on the provider's separator (both when undocumented).
std::set<std::string> scopes_in(const std::string& consent, const Consent& consent_dialect) {
  std::set<std::string> scopes;
  const std::string value = query_param(consent, consent_dialect.scope_parameter).value_or("");
  const std::string separators = consent_dialect.scope_separator.empty() ? " ," : consent_dialect.scope_separator;
  std::size_t start = 0;
  while (start < value.size()) {
    const std::size_t end = std::min(value.find_first_of(separators, start), value.size());
    if (end > start) scopes.insert(value.substr(start, end - start));
    start = end + 1;
  }
  return scopes;
}

bool asks_scope(const std::set<std::string>& scopes, const std::string& alternatives) {
  return std::any_of(scopes.begin(), scopes.end(), [&](const std::string& s) { return is_one_of(alternatives, s); });
}

TEST_P(CatalogueDialect, ConsentUrlAsksWhatTheProviderRequires) {
  const Consent& expected = row().consent;
  const std::string consent = provider_->authorization_url(consent_input());
  EXPECT_TRUE(url_matches(expected.url, consent)) << consent << " is not at " << expected.url;
  EXPECT_EQ(query_param(consent, "response_type"), "code");
  EXPECT_EQ(query_param(consent, "client_id"), client_id);
  EXPECT_EQ(query_param(consent, "redirect_uri"), consent_input().redirect_uri);
  EXPECT_EQ(query_param(consent, "state"), "st4te");
  for (const auto& [name, value] : expected.parameters) {
    const std::optional<std::string> given = query_param(consent, name);
    EXPECT_TRUE(given && (value.empty() ? !given->empty() : *given == value))
        << "the provider requires " << name << "=" << value << "; the URL has " << given.value_or("(none)");
  }
  if (!expected.scope_parameter.empty()) {
    const std::optional<std::string> scope = query_param(consent, expected.scope_parameter);
    ASSERT_TRUE(scope.has_value()) << "scopes go in " << expected.scope_parameter << ": " << consent;
    if (!expected.scope_separator.empty()) {
      EXPECT_EQ(scope->find(expected.scope_separator == " " ? ',' : ' '), std::string::npos)
          << "scopes are separated by '" << expected.scope_separator << "': " << *scope;
    }
    for (const std::string& needed : expected.scopes) {
      EXPECT_TRUE(asks_scope(scopes_in(consent, expected), needed)) << "the provider needs the scope " << needed;
    }
  }
  const std::optional<std::string> challenge = query_param(consent, "code_challenge");
  if (expected.pkce == Pkce::required || expected.pkce == Pkce::supported) {
    EXPECT_EQ(challenge, pkce_challenge) << "the provider takes PKCE: the definition should use it";
    EXPECT_EQ(query_param(consent, "code_challenge_method"), "S256");
  } else if (expected.pkce == Pkce::none) {
    EXPECT_EQ(challenge, std::nullopt) << "the provider ignores PKCE: claiming it protects nothing";
  }
}

TEST_P(CatalogueDialect, ExchangeYieldsTheTokensAndTheAccount) {
  const std::optional<sdk::TokenSet> tokens = granted();
  ASSERT_TRUE(tokens);
  EXPECT_EQ(tokens->access_token, "access-1");
  EXPECT_EQ(tokens->refresh_token, row().token.refresh_token ? std::optional<std::string>("refresh-1") : std::nullopt);
  expect_lifetime(tokens->expires_in);
  for (const std::string& fact : row().grant_facts) {
    EXPECT_TRUE(std::any_of(tokens->metadata.begin(), tokens->metadata.end(),
                            [&](const auto& kept) { return kept.second == fact; }))
        << "the grant's " << fact << " is not kept as metadata, and a client cannot call the API without it";
  }
  if (!definition_->check) {
    EXPECT_EQ(tokens->account_id, "") << "no check call, no account";
    return;
  }
  ASSERT_GE(double_->check_answered(), 0) << "the definition names the account with none of the provider's calls";
  const Check& call = row().checks[static_cast<std::size_t>(double_->check_answered())];
  EXPECT_TRUE(is_one_of(call.id, tokens->account_id))
      << "account id " << tokens->account_id << ", expected " << call.id;
  EXPECT_TRUE(is_one_of(call.name, tokens->account_name))
      << "account name " << tokens->account_name << ", expected " << call.name;
  if (!call.scope.empty() && !row().consent.scope_parameter.empty()) {
    const std::string consent = provider_->authorization_url(consent_input());
    EXPECT_TRUE(asks_scope(scopes_in(consent, row().consent), call.scope))
        << call.url << " needs the scope " << call.scope << ", which the consent does not ask";
  }
}

TEST_P(CatalogueDialect, AWrongCodeIsAnInvalidGrant) {
  const sdk::Step<sdk::TokenSet> step = exchange(*provider_, *double_, /*right_code=*/false);
  if (row().token.dead_code_spelt_generically) {
    EXPECT_THAT(status_of(step), ::testing::AnyOf(CONNECTOR_STATUS_GRANT_INVALID, CONNECTOR_STATUS_PROVIDER_REJECTED))
        << "a definite refusal, never one that may pass later: " << outcome(step);
    return;
  }
  EXPECT_EQ(status_of(step), CONNECTOR_STATUS_GRANT_INVALID)
      << "the provider's refusal " << row().token.refused_grant.body << " gave " << outcome(step);
}

TEST_P(CatalogueDialect, RefreshFollowsTheProvidersRotation) {
  const Token& token = row().token;
  const auto refresh = [&](const std::string& refresh_token) {
    sdk::FlowInput input;
    input.refresh_token = refresh_token;
    input.options = options_;
    input.metadata = metadata_;
    return drive<sdk::TokenSet>(
        *double_, [&](const sdk::FlowInput& in, const sdk::HttpResponse* r) { return provider_->refresh(in, r); },
        input);
  };
  if (token.refresh == Refresh::none) {
    EXPECT_EQ(status_of(refresh("refresh-1")), CONNECTOR_STATUS_UNSUPPORTED) << "the provider has no refresh";
    return;
  }
  if (token.refresh == Refresh::rotates || token.refresh == Refresh::keeps) {
    EXPECT_EQ(definition_->token.refresh_token_rotates, token.refresh == Refresh::rotates)
        << "refresh.rotates misstates the provider's rotation";
  }
  const std::optional<sdk::TokenSet> tokens = granted();
  ASSERT_TRUE(tokens && tokens->refresh_token);
  const sdk::Step<sdk::TokenSet> step = refresh(*tokens->refresh_token);
  const auto* refreshed = std::get_if<sdk::TokenSet>(&step);
  ASSERT_NE(refreshed, nullptr) << outcome(step) << "\n" << double_->refusals();
  EXPECT_EQ(refreshed->access_token, "access-2");
  expect_lifetime(refreshed->expires_in);
  if (token.refresh == Refresh::keeps) {
    EXPECT_TRUE(!refreshed->refresh_token || refreshed->refresh_token == tokens->refresh_token);
  } else {
    EXPECT_EQ(refreshed->refresh_token, "refresh-2");
  }
  const sdk::Step<sdk::TokenSet> again = refresh(*tokens->refresh_token);
  if (token.refresh == Refresh::rotates) {
    EXPECT_EQ(status_of(again), CONNECTOR_STATUS_GRANT_INVALID) << "a used refresh token: " << outcome(again);
  } else {
    EXPECT_TRUE(std::holds_alternative<sdk::TokenSet>(again)) << "the refresh token stays good: " << outcome(again);
  }
}

TEST_P(CatalogueDialect, RevokeEndsTheGrant) {
  const std::optional<sdk::TokenSet> tokens = granted();
  ASSERT_TRUE(tokens);
  sdk::FlowInput input;
  input.access_token = tokens->access_token;
  input.refresh_token = tokens->refresh_token.value_or("");
  input.options = options_;
  input.metadata = tokens->metadata;
  const sdk::Step<sdk::Done> step = drive<sdk::Done>(
      *double_, [&](const sdk::FlowInput& in, const sdk::HttpResponse* r) { return provider_->revoke(in, r); }, input);
  if (row().revoke.style == Revocation::none) {
    EXPECT_EQ(status_of(step), CONNECTOR_STATUS_UNSUPPORTED) << "the provider documents no revocation endpoint";
    return;
  }
  ASSERT_TRUE(std::holds_alternative<sdk::Done>(step)) << outcome(step) << "\n" << double_->refusals();
  EXPECT_FALSE(double_->live(tokens->access_token)) << "the revocation left the grant alive\n" << double_->refusals();
}

TEST_P(CatalogueDialect, CheckNamesTheAccountAndADeadTokenIsAnInvalidGrant) {
  const std::optional<sdk::TokenSet> tokens = granted();
  ASSERT_TRUE(tokens);
  const sdk::Step<sdk::Account> step = check(tokens->access_token);
  if (!definition_->check) {
    EXPECT_EQ(status_of(step), CONNECTOR_STATUS_UNSUPPORTED);
    return;
  }
  const auto* account = std::get_if<sdk::Account>(&step);
  ASSERT_NE(account, nullptr) << outcome(step) << "\n" << double_->refusals();
  ASSERT_GE(double_->check_answered(), 0);
  const Check& call = row().checks[static_cast<std::size_t>(double_->check_answered())];
  EXPECT_TRUE(is_one_of(call.id, account->account_id)) << account->account_id << ", expected " << call.id;
  EXPECT_TRUE(is_one_of(call.name, account->account_name)) << account->account_name << ", expected " << call.name;

  double_->withdraw(); // the user removes the app at the provider
  const sdk::Step<sdk::Account> dead = check(tokens->access_token);
  EXPECT_EQ(status_of(dead), CONNECTOR_STATUS_GRANT_INVALID)
      << "the provider's answer " << row().refused_token.status << " " << row().refused_token.body << " gave "
      << outcome(dead);
}

// The double is strict enough to matter: the definition with its token endpoint declared
// wrong (client authentication, body, URL) gets no tokens.
TEST_P(CatalogueDialect, AMisdeclaredTokenEndpointGetsNoTokens) {
  const Token& token = row().token;
  std::vector<std::pair<std::string, declarative::Definition>> wrong;
  if (token.auth != ClientAuth::either) {
    declarative::Definition changed = *definition_;
    changed.token.client_authentication = token.auth == ClientAuth::basic
                                              ? declarative::ClientAuthentication::secret_post
                                              : declarative::ClientAuthentication::secret_basic;
    wrong.emplace_back("the other client authentication", std::move(changed));
  }
  declarative::Definition changed = *definition_;
  changed.token.body = token.body == Body::form    ? declarative::BodyEncoding::json
                       : token.body == Body::json  ? declarative::BodyEncoding::form
                       : token.body == Body::query ? declarative::BodyEncoding::form
                                                   : declarative::BodyEncoding::query;
  if (changed.token.body == declarative::BodyEncoding::query) {
    changed.token.client_authentication = declarative::ClientAuthentication::secret_post;
  }
  wrong.emplace_back("another body encoding", std::move(changed));
  changed = *definition_;
  changed.token.url += "2";
  wrong.emplace_back("another URL", std::move(changed));
  for (const auto& [what, definition] : wrong) {
    ProviderDouble fresh(row(), client_id, client_secret);
    const sdk::Step<sdk::TokenSet> step = exchange(*provider_for(definition), fresh);
    EXPECT_FALSE(std::holds_alternative<sdk::TokenSet>(step)) << "the double took " << what;
  }
}

INSTANTIATE_TEST_SUITE_P(Providers, CatalogueDialect, ::testing::ValuesIn(dialects()),
                         [](const ::testing::TestParamInfo<Dialect>& row) { return test_name(row.param.slug); });

TEST(CatalogueDialects, EveryDefinitionHasARowAndEveryRowADefinition) {
  std::set<std::string> files, rows;
  for (const auto& entry : std::filesystem::directory_iterator(catalogue_dir)) {
    if (entry.path().extension() == ".json") files.insert(entry.path().stem().string());
  }
  for (const Dialect& dialect : dialects()) {
    EXPECT_TRUE(rows.insert(dialect.slug).second) << "two rows for " << dialect.slug;
  }
  for (const std::string& file : files) {
    EXPECT_TRUE(rows.count(file)) << file << ".json has no dialect row";
  }
  for (const std::string& row : rows) {
    EXPECT_TRUE(files.count(row)) << "no plugins/catalogue/" << row << ".json for the row " << row;
  }
}

} // namespace
