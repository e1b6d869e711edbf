// `connector-host providers lint FILE`: what a person adding a declarative provider runs before
// dropping the file into a plugins folder (`providers try SLUG`, the live check, is in
// providers_try.cpp). The same reading the host makes of a dropped file
// (core/plugins/declarative_definitions.hpp), so a file that passes here is served there.
#include "cli/arguments.hpp"
#include "cli/commands.hpp"
#include "plugins/declarative_definitions.hpp"
#include "plugins/plugin_descriptor.hpp"

#include <nlohmann/json.hpp>

#include <fstream>
#include <iostream>
#include <stdexcept>

namespace connector::host {

namespace {

int lint(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + file);
  // One byte past the limit, so that a file too large is refused as such.
  std::string text(core::max_definition_bytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  std::string problem;
  const auto definition = core::read_declarative_definition(text, problem);
  if (!definition) {
    std::cout << file << ": " << problem << "\n";
    return 1;
  }
  std::string descriptor_error;
  const auto descriptor =
      core::parse_plugin_descriptor(core::declarative_descriptor_json(*definition), descriptor_error);
  if (!descriptor) {
    std::cout << file << ": " << descriptor_error << "\n";
    return 1;
  }
  std::cout << file << ": ok: " << descriptor->slug << " (" << descriptor->display_name << " " << descriptor->version
            << "), settings: " << descriptor->settings_schema->value("required", nlohmann::json::array()).dump()
            << " required\n";
  return 0;
}

} // namespace

int run_providers(const std::vector<std::string>& args) {
  if (!args.empty() && args[0] == "try") return run_providers_try(args);
  const Arguments arguments(args, {}, {});
  const auto& words = arguments.positional();
  if (words.size() != 2 || words[0] != "lint") throw std::invalid_argument(providers_usage);
  return lint(words[1]);
}

} // namespace connector::host
