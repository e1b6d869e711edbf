#include "cli/sealing_keys.hpp"

#include <stdexcept>
#include <string>

namespace connector::host {

void require_keys_for_stored_secrets(const std::map<uint32_t, int64_t>& secrets_by_key, const core::Sealer& sealer,
                                     const std::filesystem::path& key_file) {
  // The first few by id; the count of the rest (a damaged table could name thousands).
  constexpr int named_at_most = 5;
  std::string missing;
  int absent = 0;
  for (const auto& [id, count] : secrets_by_key) {
    if (sealer.has_key(id)) continue;
    if (++absent > named_at_most) continue;
    missing += (missing.empty() ? "" : ", ") + std::string("key id ") + std::to_string(id) + " (" +
               std::to_string(count) + (count == 1 ? " secret)" : " secrets)");
  }
  if (absent > named_at_most) missing += " and " + std::to_string(absent - named_at_most) + " more key ids";
  if (missing.empty()) return;
  throw std::runtime_error("the database holds secrets sealed with " + missing + ", which the key file " +
                           key_file.string() +
                           " does not have: give every replica the same key file (encryption_keys_file)");
}

std::map<uint32_t, int64_t> count_secrets_by_key(core::StoreExecutor& store) {
  return store.run_sync([](core::Store& s) { return s.count_secrets_by_key(); });
}

} // namespace connector::host
