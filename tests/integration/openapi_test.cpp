// The OpenAPI document served at /openapi.json against the route table the host really
// serves: every route documented and nothing documented that is not a route, path
// parameters declared, the error envelope's codes equal to the one error table, security as
// the router applies it, unique operation ids and no dangling $ref. The route table is built
// the way `connector-host serve` builds it, so a route added there without documentation
// fails here.
#include "api/routes.hpp"
#include "crypto/sealer.hpp"
#include "errors/error_code.hpp"
#include "net/https_client.hpp"
#include "oauth/flow_service.hpp"
#include "oauth/oauth_apps.hpp"
#include "oauth/provider_directory.hpp"
#include "oauth/source_operations.hpp"
#include "oauth/token_service.hpp"
#include "plugins/plugin_registry.hpp"
#include "store/sqlite_store.hpp"
#include "store/store_executor.hpp"
#include "store/store_readers.hpp"
#include "support/temp_dir.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <random>
#include <regex>
#include <set>
#include <string>
#include <vector>

namespace core = connector::core;
namespace host = connector::host;
using nlohmann::json;

namespace {

using TemporaryFolder = connector::testing::TempDir;

// The objects serve_command.cpp wires together, in the same order; nothing is dispatched, so
// no plugin, key or network is needed. Members are destroyed in reverse order.
struct RouteTable {
  TemporaryFolder folder;
  core::CacheGenerationClock generations;
  core::StoreExecutor store{std::make_unique<core::SqliteStore>(folder.path() / "connector.db"), &generations};
  core::StoreReaders readers{store, generations};
  core::Sealer sealer{{core::SealingKey{1, std::string(32, 'k')}}};
  core::PluginRegistry registry;
  std::shared_ptr<const core::ProviderDirectory> providers = std::make_shared<const core::ProviderDirectory>(
      registry, std::map<std::string, json>{}, core::process_environment());
  boost::asio::io_context io;
  core::HttpsClient https{io.get_executor(), core::HttpsClientOptions{}};
  core::OAuthApps apps{readers, sealer};
  core::FlowService flows{store, providers, apps, sealer, https, core::FlowSettings{}};
  core::TokenService tokens{store, [this] { return flows.providers(); }, apps, sealer, https, core::TokenSettings{}};
  core::SourceOperations sources{store, [this] { return flows.providers(); }, apps, tokens, sealer, https};
  host::ApiContext api{flows,
                       store,
                       tokens,
                       sources,
                       sealer,
                       [] { return true; },
                       [] { return nlohmann::json(); },
                       [] { return std::string(); }};
  // Never called: the test only reads the table.
  host::Router router{[](const host::Request&) -> core::Expected<core::ApiKeyRecord> {
    return core::ApiError(core::ErrorCode::authentication_required);
  }};

