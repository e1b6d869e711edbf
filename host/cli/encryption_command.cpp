// connector-host encryption: the sealing keys' life. rotate adds a key that seals from then
// on; rewrap re-seals every stored secret with it, in batches, while replicas serve; retire
// removes a key once no stored secret needs it; status shows which keys seal how much.
#include "cli/arguments.hpp"
#include "cli/commands.hpp"
#include "cli/progress.hpp"
#include "cli/sealing_keys.hpp"
#include "cli/store_opening.hpp"
#include "oauth/secret_rewrap.hpp"
#include "time/unix_time.hpp"

#include <charconv>
#include <filesystem>
#include <iostream>
#include <numeric>
#include <optional>

namespace connector::host {

namespace {

constexpr const char* usage = "usage: connector-host encryption rotate|status|rewrap|retire KEY_ID [--data-dir DIR] "
                              "[--database URL] [--config FILE] [--batch N]";

int64_t total_of(const std::map<uint32_t, int64_t>& counts) {
  return std::accumulate(counts.begin(), counts.end(), int64_t{0},
                         [](int64_t sum, const auto& entry) { return sum + entry.second; });
}

int64_t under_other_keys(const std::map<uint32_t, int64_t>& counts, uint32_t current) {
  return total_of(counts) - (counts.count(current) != 0 ? counts.at(current) : 0);
}

// A whole number from `text`, or nullopt.
template <typename Number> std::optional<Number> number_in(const std::string& text) {
  Number value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

uint32_t key_id_argument(const std::string& text) {
  const auto id = number_in<uint32_t>(text);
  if (!id) throw std::invalid_argument("KEY_ID must be a key id from the key file, e.g. 1");
  return *id;
}

int rotate(const HostConfig& config) {
  const auto file = config.effective_key_file();
  std::error_code missing;
  if (!std::filesystem::exists(file, missing)) {
    // The first key of a deployment, made before any replica starts (docs/deploying.md).
    const core::Sealer made = core::Sealer::from_key_file(file, /*create_if_missing=*/true);
    std::cout << "Created " << file.string() << " with key " << made.current_key_id()
              << ", mode 0600. Give every replica this file (encryption_keys_file).\n";
    return 0;
  }
  const uint32_t id = core::Sealer::add_key_to_file(file);
  std::cout << "Added key " << id << " to " << file.string() << "; it seals from now on.\n"
            << "Replicas take it on SIGHUP (and read it by themselves when they meet a secret it sealed).\n"
            << "Then re-seal what older keys sealed: connector-host encryption rewrap\n";
  return 0;
}

int status(const HostConfig& config) {
  const auto file = config.effective_key_file();
  const core::Sealer sealer = core::Sealer::from_key_file(file, false);
  core::StoreExecutor store(open_store(config, StoreUse::command));
  const auto counts = count_secrets_by_key(store);
  std::cout << "key file " << file.string() << "\n";
  for (const uint32_t id : sealer.key_ids()) {
    const int64_t count = counts.count(id) != 0 ? counts.at(id) : 0;
    std::cout << "  key " << id << (id == sealer.current_key_id() ? " (current)" : "") << ": " << count
              << " stored secrets\n";
  }
  for (const auto& [id, count] : counts) {
    if (!sealer.has_key(id)) std::cout << "  key " << id << " (not in the file!): " << count << " stored secrets\n";
  }
  return 0;
}

int rewrap(const HostConfig& config, int page_size) {
  const auto file = config.effective_key_file();
  const core::Sealer sealer = core::Sealer::from_key_file(file, false);
  core::StoreExecutor store(open_store(config, StoreUse::command));
  const uint32_t current = sealer.current_key_id();
  core::RewrapCounts counts;
  // A secret written by a host between a step's read and its write keeps the bytes the host
  // wrote; a further pass (which re-seals only what is still under an older key) takes those.
  constexpr int passes = 3;
  for (int pass = 1; pass <= passes; ++pass) {
    const auto before = count_secrets_by_key(store);
    if (under_other_keys(before, current) == 0) break;
    Progress progress(std::cerr, standard_error_is_terminal(),
                      pass == 1 ? "rewrap" : "rewrap, pass " + std::to_string(pass), total_of(before));
    const int64_t visited_before = counts.visited;
    for (const core::SecretColumn column : core::every_secret_column) {
      core::RewrapCursor cursor{column, std::nullopt, false};
      while (!cursor.done) {
        store.run_sync([&](core::Store& s) {
          core::rewrap_step(s, sealer, cursor, page_size, core::unix_now(), counts);
          return 0;
        });
        progress.update(counts.visited - visited_before);
      }
    }
    progress.finish("rewrap: " + std::to_string(counts.visited - visited_before) + " secrets read, " +
                    std::to_string(counts.resealed) + " re-sealed with key " + std::to_string(current) + " so far");
    if (counts.unreadable > 0) break; // they stay under their keys whatever the pass
  }
  const auto after = count_secrets_by_key(store);
  const int64_t left = under_other_keys(after, current);
  std::cout << "Re-sealed " << counts.resealed << " secrets with key " << current << "; " << left
            << " stored secrets are under other keys";
  if (counts.unreadable > 0) {
    std::cout << " (" << counts.unreadable << " could not be opened with " << file.string()
              << ": damaged, or sealed with a key the file lacks)";
  }
  std::cout << ".\n";
  for (const auto& [id, count] : after) {
    if (id != current) std::cout << "  key " << id << ": " << count << " stored secrets\n";
  }
  return left == 0 ? 0 : 1;
}

int retire(const HostConfig& config, uint32_t id) {
  const auto file = config.effective_key_file();
  core::StoreExecutor store(open_store(config, StoreUse::command));
  const auto counts = count_secrets_by_key(store);
  if (const auto used = counts.find(id); used != counts.end() && used->second > 0) {
    std::cerr << "connector-host: " << used->second << " stored secrets are still sealed with key " << id
              << "; run connector-host encryption rewrap first\n";
    return 1;
  }
  core::Sealer::remove_key_from_file(file, id);
  std::cout << "Retired key " << id << " from " << file.string() << ". Send SIGHUP to every replica.\n";
  return 0;
}

} // namespace

int run_encryption(const std::vector<std::string>& args) {
  const Arguments arguments(args, {"data-dir", "config", "database", "batch"}, {});
  const auto& words = arguments.positional();
  const std::string action = words.empty() ? "" : words[0];
  const HostConfig config = config_from(arguments);
  if (action == "rotate" && words.size() == 1) return rotate(config);
  if (action == "status" && words.size() == 1) return status(config);
  if (action == "rewrap" && words.size() == 1) {
    const auto batch = number_in<int>(arguments.get_or("batch", "500"));
    if (!batch || *batch < 1 || *batch > 10000) throw std::invalid_argument("--batch must be from 1 to 10000");
    return rewrap(config, *batch);
  }
  if (action == "retire" && words.size() == 2) return retire(config, key_id_argument(words[1]));
  throw std::invalid_argument(usage);
}

} // namespace connector::host
