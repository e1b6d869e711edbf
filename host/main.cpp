// connector-host: the OAuth connector host. `serve` is the default subcommand.
#include "cli/commands.hpp"
#include "config/host_config.hpp"
#include "logging/logger.hpp"

#include <boost/dll/runtime_symbol_info.hpp>

#include <csignal>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

namespace {

constexpr const char* usage = R"(connector-host — a self-hosted OAuth connector host

usage: connector-host [COMMAND] [OPTIONS]

commands:
  serve        run the service (the default)
                 --listen HOST:PORT     address to bind (default 127.0.0.1:8080; port 0 picks one)
                 --data-dir DIR         SQLite database and encryption keys (default ./data)
                 --database URL         PostgreSQL instead of SQLite, postgresql://USER:PASS@HOST:PORT/DB,
                                        which several replicas may share (or CONNECTOR_DATABASE_URL)
                 --plugins-dir DIR      provider plugins to load
                 --config FILE          JSON configuration file
  keys         create | list | revoke API keys
                 keys create --org ORG_ID [--name NAME] [--permissions "sources admin"] --data-dir DIR
                 (every command that touches the store takes --database URL in place of --data-dir)
                 permissions (default "sources"): sources (flows, workspaces, sources), credentials:read
                 (sources' access tokens), admin (redirect allow-list, OAuth apps, /v1/admin)
  redirects    add | remove | list an organization's allowed redirect URLs
                 redirects add --org ORG_ID --url https://app.example.com/callback --data-dir DIR
  database     check (schema version; exit 3 when older, 1 when newer) | migrate the store's schema
                 database check|migrate [--data-dir DIR | --database postgresql://USER:PASS@HOST:PORT/DB]
                 database copy --from-data-dir DIR --to postgresql://…: SQLite's store into PostgreSQL
                 (an empty one, unless --into-non-empty: then records already there are kept)
  encryption   the sealing keys (encryption_keys_file, shared by every replica)
                 rotate: add a key that seals from now on | status: which keys seal how many secrets
                 rewrap [--batch N]: re-seal every stored secret with the current key, while serving
                 retire KEY_ID: remove a key no stored secret uses any more
  plugins      list the plugins a folder holds and why any is refused
                 plugins --url http://127.0.0.1:8080 [--key KEY]: the running host's view
                 (GET /v1/admin/plugins; the key, or CONNECTOR_ADMIN_KEY, needs "admin")
  providers    lint FILE: checks a declarative provider definition (exit 1 with the JSON path
                 and the rule it breaks; docs/plugin-authors-guide.md)
                 try SLUG [--listen ADDR | --redirect-uri URL] [--scopes "A B"] [--refresh]: a live
                 consent with the configured app: prints the consent URL, takes the redirect,
                 shows each request and answer with secrets masked, runs the check call
  --version    print the version
  --help       print this text

signals: SIGTERM/SIGINT stop accepting and let accepted requests finish within the grace
period; SIGHUP re-reads the configuration (log level, provider settings, *_FILE secrets), the
key file and rescans the plugins. Under systemd (Type=notify) readiness is reported with sd_notify.

settings: a key of the JSON configuration file (--config FILE or CONNECTOR_CONFIG), or its
environment variable, which wins; --listen, --data-dir, --database and --plugins-dir win over both.
Any variable may instead be given as <NAME>_FILE, the path of a file holding the value.

)";

// Provider settings follow the host's own in --help.
constexpr const char* provider_usage = R"(
provider settings: under "providers": {"<slug>": {...}} in the file, or CONNECTOR_<SLUG>_<SETTING>
(e.g. CONNECTOR_GITHUB_CLIENT_ID, CONNECTOR_GOOGLE_SHEETS_CLIENT_SECRET_FILE); each plugin's
settings are listed by GET /v1/admin/plugins and its source definition's spec.
)";

} // namespace

namespace connector::host {

std::string default_plugins_dir() {
  std::error_code error;
  const auto program = boost::dll::program_location(error);
  if (!error) {
    const auto installed = program.parent_path().parent_path() / "lib" / "connector-host" / "plugins";
    if (std::filesystem::is_directory(installed, error)) return installed.string();
  }
  return CONNECTOR_DEFAULT_PLUGIN_DIR;
}

} // namespace connector::host

int main(int argc, char** argv) {
  // A write past the file size limit (RLIMIT_FSIZE) would kill the process with SIGXFSZ. Ignored,
  // the write fails with EFBIG instead, and the store answers it like a full disk (503
  // STORAGE_FULL) while reads go on.
  ::signal(SIGXFSZ, SIG_IGN);
  std::vector<std::string> args(argv + 1, argv + argc);
  std::string command = "serve";
  if (!args.empty() && args[0].rfind("--", 0) != 0) {
    command = args[0];
    args.erase(args.begin());
  }
  for (const auto& arg : args) {
    if (arg == "--help" || arg == "-h") command = "help";
  }
  if (!args.empty() && args[0] == "--version") command = "version";
  try {
    if (command == "serve") return connector::host::run_serve(args);
    if (command == "keys") return connector::host::run_keys(args);
    if (command == "redirects") return connector::host::run_redirects(args);
    if (command == "plugins") return connector::host::run_plugins(args);
    if (command == "providers") return connector::host::run_providers(args);
    if (command == "database") return connector::host::run_database(args);
    if (command == "encryption") return connector::host::run_encryption(args);
    if (command == "version") {
      std::cout << "connector-host " << CONNECTOR_VERSION << " (plugin ABI 1.0)\n";
      return 0;
    }
    if (command == "help") {
      std::cout << usage << connector::host::settings_help() << provider_usage;
      return 0;
    }
    std::cerr << "connector-host: unknown command '" << command << "'; connector-host --help lists them\n";
    return 2;
  } catch (const std::invalid_argument& e) {
    std::cerr << "connector-host: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    // A person reads this line; the service's log (JSON) gets the same, for its pipelines.
    std::cerr << "connector-host: " << e.what() << "\n";
    if (command == "serve") connector::host::log(connector::host::LogLevel::error, "fatal", {{"error", e.what()}});
    return 1;
  }
}
