// The host's store where its configuration puts it: the PostgreSQL database named by
// `database` (CONNECTOR_DATABASE_URL, --database) when set, else the SQLite file in the data
// folder. Every command that touches the store opens it here, so that serve, keys, redirects
// and database work on the same data; callers past this point do not learn which backend
// they talk to.
#pragma once

#include "cli/arguments.hpp"
#include "config/host_config.hpp"
#include "store/store_readers.hpp"

#include <memory>
#include <string>

namespace connector::host {

// The configuration a CLI command runs with: the file and environment, with --config,
// --data-dir, --plugins-dir and --database over them.
HostConfig config_from(const Arguments& arguments);

enum class StoreUse {
  command, // a CLI command: one connection, the defaults
  service, // serve: SQLite's checkpoints on a thread of their own and a larger page cache
};

// Opens (creating and migrating as needed) the store's writing connection. The data folder
// (the key ring, SQLite's file) is made private first (prepare_data_folder). Throws core::StoreUnavailable when
// PostgreSQL cannot be reached, std::runtime_error for a database newer than this build.
std::unique_ptr<core::TransactionalStore> open_store(const HostConfig& config, StoreUse use);

// Opens further connections that only read, for core::StoreReaders.
core::StoreReaders::ReaderFactory store_reader_factory(const HostConfig& config);

// Where the store is, as it may be shown (the URL without its password, or the file).
std::string store_location(const HostConfig& config);

} // namespace connector::host
