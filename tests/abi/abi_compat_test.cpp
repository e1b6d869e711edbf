// The minor-version promise of the ABI, checked with the host's own loader: a plugin built
// against an older minor keeps loading and working on a newer host, entries it does not have
// are absent rather than garbage, and nothing shorter than the 1.0 table is taken for a plugin.
//
// ABI 1.0 is the first version, so there is no older minor to build against yet. abi-1-0.so
// (tests/test-plugins/abi_1_0_table.cpp) is the stand-in: it carries its own frozen copy of the
// 1.0 table and reports minor 0, so the day a member is appended it is, unchanged, a plugin with
// a smaller table than the host's. The newer-host side of that, which no real host can play
// yet, is played by the SDK's fake host offering a longer table and a later minor.
#include "plugins/loaded_plugin.hpp"
#include "support/plugin_loading.hpp"

#include <connector/plugin.hpp>
#include <connector/testing/fake_host.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

using connector::core::FlowParams;
using connector::core::LoadedPlugin;
using connector::core::Operation;
using connector::core::ProviderAnswer;
using connector::sdk::testing::kAbi10PluginTableSize;
using connector::testing::module_file_name;
using connector::testing::test_plugin_dir;
using ::testing::HasSubstr;

namespace {

std::filesystem::path abi_1_0_module() { return test_plugin_dir() / module_file_name("abi-1-0"); }

} // namespace

TEST(AbiCompatibility, TheOneZeroTableEndsAfterCheck) {
  EXPECT_EQ(kAbi10PluginTableSize, offsetof(connector_plugin_api, check) + sizeof(void*));
  EXPECT_LE(kAbi10PluginTableSize, sizeof(connector_plugin_api)) << "tables only grow";
}

TEST(AbiCompatibility, TheHostLoadsAPluginThatKnowsOnlyTheOneZeroTable) {
  const auto outcome = LoadedPlugin::load(abi_1_0_module());
  ASSERT_TRUE(outcome.module) << outcome.refusal;
  const LoadedPlugin& module = *outcome.module;
  EXPECT_EQ(module.abi_major(), 1);
  EXPECT_EQ(module.abi_minor(), 0);
  EXPECT_EQ(module.table().struct_size, kAbi10PluginTableSize);
  EXPECT_EQ(module.descriptor().slug, "abi-1-0");

  // Whatever the host's table has past the plugin's struct_size reads as zero (none today).
  const auto* bytes = reinterpret_cast<const unsigned char*>(&module.table());
  for (std::size_t at = module.table().struct_size; at < sizeof(connector_plugin_api); ++at)
    EXPECT_EQ(bytes[at], 0) << "byte " << at << " past the plugin's table";
}

TEST(AbiCompatibility, TheHostUsesItForAWholeCodeExchange) {
  const auto outcome = LoadedPlugin::load(abi_1_0_module());
  ASSERT_TRUE(outcome.module) << outcome.refusal;
  const auto created = outcome.module->create_provider("{}");
  ASSERT_TRUE(created.instance) << created.result.error_description;
  EXPECT_EQ(created.instance->allowed_hosts(), std::vector<std::string>{"abi10.example"});

  FlowParams params;
  params.state = "st";
  params.code = "c0de";
  const auto url = created.instance->authorization_url(params);
  ASSERT_TRUE(url.ok()) << url.error_description;
  EXPECT_EQ(url.authorization_url, "https://abi10.example/authorize?state=st");

  const auto first = created.instance->step(Operation::exchange_code, params, nullptr);
  ASSERT_EQ(first.status, CONNECTOR_STATUS_SEND_REQUEST) << first.error_description;
  EXPECT_EQ(first.request.method, "POST");
  EXPECT_EQ(first.request.url, "https://abi10.example/token");
  EXPECT_EQ(first.request.body, "code=c0de");

  ProviderAnswer answer;
  answer.status = 200;
  answer.body = "token-from-1.0";
  const auto done = created.instance->step(Operation::exchange_code, params, &answer);
  ASSERT_TRUE(done.ok()) << done.error_description;
  EXPECT_EQ(done.access_token, "token-from-1.0");
  EXPECT_EQ(done.token_type, "bearer");
}

TEST(AbiCompatibility, EntriesThePluginLacksAreAbsentNotCalled) {
  const auto outcome = LoadedPlugin::load(abi_1_0_module());
  ASSERT_TRUE(outcome.module) << outcome.refusal;
  const auto created = outcome.module->create_provider("{}");
  ASSERT_TRUE(created.instance);
  for (const Operation operation : {Operation::refresh, Operation::revoke, Operation::check}) {
    const auto result = created.instance->step(operation, {}, nullptr);
    EXPECT_EQ(result.status, CONNECTOR_STATUS_UNSUPPORTED) << connector::core::operation_name(operation);
    EXPECT_THAT(result.error_description, HasSubstr("not offered by this plugin"));
  }
}

