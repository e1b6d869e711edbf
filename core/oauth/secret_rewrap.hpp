// Re-sealing every stored secret with the current sealing key, so that older keys can be
// retired (connector-host encryption rewrap). It runs while replicas serve: a step is one
// store job over one page of one column, and a secret is replaced only where its row still
// holds the bytes the step read, so a write that came in between is never undone. Steps
// resume from where the last one ended; a run that stops can be started again from scratch
// at no cost beyond reading what is already under the current key.
#pragma once

#include "crypto/sealer.hpp"
#include "store/store.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace connector::core {

// The associated data `secret` was sealed with: the same as its writers use
// (source_rules, flow_service, oauth_apps).
std::string sealing_context_of(const SealedSecret& secret);

// What a run did so far.
struct RewrapCounts {
  int64_t visited = 0;           // secrets read
  int64_t resealed = 0;          // now under the current key
  int64_t changed_meanwhile = 0; // written by someone else between the read and the write (run again)
  int64_t unreadable = 0;        // not opened: damaged, or sealed with a key the ring lacks
};

// Where a run over one column stands.
struct RewrapCursor {
  SecretColumn column = SecretColumn::source_credentials;
  std::optional<SealedSecret> after; // the last secret read; nullopt: the start
  bool done = false;
};

// One page of `cursor.column` (at most `page_size` secrets), in the store job it runs in.
void rewrap_step(Store& store, const Sealer& sealer, RewrapCursor& cursor, int page_size, int64_t now,
                 RewrapCounts& counts);

} // namespace connector::core
