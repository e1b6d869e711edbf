// The ABI's layout, checked from C++ as well (the C side is pinned in abi_header_as_c.c).
#include <connector/abi.h>

#include <gtest/gtest.h>

#include <cstddef>

extern "C" size_t connector_abi_c_table_size(void);

TEST(AbiLayout, TablesStartWithTheirSize) {
  EXPECT_EQ(offsetof(connector_plugin_api, struct_size), 0U);
  EXPECT_EQ(offsetof(connector_host_api, struct_size), 0U);
  EXPECT_EQ(offsetof(connector_writer, struct_size), 0U);
  EXPECT_EQ(offsetof(connector_flow_input, struct_size), 0U);
  EXPECT_EQ(offsetof(connector_http_response, struct_size), 0U);
}

TEST(AbiLayout, Lp64SizesAndOffsetsAreFixed) {
  if (sizeof(void*) != 8) GTEST_SKIP() << "layout pinned for LP64 only";
  EXPECT_EQ(sizeof(connector_str), 16U);
  EXPECT_EQ(sizeof(connector_plugin_api), 72U);
  EXPECT_EQ(offsetof(connector_plugin_api, describe), 8U);
  EXPECT_EQ(offsetof(connector_plugin_api, provider_create), 16U);
  EXPECT_EQ(offsetof(connector_plugin_api, provider_destroy), 24U);
  EXPECT_EQ(offsetof(connector_plugin_api, authorization_url), 32U);
  EXPECT_EQ(offsetof(connector_plugin_api, exchange_code), 40U);
  EXPECT_EQ(offsetof(connector_plugin_api, refresh), 48U);
  EXPECT_EQ(offsetof(connector_plugin_api, revoke), 56U);
  EXPECT_EQ(offsetof(connector_plugin_api, check), 64U);
  EXPECT_EQ(sizeof(connector_host_api), 24U);
  EXPECT_EQ(offsetof(connector_host_api, log), 16U);
  // ABI 1.0's input ended at 152 bytes; 1.1 appended the grant's metadata and the redirect's parameters.
  EXPECT_EQ(offsetof(connector_flow_input, options_json), 120U);
  EXPECT_EQ(offsetof(connector_flow_input, metadata_json), 152U);
  EXPECT_EQ(offsetof(connector_flow_input, callback_parameters_json), 168U);
  EXPECT_EQ(sizeof(connector_flow_input), 184U);
  EXPECT_EQ(sizeof(connector_writer), 40U);
  EXPECT_EQ(sizeof(connector_http_response), 40U);
}

TEST(AbiLayout, CAndCxxAgreeOnTheTable) {
  // The C translation unit computes sizeof(table) + two enum values with its own compiler.
  EXPECT_EQ(connector_abi_c_table_size(),
            sizeof(connector_plugin_api) + CONNECTOR_STATUS_REFUSED + CONNECTOR_FIELD_METADATA);
}

TEST(AbiLayout, VersionAndSymbolAreWhatPluginsExport) {
  EXPECT_EQ(CONNECTOR_ABI_VERSION_MAJOR, 1);
  EXPECT_STREQ(CONNECTOR_NEGOTIATE_SYMBOL, "connector_plugin_negotiate");
}
