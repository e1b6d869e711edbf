// The values the Google Sheets suites share: the plugin's own (google_sheets_provider_test.cpp,
// which also runs on Windows) and what the host checks of it (google_sheets_host_checks_test.cpp).
#pragma once

#include <nlohmann/json.hpp>

namespace connector::testing::google_sheets {

constexpr const char* kClientId = "test_client_id";
// Distinctive, so that a test can prove it never shows up in an error message.
constexpr const char* kClientSecret = "GOCSPX-s3cr3t-never-in-messages";

constexpr const char* kSheetsScope = "https://www.googleapis.com/auth/spreadsheets.readonly";
constexpr const char* kDriveScope = "https://www.googleapis.com/auth/drive.readonly";

// The least settings a provider is made from.
inline nlohmann::json base_settings() {
  return nlohmann::json{{"client_id", kClientId}, {"client_secret", kClientSecret}};
}

} // namespace connector::testing::google_sheets
