// connector-host database copy: moves a SQLite deployment's store into PostgreSQL, so that
// several replicas can share it (docs/deploying.md). Every table is copied as it is, sealed
// secrets included (the replicas then use the same key file), and the row counts of both
// sides are compared at the end. A target that already holds records is refused unless the
// operator says so; then records already there are kept, which also resumes a copy that
// stopped half way.
#pragma once

#include "cli/arguments.hpp"

namespace connector::host {

int run_database_copy(const Arguments& arguments);

} // namespace connector::host
