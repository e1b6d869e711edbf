#include "crypto/random.hpp"
#include "crypto/sealer.hpp"

#include <gtest/gtest.h>

#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

using namespace connector::core;
namespace fs = std::filesystem;

namespace {

constexpr std::string_view kAssociated = "source:src_123:credentials";

std::span<const uint8_t> view(const std::vector<uint8_t>& bytes) { return {bytes.data(), bytes.size()}; }

Sealer make_sealer(std::initializer_list<uint32_t> ids) {
  std::vector<SealingKey> ring;
  for (uint32_t id : ids)
    ring.push_back(SealingKey{id, random_bytes(32)});
  return Sealer(std::move(ring));
}

// A fresh directory per test, removed afterwards.
class SealerKeyFile : public ::testing::Test {
protected:
  void SetUp() override {
    directory_ = fs::temp_directory_path() / ("sealer-test-" + random_token(64));
    fs::create_directories(directory_);
  }
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(directory_, ignored);
  }
  static unsigned mode_of(const fs::path& path) {
    struct stat status {};
    EXPECT_EQ(::stat(path.c_str(), &status), 0) << path;
    return status.st_mode & 07777U;
  }
  static std::string read_text(const fs::path& path) {
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }
  static void write_text(const fs::path& path, const std::string& text, fs::perms perms) {
    std::ofstream(path) << text;
    fs::permissions(path, perms);
  }
  static std::string what_of(const std::function<void()>& action) {
    try {
      action();
    } catch (const std::runtime_error& error) {
      return error.what();
    }
    ADD_FAILURE() << "no std::runtime_error thrown";
    return {};
  }

  fs::path directory_;
};

} // namespace

TEST(Sealer, RoundTripsWithTheSameAssociatedData) {
  const Sealer sealer = make_sealer({7});
  const std::string secret = "{\"access_token\":\"gho_abc\",\"refresh_token\":\"ghr_def\"}";
  const std::vector<uint8_t> envelope = sealer.seal(secret, kAssociated);

  ASSERT_EQ(envelope.size(), 1 + 4 + 12 + secret.size() + 16);
  EXPECT_EQ(envelope[0], 0x01);
  EXPECT_EQ(envelope[1], 0);
  EXPECT_EQ(envelope[4], 7); // key id, big-endian
  EXPECT_EQ(std::string(envelope.begin(), envelope.end()).find("gho_abc"), std::string::npos);

  const auto opened = sealer.open(view(envelope), kAssociated);
  ASSERT_TRUE(opened.has_value());
  EXPECT_EQ(*opened, secret);
}

TEST(Sealer, RoundTripsEmptyAndLargePlaintexts) {
  const Sealer sealer = make_sealer({1});
  EXPECT_EQ(sealer.open(view(sealer.seal("", kAssociated)), kAssociated), std::string());
  const std::string large(1 << 20, 'x');
  EXPECT_EQ(sealer.open(view(sealer.seal(large, "")), ""), large);
}

TEST(Sealer, RefusesOtherAssociatedData) {
  const Sealer sealer = make_sealer({1});
  const auto envelope = sealer.seal("secret", kAssociated);
  EXPECT_FALSE(sealer.open(view(envelope), "source:src_124:credentials").has_value());
  EXPECT_FALSE(sealer.open(view(envelope), "").has_value());
}

TEST(Sealer, RefusesAnEnvelopeWithAnyByteChanged) {
  const Sealer sealer = make_sealer({1});
  const auto envelope = sealer.seal("a secret worth protecting", kAssociated);
  for (std::size_t i = 0; i < envelope.size(); ++i) {
    for (uint8_t flip : {uint8_t{0x01}, uint8_t{0x80}}) {
      auto damaged = envelope;
      damaged[i] = static_cast<uint8_t>(damaged[i] ^ flip);
      EXPECT_FALSE(sealer.open(view(damaged), kAssociated).has_value()) << "byte " << i;
    }
  }
}

