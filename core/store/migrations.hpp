// The SQLite store's schema, as an ordered list of versioned migrations (PostgreSQL's are in
// postgres_migrations.hpp, with the same version numbers). Each migration is
// applied once, in its own transaction, and recorded in `schema_migrations` (version,
// applied_at), so a database always sits at a known version and two host processes that
// open one file at once cannot both apply a step.
#pragma once

#include <functional>
#include <span>

struct sqlite3;

namespace connector::core {

struct SchemaMigration {
  int version; // 1, 2, 3, ...: released migrations are never renumbered or edited
  const char* description;
  const char* sql; // schema statements only, no values
};

// The store's migrations, oldest first. Append new ones at the end.
std::span<const SchemaMigration> sqlite_schema_migrations();

// The newest version in `migrations` (0 when empty).
int latest_schema_version(std::span<const SchemaMigration> migrations);

// Shared by the backends' runners: throws std::logic_error unless the versions rise strictly
// from 1, and std::runtime_error when the database is newer than this build's latest (a newer
// build wrote it: this one must not touch it).
void check_strictly_increasing(std::span<const SchemaMigration> migrations);
void refuse_if_newer(int database_version, int latest);

// Told before each step a runner applies: the step, how many of this run's steps came before
// it, and how many the run has in all (a long migration shows where it is with it).
using MigrationStepObserver = std::function<void(const SchemaMigration& step, int steps_done, int steps)>;

// The version recorded in `db`: 0 when it was never migrated. Writes nothing.
int read_schema_version(sqlite3* db);

// Applies, oldest first and each in its own transaction, every migration newer than the
// database. Throws std::runtime_error when the database is newer than `migrations` (a newer
// build wrote it: this one must not touch it), when the list is not strictly increasing, or
// when a step fails (that step is rolled back; earlier ones stay).
void apply_schema_migrations(sqlite3* db, std::span<const SchemaMigration> migrations,
                             const MigrationStepObserver& on_step = {});

// The steps of `migrations` newer than `version`, oldest first.
std::span<const SchemaMigration> steps_after(int version, std::span<const SchemaMigration> migrations);

// Calls `apply` for each of `steps`, telling `on_step` (when set) first.
void run_steps(std::span<const SchemaMigration> steps, const MigrationStepObserver& on_step,
               const std::function<void(const SchemaMigration&)>& apply);

} // namespace connector::core
