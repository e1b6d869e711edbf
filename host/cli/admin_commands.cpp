// Administrative subcommands that work on the data folder directly: API keys, the redirect
// allow-list, and listing plugins.
#include "auth/api_keys.hpp"
#include "cli/admin_view.hpp"
#include "cli/arguments.hpp"
#include "cli/commands.hpp"
#include "cli/data_folder.hpp"
#include "cli/database_copy.hpp"
#include "cli/progress.hpp"
#include "cli/store_opening.hpp"
#include "config/host_config.hpp"
#include "oauth/redirect_policy.hpp"
#include "plugins/plugin_registry.hpp"
#include "store/postgres_migrations.hpp"
#include "store/postgres_support.hpp"
#include "store/sqlite_store.hpp"
#include "store/store_executor.hpp"
#include "time/unix_time.hpp"

#include <iostream>

namespace connector::host {

int run_keys(const std::vector<std::string>& args) {
  const Arguments arguments(args, {"org", "data-dir", "config", "database", "name", "permissions", "id"}, {});
  const auto& words = arguments.positional();
  const std::string action = words.empty() ? "" : words[0];
  const HostConfig config = config_from(arguments);
  core::StoreExecutor store(open_store(config, StoreUse::command));
  if (action == "create") {
    const std::string org = arguments.required("org");
    if (org.size() > 128 || org.find_first_of("/?#% ") != std::string::npos) {
      throw std::invalid_argument("--org must be an organization id without '/', '?', '#', '%' or spaces");
    }
    std::string unknown;
    const auto permissions = parse_permissions(arguments.get_or("permissions", default_key_permissions), unknown);
    if (!permissions || permissions->empty()) {
      throw std::invalid_argument(
          (permissions ? std::string("--permissions names no permission") : "unknown permission '" + unknown + "'") +
          "; known: " + sources_permission + ", " + credentials_read_permission + ", " + admin_permission);
    }
    const NewApiKey key = make_api_key(org, arguments.get_or("name", "default"), *permissions);
    store.run_sync([&](core::Store& s) { s.insert_api_key(key.record); });
    std::cout << "Created API key " << key.record.id << " for organization " << org
              << ". It is shown only now; store it safely:\n"
              << key.secret << std::endl;
    return 0;
  }
  if (action == "list") {
    const auto keys = store.run_sync([&](core::Store& s) { return s.list_api_keys(arguments.get_or("org", "")); });
    for (const auto& key : keys) {
      std::cout << key.id << "\t" << key.organization_id << "\t" << key.name << "\t" << key.permissions << "\t"
                << (key.revoked_at ? "revoked" : "active") << "\n";
    }
    return 0;
  }
  if (action == "revoke") {
    const std::string id = arguments.required("id");
    // One job: the key's state is read and changed at the same moment.
    enum class Outcome { revoked, already_revoked, unknown };
    const Outcome outcome = store.run_sync([&](core::Store& s) {
      for (const auto& key : s.list_api_keys("")) {
        if (key.id != id) continue;
        if (key.revoked_at) return Outcome::already_revoked;
        s.revoke_api_key(id, core::unix_now());
        return Outcome::revoked;
      }
      return Outcome::unknown;
    });
    switch (outcome) {
    case Outcome::revoked: std::cout << "revoked " << id << "\n"; return 0;
    case Outcome::already_revoked: std::cerr << "connector-host: key " << id << " was already revoked\n"; return 1;
    case Outcome::unknown: std::cerr << "connector-host: no key " << id << "\n"; return 1;
    }
    return 1;
  }
  std::cerr << "usage: connector-host keys create --org ORG_ID [--name NAME] [--permissions P] STORE\n"
               "       connector-host keys list [--org ORG_ID] STORE\n"
               "       connector-host keys revoke --id KEY_ID STORE\n"
               "STORE: --data-dir DIR (SQLite) or --database postgresql://USER:PASS@HOST/DB\n";
  return 2;
}

int run_redirects(const std::vector<std::string>& args) {
  const Arguments arguments(args, {"org", "url", "data-dir", "config", "database"}, {});
  const auto& words = arguments.positional();
  const std::string action = words.empty() ? "" : words[0];
  const HostConfig config = config_from(arguments);
  core::StoreExecutor store(open_store(config, StoreUse::command));
  const std::string org = arguments.required("org");
  if (action == "add" || action == "remove") {
    auto normalized = core::normalize_redirect_url(arguments.required("url"));
    if (!normalized) throw std::invalid_argument(normalized.error().message);
    if (action == "add") {
      store.run_sync([&](core::Store& s) { s.add_allowed_redirect({org, normalized->key, core::unix_now()}); });
      std::cout << "allowed " << normalized->key << " for " << org << "\n";
      return 0;
    }
    const bool removed =
        store.run_sync([&](core::Store& s) { return s.remove_allowed_redirect(org, normalized->key); });
    std::cout << (removed ? "removed " : "not on the list: ") << normalized->key << "\n";
    return removed ? 0 : 1;
  }
  if (action == "list") {
    for (const auto& entry : store.run_sync([&](core::Store& s) { return s.list_allowed_redirects(org); })) {
      std::cout << entry.url << "\n";
    }
    return 0;
  }
  std::cerr << "usage: connector-host redirects add|remove --org ORG_ID --url URL STORE\n"
               "       connector-host redirects list --org ORG_ID STORE\n"
               "STORE: --data-dir DIR (SQLite) or --database postgresql://USER:PASS@HOST/DB\n";
  return 2;
}

namespace {

// What `database check` says of a database at `version` where this build writes `latest`, and
// its exit code: 0 up to date, 3 older (migrate brings it up), 1 newer (a newer build wrote it).
int report_schema_version(const std::string& where, int version, int latest) {
  std::cout << where << ": schema version " << version << ", this build writes " << latest << "\n";
  if (version > latest) {
    std::cout << "newer than this build: run the newer connector-host\n";
    return 1;
  }
  if (version < latest) {
    std::cout << (version == 0 ? "not created yet" : "older") << ": `connector-host database migrate` brings it up\n";
    return 3;
  }
  std::cout << "up to date\n";
  return 0;
}

// `database migrate`'s progress on standard error: a step can rewrite a whole table, so the
// step under way is shown for as long as it runs. The result goes to standard output.
class MigrationProgress {
public:
  MigrationProgress(int version, std::span<const core::SchemaMigration> migrations)
      : progress_(std::cerr, standard_error_is_terminal(), "migrate",
                  static_cast<int64_t>(core::steps_after(version, migrations).size())) {}

