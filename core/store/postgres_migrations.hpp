// The PostgreSQL store's schema, with the same version numbers as SQLite's (migrations.hpp):
// version N is the same schema on both, in each one's own types. PostgreSQL support begins at
// version 11, so its first step lays out at once what SQLite reached in eleven.
#pragma once

#include "store/migrations.hpp"

#include <span>

namespace connector::core {

namespace pg {
class Connection;
}

// The migrations, oldest first. Append new ones at the end, beside SQLite's of that version.
std::span<const SchemaMigration> postgres_schema_migrations();

// The version recorded in the database: 0 when it was never migrated. Writes nothing.
int read_postgres_schema_version(pg::Connection& db);

// Applies every migration newer than the database, oldest first, each in its own transaction.
// Replicas that start together against one database migrate it once: each takes the same
// advisory lock first, and those that waited find nothing left to do. Throws as
// apply_schema_migrations does (a newer database, a failed step, which alone is rolled back).
void apply_postgres_schema_migrations(pg::Connection& db, std::span<const SchemaMigration> migrations,
                                      const MigrationStepObserver& on_step = {});

} // namespace connector::core