TEST(Sealer, RefusesTruncatedExtendedAndEmptyEnvelopes) {
  const Sealer sealer = make_sealer({1});
  const auto envelope = sealer.seal("secret", kAssociated);
  for (std::size_t size = 0; size < envelope.size(); ++size) {
    const std::vector<uint8_t> truncated(envelope.begin(), envelope.begin() + static_cast<std::ptrdiff_t>(size));
    EXPECT_FALSE(sealer.open(view(truncated), kAssociated).has_value()) << "size " << size;
  }
  auto extended = envelope;
  extended.push_back(0);
  EXPECT_FALSE(sealer.open(view(extended), kAssociated).has_value());
}

TEST(Sealer, RefusesAnUnknownKeyId) {
  const Sealer writer = make_sealer({1});
  const Sealer reader = make_sealer({2});
  EXPECT_FALSE(reader.open(view(writer.seal("secret", kAssociated)), kAssociated).has_value());
}

TEST(Sealer, RefusesTheRightIdWithTheWrongKey) {
  const Sealer writer = make_sealer({1});
  const Sealer impostor = make_sealer({1});
  EXPECT_FALSE(impostor.open(view(writer.seal("secret", kAssociated)), kAssociated).has_value());
}

TEST(Sealer, SealsWithTheHighestIdAndOpensWithEveryKey) {
  const Sealer old_ring = make_sealer({3});
  std::vector<SealingKey> ring;
  ring.push_back(SealingKey{9, random_bytes(32)});
  ring.push_back(SealingKey{4, random_bytes(32)});
  const Sealer single({SealingKey{4, ring[1].bytes}});
  const Sealer both(std::move(ring));
  EXPECT_EQ(both.current_key_id(), 9U);
  const auto old_envelope = single.seal("old", kAssociated);
  EXPECT_EQ(both.open(view(old_envelope), kAssociated), "old");
  EXPECT_EQ(both.seal("new", kAssociated)[4], 9);
  EXPECT_FALSE(old_ring.open(view(old_envelope), kAssociated).has_value());
}

TEST(Sealer, UsesAFreshNonceForEverySeal) {
  const Sealer sealer = make_sealer({1});
  std::set<std::vector<uint8_t>> nonces;
  std::set<std::vector<uint8_t>> envelopes;
  for (int i = 0; i < 200; ++i) {
    const auto envelope = sealer.seal("same plaintext", kAssociated);
    nonces.emplace(envelope.begin() + 5, envelope.begin() + 17);
    envelopes.insert(envelope);
  }
  EXPECT_EQ(nonces.size(), 200U);
  EXPECT_EQ(envelopes.size(), 200U);
}

// Each Sealer keeps its own keyed contexts: Sealers taking turns on one thread must each seal
// with their own key.
TEST(Sealer, SealersTakingTurnsOnOneThreadEachSealWithTheirOwnKey) {
  const Sealer first = make_sealer({1});
  const Sealer second = make_sealer({1}); // the same id, another key
  for (int turn = 0; turn < 3; ++turn) {
    const auto from_first = first.seal("one", kAssociated);
    const auto from_second = second.seal("two", kAssociated);
    EXPECT_EQ(first.open(view(from_first), kAssociated), "one");
    EXPECT_EQ(second.open(view(from_second), kAssociated), "two");
    EXPECT_FALSE(second.open(view(from_first), kAssociated).has_value());
    EXPECT_FALSE(first.open(view(from_second), kAssociated).has_value());
  }
}

