// The ELF checks made before a plugin is loaded, on real modules and on hostile bytes: every
// answer comes back, whatever the bytes say (under the sanitizer build, no read strays).
#include "plugins/plugin_file_check.hpp"
#include "support/plugin_loading.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <elf.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

using connector::core::elf_plugin_problem;
using connector::testing::module_file_name;
using connector::testing::plugin_dir;
using connector::testing::test_plugin_dir;
using ::testing::HasSubstr;

namespace {

std::string file_bytes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// Where the dynamic segment lies in `bytes` (offset, size); {0, 0} when there is none.
std::pair<std::size_t, std::size_t> dynamic_segment(const std::string& bytes) {
  Elf64_Ehdr header{};
  std::memcpy(&header, bytes.data(), sizeof header);
  for (unsigned i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr segment{};
    std::memcpy(&segment, bytes.data() + header.e_phoff + i * sizeof segment, sizeof segment);
    if (segment.p_type == PT_DYNAMIC) return {segment.p_offset, segment.p_filesz};
  }
  return {0, 0};
}

// Changes 1-4 bytes at a time where the checks read (the headers, the dynamic segment, the
// symbol and hash tables near the start) and cuts the file short; each answer must come back.
void survives_mutations(const std::string& original, unsigned seed, int rounds) {
  std::string bytes = original;
  std::mt19937 random(seed);
  const auto [dynamic_at, dynamic_size] = dynamic_segment(original);
  const std::size_t front = std::min<std::size_t>(original.size(), 32 * 1024);
  for (int round = 0; round < rounds; ++round) {
    const int changes = 1 + static_cast<int>(random() % 4);
    std::vector<std::size_t> touched;
    for (int i = 0; i < changes; ++i) {
      std::size_t at = random() % front;
      if (random() % 2 == 0 && dynamic_size > 0) at = dynamic_at + random() % dynamic_size;
      touched.push_back(at);
      bytes[at] = random() % 3 == 0 ? '\xff' : static_cast<char>(random());
    }
    const std::size_t length = random() % 8 == 0 ? random() % original.size() : original.size();
    (void)elf_plugin_problem(std::string_view(bytes).substr(0, length));
    for (const std::size_t at : touched)
      bytes[at] = original[at];
  }
}

} // namespace

TEST(PluginFileCheck, AcceptsTheInTreePluginsAndBothKindsOfSymbolHashTable) {
  for (const auto& file : {plugin_dir() / module_file_name("github"), plugin_dir() / module_file_name("google-sheets"),
                           test_plugin_dir() / module_file_name("sysv-hash")}) {
    const std::string bytes = file_bytes(file);
    ASSERT_FALSE(bytes.empty()) << file;
    const auto problem = elf_plugin_problem(bytes);
    EXPECT_FALSE(problem) << file << ": " << *problem;
  }
}

TEST(PluginFileCheck, FindsAMissingExportThroughEitherHashTable) {
  EXPECT_THAT(elf_plugin_problem(file_bytes(test_plugin_dir() / module_file_name("missing-symbol"))).value_or(""),
              HasSubstr("does not export connector_plugin_negotiate"));
  // The SysV build with the name's last letter changed in its string table: the table no
  // longer holds the symbol by that name.
  std::string sysv = file_bytes(test_plugin_dir() / module_file_name("sysv-hash"));
  const std::string name = "connector_plugin_negotiate";
  const std::size_t at = sysv.find(name + '\0');
  ASSERT_NE(at, std::string::npos);
  sysv[at + name.size() - 1] = 'X';
  EXPECT_THAT(elf_plugin_problem(sysv).value_or(""), HasSubstr("does not export connector_plugin_negotiate"));
}

TEST(PluginFileCheck, AnswersOnDamagedAndTruncatedFiles) {
  survives_mutations(file_bytes(test_plugin_dir() / module_file_name("marked")), 1, 20000);
  survives_mutations(file_bytes(test_plugin_dir() / module_file_name("sysv-hash")), 2, 20000);
}

TEST(PluginFileCheck, RefusesAChainThatRunsPastItsSegment) {
  // Every word of the GNU hash table's chains without the end bit, and every hash matching
  // nothing: the walk must stop at the end of the segment, not run on.
  std::string bytes = file_bytes(test_plugin_dir() / module_file_name("marked"));
  const auto [dynamic_at, dynamic_size] = dynamic_segment(bytes);
  ASSERT_GT(dynamic_size, 0U);
  uint64_t gnu_hash = 0;
  for (std::size_t at = dynamic_at; at + sizeof(Elf64_Dyn) <= dynamic_at + dynamic_size; at += sizeof(Elf64_Dyn)) {
    Elf64_Dyn entry{};
    std::memcpy(&entry, bytes.data() + at, sizeof entry);
    if (entry.d_tag == DT_GNU_HASH) gnu_hash = entry.d_un.d_ptr;
  }
  ASSERT_NE(gnu_hash, 0U);
  // In these modules the first loaded segment starts at offset 0 and address 0.
  uint32_t buckets = 0, first = 0, bloom = 0;
  std::memcpy(&buckets, bytes.data() + gnu_hash, 4);
  std::memcpy(&first, bytes.data() + gnu_hash + 4, 4);
  std::memcpy(&bloom, bytes.data() + gnu_hash + 8, 4);
  const std::size_t chains = gnu_hash + 16 + std::size_t{bloom} * 8 + std::size_t{buckets} * 4;
  Elf64_Ehdr header{};
  std::memcpy(&header, bytes.data(), sizeof header);
  std::size_t first_segment_end = 0;
  for (unsigned i = 0; i < header.e_phnum && first_segment_end == 0; ++i) {
    Elf64_Phdr segment{};
    std::memcpy(&segment, bytes.data() + header.e_phoff + i * sizeof segment, sizeof segment);
    if (segment.p_type == PT_LOAD) first_segment_end = segment.p_offset + segment.p_filesz;
  }
  ASSERT_GT(first_segment_end, chains);
  for (std::size_t at = chains; at + 4 <= first_segment_end; at += 4) {
    const uint32_t never_ends = 0xfffffffeU; // even: no end bit
    std::memcpy(bytes.data() + at, &never_ends, 4);
  }
  for (std::size_t bucket = 0; bucket < buckets; ++bucket)
    std::memcpy(bytes.data() + gnu_hash + 16 + std::size_t{bloom} * 8 + bucket * 4, &first, 4);
  const auto problem = elf_plugin_problem(bytes);
  ASSERT_TRUE(problem);
  EXPECT_THAT(*problem, ::testing::AnyOf(HasSubstr("does not export"), HasSubstr("damaged dynamic symbol table")));
}
