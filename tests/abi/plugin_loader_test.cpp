// The loader and registry against real modules: the in-tree plugins and the broken test
// plugins built beside them.
#include "plugins/plugin_registry.hpp"
#include "support/plugin_loading.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <elf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>

using connector::core::elf_plugin_problem;
using connector::core::LoadedPlugin;
using connector::core::PluginRegistry;
using connector::testing::module_file_name;
using connector::testing::plugin_dir;
using connector::testing::test_plugin_dir;
using ::testing::HasSubstr;

namespace {

std::string refusal_of(const std::string& name) {
  const auto file = test_plugin_dir() / module_file_name(name);
  const auto outcome = LoadedPlugin::load(file);
  EXPECT_FALSE(outcome.module) << name << " should have been refused";
  EXPECT_THAT(outcome.refusal, HasSubstr(file.string())) << "the refusal must name the file";
  return outcome.refusal;
}

// A fresh folder holding copies of the given modules.
std::filesystem::path folder_with(const std::vector<std::filesystem::path>& files) {
  std::random_device seed;
  const auto folder = std::filesystem::temp_directory_path() / ("connector-plugins-" + std::to_string(seed()));
  std::filesystem::create_directories(folder);
  for (const auto& file : files)
    std::filesystem::copy_file(file, folder / file.filename());
  return folder;
}

// A fresh folder (mode 0755) with a file written by the test in it; both removed at the end.
class PluginFolder {
public:
  PluginFolder() : path_(folder_with({})) { ::chmod(path_.c_str(), 0755); }
  ~PluginFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  PluginFolder(const PluginFolder&) = delete;
  PluginFolder& operator=(const PluginFolder&) = delete;
  const std::filesystem::path& path() const { return path_; }
  // Copies test plugin `name` in as `as` with `mode`.
  std::filesystem::path add(const std::string& name, const std::string& as, mode_t mode = 0644) const {
    const auto file = path_ / as;
    std::filesystem::copy_file(test_plugin_dir() / module_file_name(name), file);
    ::chmod(file.c_str(), mode);
    return file;
  }

private:
  std::filesystem::path path_;
};

std::string file_bytes(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

// The constructor of the "marked" test plugins appends to this file (constructor_mark.hpp):
// whether it exists says whether any of their code ran.
class ConstructorMark {
public:
  ConstructorMark() : file_(folder_with({}) / "constructor-ran") {
    ::setenv("CONNECTOR_TEST_CONSTRUCTOR_MARK", file_.c_str(), 1);
  }
  ~ConstructorMark() {
    ::unsetenv("CONNECTOR_TEST_CONSTRUCTOR_MARK");
    std::error_code ignored;
    std::filesystem::remove_all(file_.parent_path(), ignored);
  }
  ConstructorMark(const ConstructorMark&) = delete;
  ConstructorMark& operator=(const ConstructorMark&) = delete;
  bool ran() const { return std::filesystem::exists(file_); }

private:
  std::filesystem::path file_;
};

} // namespace

// --- What is checked before the dynamic loader runs any of a file's code (finding 5).

TEST(PluginFileChecks, LoadsAMarkedPluginItsOwnerCanWrite) {
  // The control for the tests below: where trusted, the marked plugin loads and its
  // constructor leaves its trace.
  const ConstructorMark mark;
  const PluginFolder folder;
  const auto outcome = LoadedPlugin::load(folder.add("marked", "marked.so"));
  ASSERT_TRUE(outcome.module) << outcome.refusal;
  EXPECT_TRUE(mark.ran());
}

TEST(PluginFileChecks, RefusesAFileEveryUserCanWriteBeforeRunningIt) {
  const ConstructorMark mark;
  const PluginFolder folder;
  const auto outcome = LoadedPlugin::load(folder.add("marked", "marked.so", 0646));
  EXPECT_FALSE(outcome.module);
  EXPECT_THAT(outcome.refusal, HasSubstr("marked.so: not loaded: it is writable by every user (mode 0646)"));
  EXPECT_FALSE(mark.ran()) << "the refused file's constructor ran";
}

TEST(PluginFileChecks, RefusesAFileItsGroupCanWrite) {
  const ConstructorMark mark;
  const PluginFolder folder;
  const auto outcome = LoadedPlugin::load(folder.add("marked", "marked.so", 0664));
  EXPECT_FALSE(outcome.module);
  EXPECT_THAT(outcome.refusal, HasSubstr("it is writable by its group"));
  EXPECT_THAT(outcome.refusal, HasSubstr("(mode 0664)"));
  EXPECT_FALSE(mark.ran());
}

TEST(PluginFileChecks, RefusesAFileOwnedByAnotherUser) {
  const ConstructorMark mark;
  const PluginFolder folder;
  const auto file = folder.add("marked", "marked.so");
  if (::chown(file.c_str(), 65534, static_cast<gid_t>(-1)) != 0) GTEST_SKIP() << "only root can give a file away";
  const auto outcome = LoadedPlugin::load(file);
  EXPECT_FALSE(outcome.module);
  EXPECT_THAT(outcome.refusal, HasSubstr("it is owned by uid 65534"));
  EXPECT_THAT(outcome.refusal, HasSubstr("neither the host's user"));
  EXPECT_FALSE(mark.ran());
}

TEST(PluginFileChecks, TheHostsOwnUserMayOwnItsPlugins) {
  // As root (CI), the host's user is played by uid 65534: its file loads, root's loads, a
  // third user's does not.
  const PluginFolder folder;
  const auto file = folder.add("marked", "marked.so");
  if (::chown(file.c_str(), 65534, static_cast<gid_t>(-1)) != 0) GTEST_SKIP() << "only root can give a file away";
  if (::chown(folder.path().c_str(), 65534, static_cast<gid_t>(-1)) != 0) GTEST_SKIP();
  const connector::core::PluginTrust as_nobody{65534};
  const auto own = LoadedPlugin::load(file, nullptr, {}, as_nobody);
  EXPECT_TRUE(own.module) << own.refusal;
  const auto roots = LoadedPlugin::load(folder.add("test-throwing", "root-owned.so"), nullptr, {}, as_nobody);
  EXPECT_TRUE(roots.module) << roots.refusal;
  const auto third = LoadedPlugin::load(file, nullptr, {}, connector::core::PluginTrust{65533});
  EXPECT_FALSE(third.module);
  EXPECT_THAT(third.refusal, HasSubstr("owned by uid 65534"));
}

TEST(PluginFileChecks, RefusesEveryFileInAFolderOthersCanWrite) {
  const ConstructorMark mark;
  const PluginFolder folder;
  folder.add("marked", "marked.so");
  for (const mode_t mode : {0775, 0757, 01777}) {
    SCOPED_TRACE(mode);
    ::chmod(folder.path().c_str(), mode);
    PluginRegistry registry;
    const auto refusals = registry.load_directory(folder.path());
    EXPECT_TRUE(registry.plugins().empty());
    ASSERT_EQ(refusals.size(), 1U);
    EXPECT_EQ(refusals[0].file, folder.path());
    EXPECT_THAT(refusals[0].reason, HasSubstr(folder.path().string() + ": the plugins folder is writable by"));
    EXPECT_THAT(refusals[0].reason, HasSubstr("nothing in it is loaded"));
    // Loading the file directly checks its folder as well.
    EXPECT_THAT(LoadedPlugin::load(folder.path() / "marked.so").refusal, HasSubstr("the plugins folder is writable"));
  }
  EXPECT_FALSE(mark.ran());
  ::chmod(folder.path().c_str(), 0755);
  PluginRegistry registry;
  EXPECT_TRUE(registry.load_directory(folder.path()).empty());
  EXPECT_TRUE(registry.find("marked"));
}

TEST(PluginFileChecks, DoesNotFollowASymbolicLinkOutOfTheFolder) {
  const ConstructorMark mark;
  const PluginFolder folder;
  const PluginFolder outside;
  const auto target = outside.add("marked", "marked.so");
  std::filesystem::create_symlink(target, folder.path() / "absolute.so");
  std::filesystem::create_symlink("../" + outside.path().filename().string() + "/marked.so",
                                  folder.path() / "relative.so");
  // A link to a link in the folder that leads out: every hop must stay in the folder.
  std::filesystem::create_symlink("absolute.so", folder.path() / "via-link.so");

  PluginRegistry registry;
  const auto refusals = registry.load_directory(folder.path());
  EXPECT_TRUE(registry.plugins().empty());
  ASSERT_EQ(refusals.size(), 3U);
  for (const auto& refusal : refusals) {
    EXPECT_THAT(refusal.reason, HasSubstr("not loaded: it is a symbolic link to " + target.string() +
                                          ", outside the plugins folder: not followed"));
  }
  EXPECT_FALSE(mark.ran());
}

TEST(PluginFileChecks, FollowsASymbolicLinkToAFileInTheSameFolder) {
  const PluginFolder folder;
  folder.add("test-throwing", "throwing.so.1"); // not a module name: loaded only through the link
  std::filesystem::create_symlink("throwing.so.1", folder.path() / "throwing.so");
  PluginRegistry registry;
  const auto refusals = registry.load_directory(folder.path());
  EXPECT_TRUE(refusals.empty()) << refusals.front().reason;
  ASSERT_TRUE(registry.find("test-throwing"));
  EXPECT_EQ(registry.find("test-throwing")->file(), folder.path() / "throwing.so");

  // The link's target must be checked like any file.
  ::chmod((folder.path() / "throwing.so.1").c_str(), 0666);
  EXPECT_THAT(LoadedPlugin::load(folder.path() / "throwing.so").refusal, HasSubstr("writable by every user"));
}

TEST(PluginFileChecks, RefusesWhatIsNotARegularFile) {
  const PluginFolder folder;
  std::filesystem::create_directory(folder.path() / "folder.so");
  ASSERT_EQ(::mkfifo((folder.path() / "fifo.so").c_str(), 0600), 0);
  for (const char* name : {"folder.so", "fifo.so"}) {
    const auto outcome = LoadedPlugin::load(folder.path() / name);
    EXPECT_FALSE(outcome.module);
    EXPECT_THAT(outcome.refusal, HasSubstr("not a regular file")) << name;
  }
}

TEST(PluginFileChecks, RefusesALibraryWithoutTheExportBeforeRunningIt) {
  const ConstructorMark mark;
  const auto outcome = LoadedPlugin::load(test_plugin_dir() / module_file_name("marked-without-export"));
  EXPECT_FALSE(outcome.module);
  EXPECT_THAT(outcome.refusal, HasSubstr("not a loadable shared library: does not export connector_plugin_negotiate"));
  EXPECT_FALSE(mark.ran()) << "the library was opened (its constructor ran) to find out";
}

TEST(PluginFileChecks, RefusesElfFilesOfAnotherClassMachineOrType) {
  const std::string plugin = file_bytes(test_plugin_dir() / module_file_name("marked"));
  ASSERT_GT(plugin.size(), 64U);
  ASSERT_FALSE(elf_plugin_problem(plugin)) << *elf_plugin_problem(plugin);
  const auto patched = [&plugin](std::size_t at, std::string_view bytes) {
    std::string copy = plugin;
    copy.replace(at, bytes.size(), bytes);
    return elf_plugin_problem(copy).value_or("accepted");
  };
  EXPECT_THAT(patched(EI_CLASS, "\x01"), HasSubstr("an ELF file of the wrong class (32-bit"));
  EXPECT_THAT(patched(EI_DATA, "\x02"), HasSubstr("the other byte order"));
  EXPECT_THAT(patched(offsetof(Elf64_Ehdr, e_machine), std::string("\xb7\x00", 2)),
              HasSubstr("built for another machine (ELF machine 183"));
  EXPECT_THAT(patched(offsetof(Elf64_Ehdr, e_type), std::string("\x02\x00", 2)),
              HasSubstr("not a shared library (ELF type 2)"));
  EXPECT_THAT(patched(0, "\x7f"
                         "ELG"),
              HasSubstr("not an ELF file"));
  EXPECT_THAT(elf_plugin_problem(plugin.substr(0, 10)).value_or(""), HasSubstr("too short"));

  // And through the loader, with the constructor not run.
  const ConstructorMark mark;
  const PluginFolder folder;
  std::string wrong_class = plugin;
  wrong_class[EI_CLASS] = ELFCLASS32;
  std::ofstream(folder.path() / "wrong-class.so", std::ios::binary) << wrong_class;
  EXPECT_THAT(LoadedPlugin::load(folder.path() / "wrong-class.so").refusal,
              HasSubstr("wrong-class.so: not a loadable shared library: an ELF file of the wrong class"));
  EXPECT_FALSE(mark.ran());
}

TEST(PluginLoader, RefusesADescriptorWithAFlagOfTheWrongType) {
  const auto outcome = LoadedPlugin::load(test_plugin_dir() / module_file_name("wrong-type-descriptor"));
  EXPECT_FALSE(outcome.module);
  EXPECT_THAT(outcome.refusal, HasSubstr("invalid descriptor: \"supports_pkce\" is not a boolean"));
}

TEST(PluginLoader, RefusesADescriptorWithAnUnusableSlug) {
  EXPECT_THAT(refusal_of("bad-descriptor"), HasSubstr("invalid descriptor: slug \"Bad Slug!\""));
}

TEST(PluginLoader, RejectsSettingsThatAreNotAnObject) {
  const auto outcome = LoadedPlugin::load(test_plugin_dir() / module_file_name("test-throwing"));
  ASSERT_TRUE(outcome.module);
  const auto created = outcome.module->create_provider("[1, 2");
  EXPECT_FALSE(created.instance);
  EXPECT_EQ(created.result.status, CONNECTOR_STATUS_INVALID_INPUT);
  EXPECT_EQ(created.result.error_description, "settings are not a JSON object");
}

TEST(PluginRegistry, LoadsTheGoodPluginsBesideTheBadOnes) {
  std::vector<std::filesystem::path> files = {plugin_dir() / module_file_name("github"),
                                              plugin_dir() / module_file_name("google-sheets")};
  for (const char* bad : {"wrong-major", "missing-symbol", "not-a-library", "negotiation-refused", "bad-descriptor",
                          "zz-duplicate-github", "wrong-type-descriptor"}) {
    files.push_back(test_plugin_dir() / module_file_name(bad));
  }
  const auto folder = folder_with(files);

  PluginRegistry registry;
  const auto refusals = registry.load_directory(folder);

  std::vector<std::string> slugs;
  for (const auto& plugin : registry.plugins())
    slugs.push_back(plugin->descriptor().slug);
  EXPECT_THAT(slugs, ::testing::ElementsAre("github", "google-sheets"));
  ASSERT_EQ(refusals.size(), 7U);
  std::string all_reasons;
  for (const auto& refusal : refusals)
    all_reasons += refusal.reason + "\n";
  EXPECT_THAT(all_reasons, HasSubstr("zz-duplicate-github.so: duplicate slug \"github\", already served by"));
  EXPECT_THAT(all_reasons, HasSubstr("wrong-major.so: built for ABI 2.0"));
  EXPECT_THAT(all_reasons, HasSubstr("missing-symbol.so: not a loadable shared library: does not export"));
  EXPECT_THAT(all_reasons, HasSubstr("not-a-library.so: not a loadable shared library"));
  EXPECT_THAT(all_reasons, HasSubstr("negotiation-refused.so: negotiation refused"));
  EXPECT_THAT(all_reasons, HasSubstr("bad-descriptor.so: invalid descriptor"));
  EXPECT_THAT(all_reasons, HasSubstr("wrong-type-descriptor.so: invalid descriptor: \"supports_pkce\""));

  // The first github (by file name) stays the one served, with its real descriptor.
  const auto github = registry.find("github");
  ASSERT_TRUE(github);
  EXPECT_EQ(github->file().filename(), "github.so");
  EXPECT_EQ(registry.find_by_definition(github->descriptor().source_definitions.at(0).id), github);
  EXPECT_EQ(registry.find("zz-duplicate-github"), nullptr);
  std::filesystem::remove_all(folder);
}

TEST(PluginRegistry, ReportsAMissingFolder) {
  PluginRegistry registry;
  const auto refusals = registry.load_directory("/nonexistent/connector-plugins");
  ASSERT_EQ(refusals.size(), 1U);
  EXPECT_THAT(refusals[0].reason, HasSubstr("cannot read the plugins folder"));
  EXPECT_TRUE(registry.plugins().empty());
}
