#include "cli/database_copy.hpp"

#include "cli/progress.hpp"
#include "config/host_config.hpp"
#include "store/postgres_store.hpp"
#include "store/postgres_support.hpp"
#include "store/sqlite_store.hpp"

#include <filesystem>
#include <iostream>
#include <numeric>

namespace connector::host {

namespace {

// Records written to the target in one transaction.
constexpr int batch_size = 1000;

int64_t total_of(const std::map<std::string, int64_t>& counts) {
  return std::accumulate(counts.begin(), counts.end(), int64_t{0},
                         [](int64_t sum, const auto& entry) { return sum + entry.second; });
}

// Writes records into the target in batches, keeping any already there when told to.
class TargetWriter {
public:
  TargetWriter(core::PostgresStore& target, bool keep_existing, Progress& progress)
      : target_(target), keep_existing_(keep_existing), progress_(progress) {}

  template <typename Record, typename Insert> void write(const Record& record, Insert insert) {
    if (in_batch_ == 0) target_.begin_batch();
    if (keep_existing_) {
      // A record already there fails its insert alone: a savepoint keeps the batch going.
      target_.begin_job(core::JobUndo::savepoint);
      try {
        insert(record);
        target_.end_job(true);
      } catch (const core::StoreConflict&) {
        target_.end_job(false);
        ++kept_;
      }
    } else {
      insert(record);
    }
    ++done_;
    if (++in_batch_ == batch_size) finish_batch();
  }

  void finish_batch() {
    if (in_batch_ == 0) return;
    target_.commit_batch();
    in_batch_ = 0;
    progress_.update(done_);
  }

  int64_t done() const { return done_; }
  int64_t kept() const { return kept_; }

private:
  core::PostgresStore& target_;
  const bool keep_existing_;
  Progress& progress_;
  int in_batch_ = 0;
  int64_t done_ = 0;
  int64_t kept_ = 0;
};

} // namespace

int run_database_copy(const Arguments& arguments) {
  const std::filesystem::path data_dir = arguments.required("from-data-dir");
  const std::string url = arguments.required("to");
  const bool into_non_empty = arguments.flag("into-non-empty");
  HostConfig source_config;
  source_config.data_dir = data_dir;
  const std::filesystem::path file = source_config.database_file();
  if (!std::filesystem::exists(file)) throw std::runtime_error("no SQLite store at " + file.string());

  core::SqliteStore source(file); // at this build's schema, as the host would open it
  core::PostgresStore target(url);
  const std::string target_name = core::pg::redacted_database_url(url);
  const auto source_counts = source.count_rows();
  const auto target_before = target.count_rows();
  if (total_of(target_before) > 0 && !into_non_empty) {
    std::cerr << "connector-host: " << target_name << " already holds " << total_of(target_before)
              << " records; copy into it anyway (records already there are kept) with --into-non-empty\n";
    return 1;
  }

  // Into an empty target every insert is sent without waiting for its answer (one round trip
  // a batch); keeping what is there needs each insert's answer, in a savepoint of its own.
  target.use_job_savepoints(into_non_empty);
  Progress progress(std::cerr, standard_error_is_terminal(), "copy", total_of(source_counts));
  TargetWriter writer(target, into_non_empty, progress);
  source.read_every<core::ApiKeyRecord>(
      [&](core::ApiKeyRecord&& r) { writer.write(r, [&](const auto& x) { target.insert_api_key(x); }); });
  source.read_every<core::AllowedRedirectRecord>([&](core::AllowedRedirectRecord&& r) {
    writer.write(r, [&](const auto& x) { target.add_allowed_redirect(x); });
  });
  source.read_every<core::WorkspaceRecord>(
      [&](core::WorkspaceRecord&& r) { writer.write(r, [&](const auto& x) { target.insert_workspace(x); }); });
  source.read_every<core::FlowRecord>(
      [&](core::FlowRecord&& r) { writer.write(r, [&](const auto& x) { target.insert_flow(x); }); });
  source.read_every<core::SourceRecord>(
      [&](core::SourceRecord&& r) { writer.write(r, [&](const auto& x) { target.insert_source(x); }); });
  source.read_every<core::OAuthAppRecord>([&](core::OAuthAppRecord&& r) {
    writer.write(r, [&](const core::OAuthAppRecord& app) {
      // put_oauth_app replaces; an app already in the target is kept like any other record.
      if (into_non_empty && target.find_oauth_app(app.organization_id, app.scope, app.slug)) {
        throw core::StoreConflict("the OAuth app is already there");
      }
      target.put_oauth_app(app);
    });
  });
  writer.finish_batch();
  progress.finish("copy: " + std::to_string(writer.done()) + " records read from " + file.string() +
                  (into_non_empty ? ", " + std::to_string(writer.kept()) + " already in the target" : ""));

  // The target holds at least every source row (exactly as many when it started empty).
  const auto target_after = target.count_rows();
  bool complete = true;
  std::cout << "table\tSQLite\tPostgreSQL\n";
  for (const auto& [table, count] : source_counts) {
    const int64_t copied = target_after.count(table) != 0 ? target_after.at(table) : 0;
    const int64_t before = target_before.count(table) != 0 ? target_before.at(table) : 0;
    const bool matches = into_non_empty ? copied >= count && copied <= before + count : copied == count;
    complete = complete && matches;
    std::cout << table << "\t" << count << "\t" << copied << (matches ? "" : "\t<- differs") << "\n";
  }
  std::cout << (complete ? "Copied " : "Copy incomplete: ") << file.string() << " to " << target_name
            << ". Sealed secrets were copied as they are: give every replica the key file "
            << source_config.effective_key_file().string() << " (encryption_keys_file).\n";
  return complete ? 0 : 1;
}

} // namespace connector::host