  RouteTable() { host::register_api_routes(router, api); }
};

// The HTTP methods an OpenAPI path item can hold as operations; its other keys
// (parameters, summary, ...) are not operations.
const std::set<std::string> operation_methods = {"get", "put", "post", "delete", "options", "head", "patch", "trace"};

std::string lower(std::string text) {
  for (auto& c : text)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

std::string method_of(const host::Route& route) { return lower(std::string(host::http::to_string(route.method))); }

std::string route_name(const host::Route& route) { return method_of(route) + " " + route.pattern; }

// The {name} placeholders of a pattern, which the router and OpenAPI write alike.
std::set<std::string> placeholders(const std::string& pattern) {
  std::set<std::string> names;
  const std::regex placeholder(R"(\{([^{}/]+)\})");
  for (auto it = std::sregex_iterator(pattern.begin(), pattern.end(), placeholder); it != std::sregex_iterator();
       ++it) {
    names.insert((*it)[1].str());
  }
  return names;
}

std::vector<std::string> error_table_codes() {
  std::size_t count = 0;
  const core::ErrorInfo* table = core::all_errors(count);
  std::vector<std::string> codes;
  for (std::size_t i = 0; i < count; ++i)
    codes.emplace_back(table[i].code);
  return codes;
}

class OpenApiTest : public ::testing::Test {
protected:
  void SetUp() override {
    document_ = json::parse(host::openapi_document(), nullptr, /*allow_exceptions=*/false);
    ASSERT_TRUE(document_.is_object()) << "openapi_document() is not a JSON object";
    ASSERT_TRUE(document_.contains("paths") && document_["paths"].is_object()) << "no paths";
  }

  // Follows local $refs ("#/components/..."); a dangling one fails the test and yields null.
  const json& resolve(const json& node) const {
    const json* current = &node;
    for (int depth = 0; current->is_object() && current->contains("$ref"); ++depth) {
      const std::string target = current->at("$ref").get<std::string>();
      if (depth > 8 || target.rfind("#/", 0) != 0) {
        ADD_FAILURE() << "unresolvable $ref " << target;
        return null_;
      }
      const json::json_pointer pointer(target.substr(1));
      if (!document_.contains(pointer)) {
        ADD_FAILURE() << "dangling $ref " << target;
        return null_;
      }
      current = &document_.at(pointer);
    }
    return *current;
  }

  // The node at keys below `from`, following $refs on the way; null when a key is missing.
  // (A const nlohmann::json's operator[] must not be used with a missing key.)
  const json* lookup(const json& from, std::initializer_list<const char*> keys) const {
    const json* node = &resolve(from);
    for (const char* key : keys) {
      if (!node->is_object() || !node->contains(key)) return nullptr;
      node = &resolve(node->at(key));
    }
    return node;
  }

  // The documented operation for a route, or null when the document lacks it.
  const json* operation(const std::string& method, const std::string& path) const {
    const json& paths = document_["paths"];
    if (!paths.contains(path) || !paths[path].contains(method)) return nullptr;
    return &paths[path][method];
  }

  // Calls visit(path, method, operation) for every operation in the document.
  template <typename Visit> void for_each_operation(Visit visit) const {
    for (const auto& [path, item] : document_["paths"].items()) {
      for (const auto& [method, op] : item.items()) {
        if (operation_methods.count(method) != 0) visit(path, method, op);
      }
    }
  }

  json document_;
  RouteTable table_;
  const json null_ = nullptr;
};

TEST_F(OpenApiTest, IsOpenApi31WithTheHostsMetadata) {
  ASSERT_TRUE(document_.contains("openapi") && document_["openapi"].is_string());
  EXPECT_EQ(document_["openapi"].get<std::string>().rfind("3.1.", 0), 0u) << document_["openapi"];
  EXPECT_EQ(document_["info"].value("title", ""), "Connector Host API");
  EXPECT_EQ(document_["info"].value("version", ""), "0.1.0");
  // The two ways api_keys.cpp accepts a key.
  const json* bearer = lookup(document_, {"components", "securitySchemes", "bearerAuth"});
  ASSERT_NE(bearer, nullptr);
  EXPECT_EQ(bearer->value("type", ""), "http");
  EXPECT_EQ(bearer->value("scheme", ""), "bearer");
  const json* header = lookup(document_, {"components", "securitySchemes", "apiKeyHeader"});
  ASSERT_NE(header, nullptr);
  EXPECT_EQ(header->value("type", ""), "apiKey");
  EXPECT_EQ(header->value("in", ""), "header");
  EXPECT_EQ(header->value("name", ""), "X-API-Key");
}

TEST_F(OpenApiTest, RouterHasNoDuplicateRoutes) {
  // A duplicate would be unreachable (the first match wins) and document the wrong handler.
  std::set<std::string> seen;
  for (const auto& route : table_.router.routes()) {
    EXPECT_TRUE(seen.insert(route_name(route)).second) << "registered twice: " << route_name(route);
  }
  EXPECT_FALSE(seen.empty());
}

TEST_F(OpenApiTest, EveryRouteIsDocumented) {
  for (const auto& route : table_.router.routes()) {
    EXPECT_NE(operation(method_of(route), route.pattern), nullptr) << "undocumented route: " << route_name(route);
  }
}

TEST_F(OpenApiTest, EveryDocumentedOperationIsARoute) {
  // Stale documentation: an operation no handler answers.
  std::set<std::string> served;
  for (const auto& route : table_.router.routes())
    served.insert(route_name(route));
  for_each_operation([&](const std::string& path, const std::string& method, const json&) {
    EXPECT_EQ(served.count(method + " " + path), 1u) << "documented but not routed: " << method << " " << path;
  });
}

TEST_F(OpenApiTest, PathParametersAreDeclaredAndRequired) {
  for_each_operation([&](const std::string& path, const std::string& method, const json& op) {
    // Parameters may sit on the path item (shared) or on the operation.
    std::set<std::string> declared;
    for (const json* list : std::initializer_list<const json*>{&document_["paths"][path], &op}) {
      if (!list->contains("parameters")) continue;
      for (const auto& entry : list->at("parameters")) {
        const json& parameter = resolve(entry);
        if (parameter.value("in", "") != "path") continue;
        declared.insert(parameter.value("name", ""));
        EXPECT_TRUE(parameter.value("required", false))
            << method << " " << path << ": path parameter " << parameter.value("name", "") << " must be required";
      }
    }
    EXPECT_EQ(declared, placeholders(path)) << method << " " << path;
  });
}

TEST_F(OpenApiTest, ErrorEnvelopeCodesAreTheErrorTable) {
  const json* error = lookup(document_, {"components", "schemas", "ErrorEnvelope", "properties", "error"});
  ASSERT_NE(error, nullptr) << "no ErrorEnvelope schema with an error object";
  const json* code = lookup(*error, {"properties", "code", "enum"});
  ASSERT_TRUE(code != nullptr && code->is_array()) << "ErrorEnvelope error.code has no enum";

  const std::vector<std::string> table = error_table_codes();
  const std::set<std::string> expected(table.begin(), table.end());
  std::set<std::string> documented;
  for (const auto& entry : *code)
    documented.insert(entry.get<std::string>());
  for (const auto& name : expected)
    EXPECT_EQ(documented.count(name), 1u) << "code missing from the enum: " << name;
  for (const auto& name : documented)
    EXPECT_EQ(expected.count(name), 1u) << "enum has an unknown code: " << name;

  // The envelope's fields as ApiError::envelope writes them.
  for (const char* field :
       {"code", "message", "system_message", "type", "status", "details", "trace_id", "timestamp"}) {
    EXPECT_NE(lookup(*error, {"properties", field}), nullptr) << "ErrorEnvelope error lacks " << field;
  }
  const json* type = lookup(*error, {"properties", "type", "enum"});
  ASSERT_TRUE(type != nullptr && type->is_array()) << "ErrorEnvelope error.type has no enum";
  std::set<std::string> types;
  for (const auto& entry : *type)
    types.insert(entry.get<std::string>());
  std::size_t count = 0;
  const core::ErrorInfo* info = core::all_errors(count);
  for (std::size_t i = 0; i < count; ++i) {
    EXPECT_EQ(types.count(info[i].type), 1u) << "type missing from the enum: " << info[i].type;
  }
}

TEST_F(OpenApiTest, ErrorResponsesNameCodesOfTheirStatus) {
  // Each error answer lists the codes it can carry (x-error-codes); the table fixes one status
  // per code, so a code documented under the wrong status is a wrong document.
  std::map<std::string, int> status_of;
  std::size_t count = 0;
  const core::ErrorInfo* info = core::all_errors(count);
  for (std::size_t i = 0; i < count; ++i)
    status_of[info[i].code] = info[i].status;

  for_each_operation([&](const std::string& path, const std::string& method, const json& op) {
    for (const auto& [status, entry] : op.at("responses").items()) {
      const json& response = resolve(entry);
      // Not lookup(): it would follow the schema's $ref, which is what is compared here.
      const json* media = lookup(response, {"content", "application/json"});
      const bool envelope = media != nullptr && media->contains("schema") && media->at("schema").is_object() &&
                            media->at("schema").value("$ref", "") == "#/components/schemas/ErrorEnvelope";
      EXPECT_EQ(envelope, response.contains("x-error-codes"))
          << method << " " << path << " " << status << ": an ErrorEnvelope answer must list its x-error-codes";
      if (!response.contains("x-error-codes")) continue;
      EXPECT_FALSE(response["x-error-codes"].empty()) << method << " " << path << " " << status;
      for (const auto& code : response["x-error-codes"]) {
        const auto known = status_of.find(code.get<std::string>());
        if (known == status_of.end()) {
          ADD_FAILURE() << method << " " << path << " " << status << ": unknown code " << code;
          continue;
        }
        EXPECT_EQ(std::to_string(known->second), status) << method << " " << path << ": " << code;
      }
    }
  });
}

TEST_F(OpenApiTest, SecurityMatchesTheRouter) {
  const json& schemes = document_["components"]["securitySchemes"];
  const json no_default = json::array();
  const json& default_security = document_.contains("security") ? document_["security"] : no_default;
  for (const auto& route : table_.router.routes()) {
    const json* op = operation(method_of(route), route.pattern);
    if (op == nullptr) continue; // reported by EveryRouteIsDocumented
    if (route.authenticated) {
      const json& security = op->contains("security") ? op->at("security") : default_security;
      ASSERT_TRUE(security.is_array()) << route_name(route);
      EXPECT_FALSE(security.empty()) << route_name(route) << " needs a key but documents no security";
      for (const auto& requirement : security) {
        EXPECT_FALSE(requirement.empty()) << route_name(route) << ": {} would make the key optional";
        for (const auto& [scheme, scopes] : requirement.items()) {
          EXPECT_TRUE(schemes.contains(scheme)) << route_name(route) << ": unknown scheme " << scheme;
        }
      }
      // The router answers these before the handler runs.
      EXPECT_TRUE(op->at("responses").contains("401")) << route_name(route);
      EXPECT_TRUE(op->at("responses").contains("403")) << route_name(route);
    } else {
      // Public routes say so explicitly, whatever a document-wide default says.
      ASSERT_TRUE(op->contains("security")) << route_name(route) << " is public: needs security: []";
      EXPECT_EQ(op->at("security"), json::array()) << route_name(route) << " is public: needs security: []";
    }
  }
}

// The router's table is the one place a route's permission is stated; the document shows it
// to users as x-required-permission.
TEST_F(OpenApiTest, RequiredPermissionsMatchTheRouter) {
  for (const auto& route : table_.router.routes()) {
    const json* op = operation(method_of(route), route.pattern);
    if (op == nullptr) continue; // reported by EveryRouteIsDocumented
    if (route.authenticated) {
      EXPECT_TRUE(host::is_known_permission(route.permission)) << route_name(route);
      EXPECT_EQ(op->value("x-required-permission", ""), route.permission) << route_name(route);
    } else {
      EXPECT_FALSE(op->contains("x-required-permission")) << route_name(route);
    }
  }
}

namespace {

// What dispatching `request` through a router built like the host's answers, with every key
// of organization "org_walk" holding `permissions`.
host::Response dispatch_with_key(host::ApiContext& api, const host::Request& request, const std::string& permissions) {
  host::Router router([permissions](const host::Request&) -> core::Expected<core::ApiKeyRecord> {
    core::ApiKeyRecord key;
    key.id = "key_walk";
    key.organization_id = "org_walk";
    key.permissions = permissions;
    return key;
  });
  host::register_api_routes(router, api);
  boost::asio::io_context io;
  host::Response answer;
  boost::asio::co_spawn(
      io,
      [&]() -> boost::asio::awaitable<void> {
        std::string route;
        answer = co_await router.dispatch(request, "trace", route);
      },
      boost::asio::detached);
  io.run();
  return answer;
}

} // namespace

// Finding 4 of the hostile-input review: routes that change an organization's security
// settings took any key of the organization. Every route is walked with a key holding every
// permission but the one it needs; the router must refuse it before the handler runs.
TEST_F(OpenApiTest, EveryRouteRefusesAKeyWithoutItsPermission) {
  const std::vector<std::string> all = {host::sources_permission, host::credentials_read_permission,
                                        host::admin_permission};
  std::size_t walked = 0;
  for (const auto& route : table_.router.routes()) {
    if (!route.authenticated) continue;
    std::string others;
    for (const auto& permission : all) {
      if (permission != route.permission) others += permission + " ";
    }
    std::string target = std::regex_replace(route.pattern, std::regex(R"(\{org_id\})"), "org_walk");
    target = std::regex_replace(target, std::regex(R"(\{[a-z_]+\})"), "x_1");
    host::Request request{route.method, target, 11};
    request.set(host::http::field::content_type, "application/json");
    request.body() = "{}";
    request.prepare_payload();
    const host::Response refused = dispatch_with_key(table_.api, request, others);
    EXPECT_EQ(refused.result_int(), 403) << route_name(route);
    const json envelope = json::parse(refused.body(), nullptr, false);
    EXPECT_EQ(envelope["error"].value("code", ""), "INSUFFICIENT_PERMISSIONS") << route_name(route);
    EXPECT_EQ(envelope["error"]["details"].value("required_permission", ""), route.permission) << route_name(route);
    ++walked;
  }
  EXPECT_GE(walked, 25U);
}

TEST_F(OpenApiTest, OperationIdsArePresentAndUnique) {
  std::set<std::string> ids;
  for_each_operation([&](const std::string& path, const std::string& method, const json& op) {
    ASSERT_TRUE(op.contains("operationId") && op["operationId"].is_string()) << method << " " << path;
    const std::string id = op["operationId"].get<std::string>();
    EXPECT_FALSE(id.empty()) << method << " " << path;
    EXPECT_TRUE(ids.insert(id).second) << "duplicate operationId " << id;
  });
}

TEST_F(OpenApiTest, EveryRefResolves) {
  std::size_t refs = 0;
  std::function<void(const json&)> walk = [&](const json& node) {
    if (node.is_object()) {
      if (const auto it = node.find("$ref"); it != node.end() && it->is_string()) {
        ++refs;
        resolve(node); // fails the test on a dangling target
      }
      for (const auto& [key, child] : node.items())
        walk(child);
    } else if (node.is_array()) {
      for (const auto& child : node)
        walk(child);
    }
  };
  walk(document_);
  EXPECT_GT(refs, 0u); // the document shares its schemas; none at all means this test saw nothing
}

TEST_F(OpenApiTest, EveryResponseCarriesRequestId) {
  // Every answer, error or not, has X-Request-Id (see http/responses.cpp).
  for_each_operation([&](const std::string& path, const std::string& method, const json& op) {
    ASSERT_TRUE(op.contains("responses") && !op["responses"].empty()) << method << " " << path;
    for (const auto& [status, entry] : op["responses"].items()) {
      const json& response = resolve(entry);
      EXPECT_TRUE(response.contains("headers") && response["headers"].contains("X-Request-Id"))
          << method << " " << path << " " << status;
    }
  });
}

} // namespace