// A Sealer made where a destroyed one lived (the same address, the same key id) must not
// inherit a context keyed for the old one.
TEST(Sealer, ASealerInTheStorageOfADestroyedOneSealsWithItsOwnKey) {
  std::optional<Sealer> slot;
  slot.emplace(make_sealer({7}));
  const std::string old_key = random_bytes(32);
  slot.emplace(std::vector<SealingKey>{SealingKey{7, old_key}});
  const auto from_old = slot->seal("old", kAssociated);
  const std::string new_key = random_bytes(32);
  slot.emplace(std::vector<SealingKey>{SealingKey{7, new_key}});
  const auto from_new = slot->seal("new", kAssociated);
  EXPECT_EQ(slot->open(view(from_new), kAssociated), "new");
  EXPECT_FALSE(slot->open(view(from_old), kAssociated).has_value());
  const Sealer old_again({SealingKey{7, old_key}});
  EXPECT_FALSE(old_again.open(view(from_new), kAssociated).has_value());
  EXPECT_EQ(old_again.open(view(from_old), kAssociated), "old");
}

TEST(Sealer, SealsFromManyThreadsAtOnce) {
  const Sealer sealer = make_sealer({2});
  std::vector<std::vector<std::vector<uint8_t>>> sealed(4);
  std::vector<std::thread> threads;
  threads.reserve(sealed.size());
  for (auto& mine : sealed) {
    threads.emplace_back([&sealer, &mine] {
      for (int i = 0; i < 200; ++i)
        mine.push_back(sealer.seal("secret " + std::to_string(i), kAssociated));
    });
  }
  for (auto& thread : threads)
    thread.join();
  for (const auto& mine : sealed) {
    ASSERT_EQ(mine.size(), 200U);
    for (std::size_t i = 0; i < mine.size(); ++i)
      EXPECT_EQ(sealer.open(view(mine[i]), kAssociated), "secret " + std::to_string(i));
  }
}

TEST(Sealer, RefusesBadRings) {
  EXPECT_THROW(Sealer(std::vector<SealingKey>{}), std::invalid_argument);
  EXPECT_THROW(Sealer({SealingKey{1, random_bytes(16)}}), std::invalid_argument);
  EXPECT_THROW(Sealer({SealingKey{1, random_bytes(32)}, SealingKey{1, random_bytes(32)}}), std::invalid_argument);
}

TEST(Sealer, MovesKeepTheKeys) {
  Sealer first = make_sealer({5});
  const auto envelope = first.seal("secret", kAssociated);
  Sealer second(std::move(first));
  EXPECT_EQ(second.open(view(envelope), kAssociated), "secret");
  Sealer third = make_sealer({6});
  third = std::move(second);
  EXPECT_EQ(third.open(view(envelope), kAssociated), "secret");
  EXPECT_EQ(third.current_key_id(), 5U);
  // The moved-to Sealer seals with the keys it took.
  EXPECT_EQ(third.open(view(third.seal("again", kAssociated)), kAssociated), "again");
}

TEST_F(SealerKeyFile, CreatesAMissingFileWithMode0600AndPrivateDirectories) {
  const fs::path file = directory_ / "nested" / "deeper" / "keys";
  const Sealer sealer = Sealer::from_key_file(file, true);
  EXPECT_EQ(mode_of(file), 0600U);
  EXPECT_EQ(mode_of(directory_ / "nested"), 0700U);
  EXPECT_EQ(mode_of(directory_ / "nested" / "deeper"), 0700U);
  EXPECT_EQ(sealer.current_key_id(), 1U);

  // The same file read again opens what the first sealer sealed.
  const Sealer again = Sealer::from_key_file(file, false);
  EXPECT_EQ(again.open(view(sealer.seal("secret", kAssociated)), kAssociated), "secret");
}

TEST_F(SealerKeyFile, RefusesAMissingFileWithoutCreateIfMissing) {
  const fs::path file = directory_ / "absent";
  const std::string message = what_of([&] { Sealer::from_key_file(file, false); });
  EXPECT_NE(message.find(file.string()), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(file));
}

