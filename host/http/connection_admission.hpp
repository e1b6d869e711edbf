// Who may open one more connection: a cap on connections open at once in all and from one
// client address, so that one client (or a crowd) cannot take every file descriptor and
// starve the health checks, the store and the provider calls of theirs.
#pragma once

#include <boost/asio/ip/address.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace connector::host {

class ConnectionAdmission {
public:
  ConnectionAdmission(std::size_t max_total, std::size_t max_per_client)
      : max_total_(max_total), max_per_client_(max_per_client) {}

  enum class Verdict { admitted, host_full, client_full };
  // Counts the connection when it is admitted; a refused one is not counted.
  Verdict admit(const boost::asio::ip::address& client);
  // For every admitted connection, once, when it closes.
  void release(const boost::asio::ip::address& client);

private:
  // An address as the 16 bytes of its IPv6 form (IPv4 mapped), so both families share a table.
  using Key = std::array<unsigned char, 16>;
  struct KeyHash {
    std::size_t operator()(const Key& key) const noexcept;
  };
  static Key key_of(const boost::asio::ip::address& client);

  const std::size_t max_total_;
  const std::size_t max_per_client_;
  std::mutex mutex_;
  std::size_t total_ = 0;
  std::unordered_map<Key, std::size_t, KeyHash> per_client_;
};

// Logs a recurring warning at most once per interval, saying how many like it were held back,
// so that a failure repeating thousands of times a second cannot fill the disk with log lines.
class ThrottledWarning {
public:
  ThrottledWarning(std::string message, std::chrono::steady_clock::duration interval)
      : message_(std::move(message)), interval_(interval) {}
  // Not thread-safe: one owner (the accept loop) calls it.
  void happened(const std::string& detail);

private:
  std::string message_;
  std::chrono::steady_clock::duration interval_;
  std::chrono::steady_clock::time_point last_logged_{};
  std::size_t held_back_ = 0;
};

} // namespace connector::host
