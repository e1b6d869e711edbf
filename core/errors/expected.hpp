// A value or the ApiError that explains why there is none: the request path's result type
// (no exceptions on the data plane).
#pragma once

#include "errors/error_code.hpp"

#include <utility>
#include <variant>

namespace connector::core {

template <typename T> class Expected {
public:
  Expected() : data_(ApiError()) {}                     // an internal error until assigned; lets async results default
  Expected(T value) : data_(std::move(value)) {}        // NOLINT(google-explicit-constructor): reads as a return
  Expected(ApiError error) : data_(std::move(error)) {} // NOLINT(google-explicit-constructor)

  bool ok() const { return data_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(data_); }
  const T& value() const { return std::get<0>(data_); }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const ApiError& error() const { return std::get<1>(data_); }

private:
  std::variant<T, ApiError> data_;
};

} // namespace connector::core