TEST_F(SealerKeyFile, RefusesFilesOpenToGroupOrOthers) {
  const fs::path file = directory_ / "keys";
  Sealer::from_key_file(file, true);
  const std::string key_text = read_text(file);
  for (const fs::perms extra :
       {fs::perms::group_read, fs::perms::others_read, fs::perms::group_write, fs::perms::others_exec}) {
    fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write | extra);
    for (const bool create : {false, true}) {
      const std::string message = what_of([&] { Sealer::from_key_file(file, create); });
      EXPECT_NE(message.find(file.string()), std::string::npos) << message;
      EXPECT_NE(message.find("group or others"), std::string::npos) << message;
    }
    EXPECT_THROW(Sealer::add_key_to_file(file), std::runtime_error);
  }
  EXPECT_EQ(read_text(file), key_text); // nothing was rewritten
}

TEST_F(SealerKeyFile, ReadsCommentsBlankLinesAndSeveralKeys) {
  const fs::path file = directory_ / "keys";
  const std::string key_a(32, 'a');
  const std::string key_b(32, 'b');
  write_text(file,
             "# rotated 2024-01-01\n\n"
             "1:YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE=\r\n"
             "  # old key above, new key below\n"
             "2 : YmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmI=",
             fs::perms::owner_read | fs::perms::owner_write);
  const Sealer from_file = Sealer::from_key_file(file, false);
  EXPECT_EQ(from_file.current_key_id(), 2U);
  const Sealer old_key({SealingKey{1, key_a}});
  const Sealer new_key({SealingKey{2, key_b}});
  EXPECT_EQ(from_file.open(view(old_key.seal("a", kAssociated)), kAssociated), "a");
  EXPECT_EQ(new_key.open(view(from_file.seal("b", kAssociated)), kAssociated), "b");
}

TEST_F(SealerKeyFile, RefusesMalformedFilesWithoutQuotingTheKeys) {
  const fs::path file = directory_ / "keys";
  const std::string valid_key = "YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE=";
  const std::string short_key = "c2hvcnRzaG9ydHNob3J0";
  for (const std::string& text :
       {std::string("# only a comment\n"), std::string(""), "1" + valid_key + "\n", "x:" + valid_key + "\n",
        "-1:" + valid_key + "\n", "4294967296:" + valid_key + "\n", "1:" + short_key + "\n",
        "1:" + valid_key.substr(0, 43) + "!\n", "1:" + valid_key + "\n1:" + valid_key + "\n"}) {
    write_text(file, text, fs::perms::owner_read | fs::perms::owner_write);
    const std::string message = what_of([&] { Sealer::from_key_file(file, true); });
    EXPECT_NE(message.find(file.string()), std::string::npos) << message;
    EXPECT_EQ(message.find(valid_key.substr(0, 12)), std::string::npos) << message;
    EXPECT_EQ(message.find(short_key.substr(0, 12)), std::string::npos) << message;
  }
}

TEST_F(SealerKeyFile, RotationKeepsOldEnvelopesOpenAndSealsWithTheNewKey) {
  const fs::path file = directory_ / "keys";
  const Sealer before = Sealer::from_key_file(file, true);
  const auto old_envelope = before.seal("old secret", kAssociated);

  EXPECT_EQ(Sealer::add_key_to_file(file), 2U);
  EXPECT_EQ(mode_of(file), 0600U);
  const Sealer after = Sealer::from_key_file(file, false);
  EXPECT_EQ(after.current_key_id(), 2U);
  EXPECT_EQ(after.open(view(old_envelope), kAssociated), "old secret");
  const auto new_envelope = after.seal("new secret", kAssociated);
  EXPECT_EQ(new_envelope[4], 2);
  EXPECT_EQ(Sealer::key_id_of(view(new_envelope)), 2U);
  // A Sealer read from the file before the rotation finds the new key there (another replica
  // rotated); it seals with the key it had until it reloads.
  EXPECT_EQ(before.open(view(new_envelope), kAssociated), "new secret");
  EXPECT_EQ(before.current_key_id(), 2U) << "it took the file's ring";

  EXPECT_EQ(Sealer::add_key_to_file(file), 3U);
  EXPECT_EQ(Sealer::from_key_file(file, false).current_key_id(), 3U);
  // No temporary file is left beside the key file.
  EXPECT_EQ(std::distance(fs::directory_iterator(directory_), fs::directory_iterator{}), 1);
}

