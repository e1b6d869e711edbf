// The host's side of connector_writer: collects what a plugin writes during one call into an
// OperationResult, copying every byte so nothing points into plugin memory afterwards.
#pragma once

#include "plugins/provider_types.hpp"

#include <connector/abi.h>

namespace connector::core {

class ResultWriter {
public:
  ResultWriter();
  ResultWriter(const ResultWriter&) = delete;
  ResultWriter& operator=(const ResultWriter&) = delete;

  const connector_writer* table() const { return &table_; }
  // Ends the call: the collected fields with the status the plugin returned.
  OperationResult take(connector_status status);

private:
  static void set_string(void* context, uint32_t field, connector_str value);
  static void set_integer(void* context, uint32_t field, int64_t value);
  static void add_request_header(void* context, connector_str name, connector_str value);

  connector_writer table_{};
  OperationResult result_;
};

} // namespace connector::core
