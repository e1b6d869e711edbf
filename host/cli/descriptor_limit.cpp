#include "cli/descriptor_limit.hpp"

#include <sys/resource.h>

#include <algorithm>

namespace connector::host {

namespace {

// Descriptors kept out of the connections' reach: SQLite readers (one per thread) and the
// writer with their -wal and -shm files, plugin modules, the watcher, the listener, logs.
constexpr std::size_t reserved_descriptors = 256;
// An admitted connection may hold a provider call's socket as well as its own.
constexpr std::size_t descriptors_per_connection = 2;

} // namespace

ConnectionBudget fit_connections_to_descriptors(std::size_t wanted) {
  rlimit limit{};
  ConnectionBudget budget;
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    if (limit.rlim_cur < limit.rlim_max) {
      rlimit raised = limit;
      raised.rlim_cur = limit.rlim_max;
      if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
    }
    budget.open_file_limit = limit.rlim_cur == RLIM_INFINITY ? 0 : static_cast<std::size_t>(limit.rlim_cur);
  }
  budget.max_connections = wanted;
  if (budget.open_file_limit != 0) {
    const std::size_t room = budget.open_file_limit > reserved_descriptors
                                 ? (budget.open_file_limit - reserved_descriptors) / descriptors_per_connection
                                 : 1;
    if (room < wanted) {
      budget.max_connections = std::max<std::size_t>(room, 1);
      budget.lowered = true;
    }
  }
  return budget;
}

} // namespace connector::host