TEST_F(SealerKeyFile, RotationKeepsCommentsAndAddsAMissingFinalNewline) {
  const fs::path file = directory_ / "keys";
  write_text(file, "# keep me\n7:YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE=",
             fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_EQ(Sealer::add_key_to_file(file), 8U);
  const std::string text = read_text(file);
  EXPECT_EQ(text.rfind("# keep me\n7:YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE=\n8:", 0), 0U) << text;
  EXPECT_EQ(Sealer::from_key_file(file, false).current_key_id(), 8U);
}

TEST_F(SealerKeyFile, RotationRefusesAMissingFile) {
  const fs::path file = directory_ / "absent";
  const std::string message = what_of([&] { Sealer::add_key_to_file(file); });
  EXPECT_NE(message.find(file.string()), std::string::npos) << message;
  EXPECT_FALSE(fs::exists(file));
}

TEST_F(SealerKeyFile, AReloadTakesTheFilesKeysAndABrokenFileKeepsTheRing) {
  const fs::path file = directory_ / "keys";
  Sealer sealer = Sealer::from_key_file(file, true);
  const auto first = sealer.seal("first", kAssociated);
  Sealer::add_key_to_file(file);
  EXPECT_EQ(sealer.reload_key_file(), (std::vector<uint32_t>{2, 1}));
  EXPECT_EQ(sealer.current_key_id(), 2U);
  EXPECT_EQ(Sealer::key_id_of(view(sealer.seal("second", kAssociated))), 2U);

  const std::string good = read_text(file);
  write_text(file, "2:not base64\n", fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_THROW(sealer.reload_key_file(), std::runtime_error);
  EXPECT_EQ(sealer.key_ids(), (std::vector<uint32_t>{2, 1}));
  EXPECT_EQ(sealer.open(view(first), kAssociated), "first");
  EXPECT_THROW(make_sealer({1}).reload_key_file(), std::logic_error) << "not read from a file";
}

TEST_F(SealerKeyFile, ALookForAnUnknownKeyReadsTheFileAtMostOnceASecond) {
  const fs::path file = directory_ / "keys";
  const Sealer writer = Sealer::from_key_file(file, true);
  const Sealer reader = Sealer::from_key_file(file, false);
  EXPECT_FALSE(reader.open(view(make_sealer({9}).seal("elsewhere", kAssociated)), kAssociated)); // looked: no key 9
  Sealer::add_key_to_file(file);
  const Sealer rotated = Sealer::from_key_file(file, false);
  const auto envelope = rotated.seal("after rotation", kAssociated);
  EXPECT_FALSE(reader.open(view(envelope), kAssociated)) << "the last look is less than a second old";
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  EXPECT_EQ(reader.open(view(envelope), kAssociated), "after rotation");
  EXPECT_TRUE(reader.has_key(2));
}

TEST_F(SealerKeyFile, RetiringRemovesOneKeyButNeverTheCurrentOneOrAnAbsentOne) {
  const fs::path file = directory_ / "keys";
  write_text(file,
             "# keep me\n7:YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE=\n"
             "8:YmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmI=\n",
             fs::perms::owner_read | fs::perms::owner_write);
  EXPECT_NE(what_of([&] { Sealer::remove_key_from_file(file, 8); }).find("is the current key"), std::string::npos);
  EXPECT_NE(what_of([&] { Sealer::remove_key_from_file(file, 5); }).find("holds no key 5"), std::string::npos);
  Sealer::remove_key_from_file(file, 7);
  EXPECT_EQ(read_text(file), "# keep me\n8:YmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmI=\n");
  EXPECT_EQ(mode_of(file), 0600U);
  EXPECT_EQ(Sealer::from_key_file(file, false).key_ids(), (std::vector<uint32_t>{8}));
}
