// A plugin made of one embedded definition: the source file that
// connector_add_declarative_plugin() (ConnectorPlugin.cmake) generates holds
//   CONNECTOR_REGISTER_DECLARATIVE_PROVIDER(R"connector-def( …the definition… )connector-def")
// and nothing else. The definition is parsed once, when the host first asks the plugin to
// describe itself; a broken one makes that fail with parse_definition()'s reason, so the host
// refuses the plugin and says why. Include this header in exactly one source file.
#ifndef CONNECTOR_DECLARATIVE_PLUGIN_HPP
#define CONNECTOR_DECLARATIVE_PLUGIN_HPP

#include <connector/declarative_provider.hpp>
#include <connector/plugin.hpp>

#include <memory>

namespace connector::sdk::declarative {

// `Source::text()` is the definition's JSON text.
template <typename Source> class EmbeddedProvider final : public DeclarativeProvider {
public:
  using DeclarativeProvider::DeclarativeProvider;

  static const std::shared_ptr<const Definition>& definition() {
    static const std::shared_ptr<const Definition> parsed = [] {
      const nlohmann::json document = nlohmann::json::parse(Source::text(), nullptr, /*allow_exceptions=*/false);
      if (document.is_discarded()) throw InvalidInput("definition: the embedded text is not JSON");
      return std::make_shared<const Definition>(parse_definition(document));
    }();
    return parsed;
  }
  static Descriptor describe() { return declarative::describe(*definition()); }
  static std::unique_ptr<IOAuthProvider> create(const nlohmann::json& settings) {
    return std::make_unique<EmbeddedProvider>(definition(), settings);
  }
};

} // namespace connector::sdk::declarative

#define CONNECTOR_REGISTER_DECLARATIVE_PROVIDER(definition_text)                                                       \
  namespace {                                                                                                          \
  struct ConnectorEmbeddedDefinition {                                                                                 \
    static const char* text() { return definition_text; }                                                              \
  };                                                                                                                   \
  using ConnectorEmbeddedProvider = ::connector::sdk::declarative::EmbeddedProvider<ConnectorEmbeddedDefinition>;      \
  }                                                                                                                    \
  CONNECTOR_REGISTER_PROVIDER(ConnectorEmbeddedProvider)

#endif // CONNECTOR_DECLARATIVE_PLUGIN_HPP
