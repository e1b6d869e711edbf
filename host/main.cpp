// connector-host: for now loads the plugins and lists them; the HTTP service follows.
#include "plugins/plugin_registry.hpp"

#include <cstdlib>
#include <iostream>
#include <string>
#include <string_view>
#include <vector>

namespace {

int list_plugins(const std::filesystem::path& folder) {
  connector::core::PluginRegistry registry;
  const auto refusals = registry.load_directory(folder);
  std::cout << "plugins in " << folder.string() << ":\n";
  for (const auto& plugin : registry.plugins()) {
    const auto& d = plugin->descriptor();
    std::cout << "  " << d.slug << "  " << d.display_name << " " << d.version << "  (ABI " << plugin->abi_major() << "."
              << plugin->abi_minor() << ", " << plugin->file().filename().string() << ")\n";
  }
  for (const auto& refusal : refusals) std::cout << "  refused: " << refusal.reason << "\n";
  return 0;
}

} // namespace

int main(int argc, char** argv) {
  const std::vector<std::string_view> args(argv + 1, argv + argc);
  std::filesystem::path plugins_dir = CONNECTOR_DEFAULT_PLUGIN_DIR;
  for (std::size_t i = 0; i + 1 < args.size(); ++i) {
    if (args[i] == "--plugins-dir") plugins_dir = args[i + 1];
  }
  if (!args.empty() && (args[0] == "--version")) {
    std::cout << "connector-host " << CONNECTOR_VERSION << "\n";
    return 0;
  }
  return list_plugins(plugins_dir);
}
