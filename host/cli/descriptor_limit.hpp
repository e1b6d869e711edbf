// How many connections the host can hold open with the descriptors it may have.
#pragma once

#include <cstddef>

namespace connector::host {

struct ConnectionBudget {
  std::size_t max_connections = 0; // what the server may admit
  std::size_t open_file_limit = 0; // RLIMIT_NOFILE's soft limit after raising it
  bool lowered = false;            // `wanted` did not fit
};

// Raises the soft open-file limit to the hard one (the usual soft default, 1024, is far below
// what a busy host needs), then caps `wanted` so that every admitted connection can also hold
// one outgoing provider connection and a reserve stays for the store, plugins, the watcher
// and the log: a host out of descriptors can no longer open its database or answer /healthz.
ConnectionBudget fit_connections_to_descriptors(std::size_t wanted);

} // namespace connector::host
