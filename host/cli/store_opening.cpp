#include "cli/store_opening.hpp"

#include "cli/commands.hpp"
#include "cli/data_folder.hpp"
#include "store/postgres_store.hpp"
#include "store/postgres_support.hpp"
#include "store/sqlite_store.hpp"

namespace connector::host {

HostConfig config_from(const Arguments& arguments) {
  return load_config({arguments.get_or("config", ""), "", arguments.get_or("data-dir", ""),
                      arguments.get_or("plugins-dir", ""), arguments.get_or("database", "")},
                     core::process_environment(), default_plugins_dir());
}

std::unique_ptr<core::TransactionalStore> open_store(const HostConfig& config, StoreUse use) {
  if (!config.database_url.empty()) {
    prepare_data_folder(config.data_dir, {});
    return std::make_unique<core::PostgresStore>(config.database_url);
  }
  prepare_data_folder(config.data_dir, config.database_file());
  auto store = std::make_unique<core::SqliteStore>(config.database_file());
  if (use == StoreUse::service) {
    // The checkpointer starts once the log holds 8000 pages (about 32 MB); the writer copies
    // what is left at four times that, so the log stays under about 128 MB. Against 2000, the
    // longer log folds more rewrites of the same pages into one copy, which the benchmark's
    // authorize load measurably gains from (bench/README.md).
    store->tune_for_service(/*checkpoint_frames=*/8000, /*cache_mib=*/32);
  }
  return store;
}

core::StoreReaders::ReaderFactory store_reader_factory(const HostConfig& config) {
  if (!config.database_url.empty()) {
    return [url = config.database_url] { return core::PostgresStore::open_reader(url); };
  }
  return [file = config.database_file()] { return core::SqliteStore::open_reader(file); };
}

std::string store_location(const HostConfig& config) {
  return config.database_url.empty() ? config.database_file().string()
                                     : core::pg::redacted_database_url(config.database_url);
}

} // namespace connector::host
