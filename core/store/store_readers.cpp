#include "store/store_readers.hpp"

namespace connector::core {

StoreReaders::Lease::Lease(StoreReaders& owner) : owner_(owner) {
  std::unique_lock lock(owner_.mutex_);
  owner_.given_back_.wait(
      lock, [&] { return !owner_.idle_.empty() || owner_.max_readers_ == 0 || owner_.opened_ < owner_.max_readers_; });
  if (!owner_.idle_.empty()) {
    reader_ = std::move(owner_.idle_.back());
    owner_.idle_.pop_back();
    return;
  }
  ++owner_.opened_;
  lock.unlock();
  try {
    reader_ = owner_.open_reader_(); // outside the lock: opening touches the file or the network
  } catch (...) {
    lock.lock();
    --owner_.opened_;
    owner_.given_back_.notify_one();
    throw;
  }
}

StoreReaders::Lease::~Lease() {
  {
    const std::lock_guard lock(owner_.mutex_);
    owner_.idle_.push_back(std::move(reader_));
  }
  owner_.given_back_.notify_one();
}

int64_t StoreReaders::cache_generation(std::chrono::milliseconds max_age) {
  if (const std::optional<int64_t> fresh = generations_.fresh(max_age)) return *fresh;
  generations_.publish(read_now([](Store& store) { return store.cache_generation(); }));
  return generations_.latest();
}

} // namespace connector::core
