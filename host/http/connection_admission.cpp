#include "http/connection_admission.hpp"

#include "logging/logger.hpp"

#include <string_view>

namespace connector::host {

ConnectionAdmission::Key ConnectionAdmission::key_of(const boost::asio::ip::address& client) {
  if (client.is_v4()) return boost::asio::ip::make_address_v6(boost::asio::ip::v4_mapped, client.to_v4()).to_bytes();
  return client.to_v6().to_bytes();
}

std::size_t ConnectionAdmission::KeyHash::operator()(const Key& key) const noexcept {
  return std::hash<std::string_view>()(std::string_view(reinterpret_cast<const char*>(key.data()), key.size()));
}

ConnectionAdmission::Verdict ConnectionAdmission::admit(const boost::asio::ip::address& client) {
  const Key key = key_of(client);
  std::lock_guard lock(mutex_);
  if (total_ >= max_total_) return Verdict::host_full;
  std::size_t& from_client = per_client_[key];
  if (from_client >= max_per_client_) {
    if (from_client == 0) per_client_.erase(key);
    return Verdict::client_full;
  }
  ++from_client;
  ++total_;
  return Verdict::admitted;
}

void ConnectionAdmission::release(const boost::asio::ip::address& client) {
  const Key key = key_of(client);
  std::lock_guard lock(mutex_);
  const auto found = per_client_.find(key);
  if (found == per_client_.end()) return;
  --total_;
  if (--found->second == 0) per_client_.erase(found);
}

void ThrottledWarning::happened(const std::string& detail) {
  const auto now = std::chrono::steady_clock::now();
  if (last_logged_ != std::chrono::steady_clock::time_point{} && now - last_logged_ < interval_) {
    ++held_back_;
    return;
  }
  log(LogLevel::warning, message_, {{"detail", detail}, {"held_back", held_back_}});
  last_logged_ = now;
  held_back_ = 0;
}

} // namespace connector::host
