#include "plugins/result_writer.hpp"

#include <string>
#include <utility>

namespace connector::core {

namespace {

std::string copy(connector_str value) {
  return value.data == nullptr ? std::string() : std::string(value.data, value.size);
}

} // namespace

ResultWriter::ResultWriter() {
  table_.struct_size = sizeof table_;
  table_.context = this;
  table_.set_string = &ResultWriter::set_string;
  table_.set_integer = &ResultWriter::set_integer;
  table_.add_request_header = &ResultWriter::add_request_header;
}

OperationResult ResultWriter::take(connector_status status) {
  result_.status = status;
  if (status != CONNECTOR_STATUS_OK && status != CONNECTOR_STATUS_SEND_REQUEST && result_.error_description.empty()) {
    result_.error_description = "the plugin gave no reason";
  }
  return std::move(result_);
}

// Called from plugin code through a C function pointer: must never throw. An allocation
// failure here drops the field; the caller's checks then see it missing.
void ResultWriter::set_string(void* context, uint32_t field, connector_str value) {
  auto& result = static_cast<ResultWriter*>(context)->result_;
  try {
    switch (field) {
    case CONNECTOR_FIELD_ERROR_CODE: result.error_code = copy(value); break;
    case CONNECTOR_FIELD_ERROR_DESCRIPTION: result.error_description = copy(value); break;
    case CONNECTOR_FIELD_DESCRIPTOR: result.descriptor_json = copy(value); break;
    case CONNECTOR_FIELD_ALLOWED_HOST: result.allowed_hosts.push_back(copy(value)); break;
    case CONNECTOR_FIELD_ISSUER: result.issuer = copy(value); break;
    case CONNECTOR_FIELD_AUTHORIZATION_URL: result.authorization_url = copy(value); break;
    case CONNECTOR_FIELD_REQUEST_METHOD: result.request.method = copy(value); break;
    case CONNECTOR_FIELD_REQUEST_URL: result.request.url = copy(value); break;
    case CONNECTOR_FIELD_REQUEST_BODY: result.request.body = copy(value); break;
    case CONNECTOR_FIELD_CONTINUATION: result.continuation = copy(value); break;
    case CONNECTOR_FIELD_ACCESS_TOKEN: result.access_token = copy(value); break;
    case CONNECTOR_FIELD_REFRESH_TOKEN: result.refresh_token = copy(value); break;
    case CONNECTOR_FIELD_TOKEN_TYPE: result.token_type = copy(value); break;
    case CONNECTOR_FIELD_GRANTED_SCOPE: result.granted_scopes.push_back(copy(value)); break;
    case CONNECTOR_FIELD_ACCOUNT_ID: result.account_id = copy(value); break;
    case CONNECTOR_FIELD_ACCOUNT_NAME: result.account_name = copy(value); break;
    case CONNECTOR_FIELD_METADATA: result.metadata_json = copy(value); break;
    default: break; // a field from a newer minor version: ignored
    }
  } catch (...) {
  }
}

void ResultWriter::set_integer(void* context, uint32_t field, int64_t value) {
  auto& result = static_cast<ResultWriter*>(context)->result_;
  switch (field) {
  case CONNECTOR_FIELD_EXPIRES_IN: result.expires_in = value; break;
  case CONNECTOR_FIELD_REFRESH_TOKEN_EXPIRES_IN: result.refresh_token_expires_in = value; break;
  default: break;
  }
}

void ResultWriter::add_request_header(void* context, connector_str name, connector_str value) {
  try {
    static_cast<ResultWriter*>(context)->result_.request.headers.emplace_back(copy(name), copy(value));
  } catch (...) {
  }
}

} // namespace connector::core
