#include "http/response_wire.hpp"

#include <charconv>

namespace connector::host {

ResponseWire::ResponseWire(const Response& response, bool with_body) {
  const std::string_view reason = response.reason();
  std::size_t size = 24 + reason.size(); // "HTTP/1.1 200 " + reason + "\r\n" + the final "\r\n"
  for (const auto& field : response)
    size += field.name_string().size() + field.value().size() + 4;
  head_.reserve(size);

  head_.append("HTTP/");
  head_.push_back(static_cast<char>('0' + response.version() / 10 % 10));
  head_.push_back('.');
  head_.push_back(static_cast<char>('0' + response.version() % 10));
  head_.push_back(' ');
  char status[16];
  const auto converted = std::to_chars(status, status + sizeof status, response.result_int());
  head_.append(status, converted.ptr).append(" ").append(reason).append("\r\n");
  for (const auto& field : response) {
    head_.append(field.name_string()).append(": ").append(field.value()).append("\r\n");
  }
  head_.append("\r\n");
  if (with_body) body_ = response.body();
}

std::array<boost::asio::const_buffer, 2> ResponseWire::buffers() const {
  return {boost::asio::buffer(head_), boost::asio::buffer(body_.data(), body_.size())};
}

} // namespace connector::host