  core::MigrationStepObserver observer() {
    return [this](const core::SchemaMigration& step, int steps_done, int) {
      progress_.update(steps_done, "version " + std::to_string(step.version) + ", " + step.description);
      ++steps_;
    };
  }

  void report(const std::string& where, int before, int latest) {
    progress_.finish("migrate: " + std::to_string(steps_) + (steps_ == 1 ? " step" : " steps"));
    std::cout << where << ": schema version " << before << " -> " << latest << "\n";
  }

private:
  Progress progress_;
  int steps_ = 0;
};

// The same on a PostgreSQL database. The URL is shown with its password replaced; the
// migration takes the lock that replicas starting at the same time take.
int run_postgres_database(const std::string& action, const std::string& url) {
  const std::string where = core::pg::redacted_database_url(url);
  const auto migrations = core::postgres_schema_migrations();
  const int latest = core::latest_schema_version(migrations);
  core::pg::Connection db = core::pg::Connection::open(url);
  const int version = core::read_postgres_schema_version(db);
  if (action == "check") return report_schema_version(where, version, latest);
  MigrationProgress progress(version, migrations);
  core::apply_postgres_schema_migrations(db, migrations, progress.observer());
  progress.report(where, version, latest);
  return 0;
}

} // namespace

// `database check` reads the schema version without writing; `database migrate` brings the
// database to this build's schema (what serve also does on start), so an operator can do it
// first, e.g. before switching traffic to a new version. The data folder's SQLite file, or a
// PostgreSQL database given by --database URL.
int run_database(const std::vector<std::string>& args) {
  const Arguments arguments(args, {"data-dir", "config", "database", "from-data-dir", "to"}, {"into-non-empty"});
  const auto& words = arguments.positional();
  const std::string action = words.empty() ? "" : words[0];
  if (action == "copy") return run_database_copy(arguments);
  if (action != "check" && action != "migrate") {
    throw std::invalid_argument(
        "usage: connector-host database check|migrate [--data-dir DIR] [--config FILE]\n"
        "       connector-host database check|migrate --database postgresql://USER:PASS@HOST/DB\n"
        "       connector-host database copy --from-data-dir DIR --to postgresql://USER:PASS@HOST/DB "
        "[--into-non-empty]");
  }
  const HostConfig config = config_from(arguments);
  if (!config.database_url.empty()) return run_postgres_database(action, config.database_url);
  const auto file = config.database_file();
  const int latest = core::SqliteStore::latest_schema_version();
  if (action == "check") return report_schema_version(file.string(), core::SqliteStore::schema_version(file), latest);
  const int before = core::SqliteStore::schema_version(file);
  prepare_data_folder(config.data_dir, file);
  MigrationProgress progress(before, core::sqlite_schema_migrations());
  core::SqliteStore::migrate(file, progress.observer());
  progress.report(file.string(), before, latest);
  return 0;
}

int run_plugins(const std::vector<std::string>& args) {
  const Arguments arguments(args, {"plugins-dir", "config", "data-dir", "url", "key"}, {});
  if (const std::string url = arguments.get_or("url", ""); !url.empty()) {
    // The running host's view: what it serves now, load times, refusals.
    std::string key = arguments.get_or("key", "");
    if (key.empty()) {
      const auto from_env = core::process_environment()("CONNECTOR_ADMIN_KEY");
      key = from_env.value_or("");
    }
    if (key.empty())
      throw std::runtime_error("--key or CONNECTOR_ADMIN_KEY is required with --url (a key with \"admin\")");
    print_plugin_report(fetch_admin_json(url, "/v1/admin/plugins", key), std::cout);
    return 0;
  }
  const HostConfig config = config_from(arguments);
  core::PluginRegistry registry;
  const auto refusals = registry.load_directory(config.plugins_dir);
  std::cout << "plugins in " << std::filesystem::absolute(config.plugins_dir).string() << ":\n";
  for (const auto& plugin : registry.plugins()) {
    const auto& d = plugin->descriptor();
    std::cout << "  " << d.slug << "\t" << d.display_name << " " << d.version << "\tABI " << plugin->abi_major() << "."
              << plugin->abi_minor() << "\t" << plugin->file().string() << "\n";
  }
  for (const auto& refusal : refusals)
    std::cout << "  refused: " << refusal.reason << "\n";
  return 0;
}

} // namespace connector::host
