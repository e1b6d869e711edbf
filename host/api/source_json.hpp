// The JSON shape of a source in API answers (GET sources, the callback's answer, …): never a
// secret, only what the record says about its grant and its refreshes.
#pragma once

#include "store/records.hpp"

#include <nlohmann/json.hpp>

namespace connector::host {

nlohmann::json source_to_json(const core::SourceRecord& source);

} // namespace connector::host
