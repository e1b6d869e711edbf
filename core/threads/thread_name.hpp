// Names the calling thread, so that `top -H`, `perf` and gdb show which of the host's threads
// is which (Linux keeps the first 15 characters).
#pragma once

#include <pthread.h>

#include <string>

namespace connector::core {

inline void name_this_thread(const std::string& name) {
  constexpr std::size_t longest = 15;
  pthread_setname_np(pthread_self(), name.substr(0, longest).c_str());
}

} // namespace connector::core
