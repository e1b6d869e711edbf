// The provider catalogue (plugins/catalogue/*.json), one table-driven suite for every
// definition: it lints with `connector-host providers lint`; its consent URL carries RFC 6749's
// parameters and every parameter it declares; its token request authenticates the client as
// declared. Whole flows against a real server: oidc_e2e_test.cpp.
#include "integration/host_fixture.hpp"

#include <connector/declarative_provider.hpp>

#include <gmock/gmock.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <set>

using namespace connector::testing;
namespace declarative = connector::sdk::declarative;
using ::testing::HasSubstr;

namespace {

std::vector<std::filesystem::path> catalogue_files() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(source_dir() / "plugins/catalogue")) {
    if (entry.path().extension() == ".json") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::string text_of(const std::filesystem::path& file) {
  std::ifstream in(file);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Values of their kind for every variable of `source` without a default: the settings (with the
// client's credentials) or a flow's options.
nlohmann::json values_for(const declarative::Definition& definition, declarative::VariableSource source) {
  nlohmann::json settings =
      source == declarative::VariableSource::settings
          ? nlohmann::json{{"client_id", "catalogue-client"}, {"client_secret", "catalogue-secret"}}
          : nlohmann::json::object();
  for (const auto& variable : definition.variables) {
    if (variable.source != source || variable.default_value) continue;
    switch (variable.kind) {
    case declarative::VariableKind::https_origin: settings[variable.name] = "https://acme.example"; break;
    case declarative::VariableKind::one_of: settings[variable.name] = variable.values.front(); break;
    default: settings[variable.name] = "acme"; break;
    }
  }
  return settings;
}

std::string query_value(const std::string& url, const std::string& name) {
  const auto query = connector::sdk::form_decode(url.substr(url.find('?') + 1));
  return connector::sdk::find_param(query, name).value_or("(absent)");
}

class Catalogue : public ::testing::TestWithParam<std::filesystem::path> {};

TEST_P(Catalogue, LintsAndBuildsStandardRequests) {
  const auto lint = run_command({host_binary().string(), "providers", "lint", GetParam().string()}, {});
  EXPECT_EQ(lint.exit_code, 0) << lint.output << lint.errors;
  EXPECT_THAT(lint.output, HasSubstr(": ok: "));

  const auto definition = std::make_shared<const declarative::Definition>(
      declarative::parse_definition(nlohmann::json::parse(text_of(GetParam()))));
  EXPECT_EQ(GetParam().stem().string(), definition->slug) << "the file is named after its slug";
  // These providers take no scope parameter: the permissions are set on the registered app.
  static const std::set<std::string> scopes_set_on_the_app = {"bitbucket", "calendly", "clickup",
                                                              "intercom",  "notion",   "pipedrive"};
  const bool asks_scopes = !scopes_set_on_the_app.contains(definition->slug);
  EXPECT_EQ(!definition->default_scopes.empty(), asks_scopes) << "a reading connector asks for something";
  const declarative::DeclarativeProvider provider(definition,
                                                  values_for(*definition, declarative::VariableSource::settings));

  connector::sdk::FlowInput input;
  input.redirect_uri = "https://host.example/v1/oauth/callback";
  input.state = "st4te";
  input.code_challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
  input.code = "c0de";
  input.code_verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  input.options = values_for(*definition, declarative::VariableSource::flow_options);
  const std::string consent = provider.authorization_url(input);
  EXPECT_EQ(query_value(consent, "response_type"), "code");
  EXPECT_EQ(query_value(consent, "client_id"), "catalogue-client");
  EXPECT_EQ(query_value(consent, "redirect_uri"), input.redirect_uri);
  EXPECT_EQ(query_value(consent, "state"), "st4te");
  EXPECT_EQ(query_value(consent, definition->scope_parameter) != "(absent)", asks_scopes);
  for (const auto& parameter : definition->authorization_parameters) {
    EXPECT_NE(query_value(consent, parameter.first), "(absent)") << parameter.first;
  }
  if (definition->pkce != declarative::Pkce::none) {
    EXPECT_EQ(query_value(consent, "code_challenge_method"), "S256");
  }

  const auto step = provider.exchange_code(input, nullptr);
  const auto& request = std::get<connector::sdk::HttpRequest>(step);
  EXPECT_THAT(request.body + request.url, HasSubstr("authorization_code"));
  const bool basic = std::any_of(request.headers.begin(), request.headers.end(),
                                 [](const auto& header) { return header.first == "Authorization"; });
  EXPECT_EQ(basic, definition->token.client_authentication == declarative::ClientAuthentication::secret_basic);
  EXPECT_EQ((request.body + request.url).find("catalogue-secret") != std::string::npos, !basic)
      << "the secret goes in the request only for client_secret_post";
}

INSTANTIATE_TEST_SUITE_P(Definitions, Catalogue, ::testing::ValuesIn(catalogue_files()),
                         [](const ::testing::TestParamInfo<std::filesystem::path>& file) {
                           std::string name = file.param.stem().string();
                           std::replace(name.begin(), name.end(), '-', '_');
                           return name;
                         });

TEST(ProvidersLint, ABrokenDefinitionIsRefusedWithItsPathAndRule) {
  TempDir work("connector-lint");
  nlohmann::json broken = nlohmann::json::parse(text_of(source_dir() / "plugins/catalogue/gitlab.json"));
  broken["token"]["client_authentication"] = "private_key_jwt";
  const auto file = work.path() / "broken.json";
  std::ofstream(file) << broken.dump();
  const auto lint = run_command({host_binary().string(), "providers", "lint", file.string()}, {});
  EXPECT_EQ(lint.exit_code, 1);
  EXPECT_THAT(lint.output, HasSubstr("$.token.client_authentication: must be one of client_secret_post"));
  const auto usage = run_command({host_binary().string(), "providers", "check", file.string()}, {});
  EXPECT_EQ(usage.exit_code, 2);
}

} // namespace

namespace {

// What a fresh host offers: the two native plugins and every catalogue definition, each
// source definition once.
TEST(CatalogueOnAFreshHost, ListsEveryProviderOnce) {
  TempDir work("connector-catalogue-host");
  HostProcess host(work.path(), nullptr);
  const std::string org = "org_catalogue";
  const auto listed = api_get(host.api(org) + "/source-definitions", host.create_key(org));
  ASSERT_EQ(listed.status, 200) << listed.body;
  std::set<std::string> slugs;
  std::set<std::string> ids;
  const nlohmann::json answer = listed.json();
  for (const auto& definition : answer["source_definitions"]) {
    slugs.insert(definition["source_type"].get<std::string>());
    EXPECT_TRUE(ids.insert(definition["source_definition_id"].get<std::string>()).second)
        << definition["source_definition_id"] << " is listed twice";
  }
  EXPECT_GE(slugs.size(), 35U);
  EXPECT_TRUE(slugs.contains("github") && slugs.contains("google-sheets"));
  for (const auto& file : catalogue_files())
    EXPECT_TRUE(slugs.contains(file.stem().string())) << file.stem() << " is not served";
}

} // namespace