// A table that stops inside the 1.0 layout is no 1.x plugin at all: refused, with the sizes.
TEST(AbiCompatibility, TheHostRefusesATableShorterThanOneZero) {
  const auto file = test_plugin_dir() / module_file_name("short-table");
  const auto outcome = LoadedPlugin::load(file);
  EXPECT_FALSE(outcome.module);
  EXPECT_THAT(outcome.refusal, HasSubstr(file.string()));
  EXPECT_THAT(outcome.refusal,
              HasSubstr("plugin table size " + std::to_string(offsetof(connector_plugin_api, refresh))));
}

// The other direction of "tables only grow": a host of a later minor offers more room than the
// plugin knows. The fake host plays it, with a guard band that must stay untouched.
TEST(AbiCompatibility, ANewerHostSeesOnlyTheOneZeroTable) {
  connector::sdk::testing::HostOptions newer;
  newer.abi_minor = CONNECTOR_ABI_VERSION_MINOR + 1;
  newer.plugin_table_room = static_cast<uint32_t>(sizeof(connector_plugin_api) + 64);
  auto host = connector::sdk::testing::FakeHost::load(abi_1_0_module().string(), newer);
  EXPECT_EQ(host.table().struct_size, kAbi10PluginTableSize);
  EXPECT_EQ(host.table().abi_minor, 0);
  EXPECT_TRUE(host.table().refresh == nullptr);

  const auto provider = host.create();
  ASSERT_TRUE(provider.ok()) << provider.result().summary();
  host.respond(200, "newer-host-token", {});
  connector::sdk::FlowInput input;
  input.code = "c";
  const auto tokens = provider.exchange_code(input);
  ASSERT_TRUE(tokens.ok()) << tokens.summary();
  EXPECT_EQ(tokens.access_token, "newer-host-token");
  ASSERT_EQ(host.logs().size(), 1U) << "the plugin logs through the newer host's table";
  EXPECT_EQ(host.logs()[0].message, "abi-1-0 exchanged a code");
  EXPECT_EQ(provider.refresh(input).status, CONNECTOR_STATUS_UNSUPPORTED);
}

namespace {

class TinyProvider : public connector::sdk::IOAuthProvider {
public:
  static connector::sdk::Descriptor describe() {
    connector::sdk::Descriptor d;
    d.slug = "tiny";
    d.display_name = "Tiny";
    d.source_definitions = {{"00000000-0000-4000-8000-00000000717e", "Tiny"}};
    return d;
  }
  static std::unique_ptr<IOAuthProvider> create(const nlohmann::json&) { return std::make_unique<TinyProvider>(); }
  std::vector<std::string> allowed_hosts() const override { return {}; }
  std::string authorization_url(const connector::sdk::FlowInput&) const override { return "https://tiny.example/"; }
  connector::sdk::Step<connector::sdk::TokenSet> exchange_code(const connector::sdk::FlowInput&,
                                                               const connector::sdk::HttpResponse*) const override {
    return unsupported("exchange_code");
  }
};

} // namespace

// And a plugin built with a newer SDK on an older host: the SDK's negotiation fills no more
// than the room the host offered and says so in struct_size.
TEST(AbiCompatibility, AnSdkPluginFillsNoMoreThanTheHostOffers) {
  const auto negotiate = &connector::sdk::detail::Thunks<TinyProvider>::negotiate;
  static connector_host_api host{}; // the SDK keeps the host table for the life of the plugin
  host.struct_size = sizeof host;
  host.abi_major = CONNECTOR_ABI_VERSION_MAJOR;
  host.abi_minor = 0;

  // Room for the table up to exchange_code; everything after it is a guard band.
  constexpr std::size_t room = offsetof(connector_plugin_api, refresh);
  std::vector<connector_plugin_api> buffer(2);
  auto* bytes = reinterpret_cast<unsigned char*>(buffer.data());
  std::memset(bytes, 0, room);
  std::memset(bytes + room, 0xA5, buffer.size() * sizeof(connector_plugin_api) - room);
  buffer[0].struct_size = static_cast<uint32_t>(room);
  ASSERT_EQ(negotiate(&host, buffer.data()), CONNECTOR_STATUS_OK);

  EXPECT_EQ(buffer[0].struct_size, room);
  EXPECT_TRUE(buffer[0].exchange_code != nullptr);
  for (std::size_t at = room; at < buffer.size() * sizeof(connector_plugin_api); ++at)
    ASSERT_EQ(bytes[at], 0xA5) << "the plugin wrote byte " << at << " past the room it was offered";
}
