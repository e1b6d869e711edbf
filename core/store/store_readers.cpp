#include "store/store_readers.hpp"

namespace connector::core {

StoreReaders::Lease::Lease(StoreReaders& owner) : owner_(owner) {
  {
    const std::lock_guard lock(owner_.mutex_);
    if (!owner_.idle_.empty()) {
      reader_ = std::move(owner_.idle_.back());
      owner_.idle_.pop_back();
      return;
    }
  }
  reader_ = owner_.open_reader_(); // outside the lock: opening touches the file
}

StoreReaders::Lease::~Lease() {
  const std::lock_guard lock(owner_.mutex_);
  owner_.idle_.push_back(std::move(reader_));
}

int64_t StoreReaders::cache_generation(std::chrono::milliseconds max_age) {
  if (const std::optional<int64_t> fresh = generations_.fresh(max_age)) return *fresh;
  generations_.publish(read_now([](Store& store) { return store.cache_generation(); }));
  return generations_.latest();
}

} // namespace connector::core
