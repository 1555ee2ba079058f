// Uploaded data set archives (src/server/archive.h): hostile entries are
// refused and nothing is left behind.
#include "server/archive.h"

#include <archive.h>
#include <archive_entry.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "base/error.h"

namespace c8 {
namespace {

namespace fs = std::filesystem;

struct Entry {
  std::string path, data;
  int type = AE_IFREG;
  std::string link;
};

// A tar.gz written with libarchive, so entries can carry any path.
std::string make_tgz(const std::vector<Entry>& entries) {
  std::vector<char> buf(size_t(1) << 22);
  size_t used = 0;
  struct archive* a = archive_write_new();
  archive_write_add_filter_gzip(a);
  archive_write_set_format_pax_restricted(a);
  archive_write_open_memory(a, buf.data(), buf.size(), &used);
  for (const Entry& e : entries) {
    struct archive_entry* en = archive_entry_new();
    archive_entry_set_pathname(en, e.path.c_str());
    archive_entry_set_filetype(en, unsigned(e.type));
    archive_entry_set_perm(en, 0644);
    if (!e.link.empty()) archive_entry_set_symlink(en, e.link.c_str());
    archive_entry_set_size(en, e.type == AE_IFREG ? la_int64_t(e.data.size()) : 0);
    archive_write_header(a, en);
    if (e.type == AE_IFREG && !e.data.empty()) archive_write_data(a, e.data.data(), e.data.size());
    archive_entry_free(en);
  }
  archive_write_close(a);
  archive_write_free(a);
  return std::string(buf.data(), used);
}

std::string temp_root() {
  char t[] = "/tmp/c8_archiveXXXXXX";
  return mkdtemp(t);
}

TEST(Archive, ExtractsPlainFilesAndFolders) {
  const std::string root = temp_root(), dest = root + "/ds";
  extract_archive(make_tgz({{"images/", "", AE_IFDIR}, {"images/a.png", "png"}, {"./labels.txt", "images/a.png 3\n"}}), dest,
                  "ok.tar.gz");
  EXPECT_TRUE(fs::is_regular_file(dest + "/images/a.png"));
  std::ifstream f(dest + "/labels.txt");
  std::string line;
  std::getline(f, line);
  EXPECT_EQ(line, "images/a.png 3");
  fs::remove_all(root);
}

TEST(Archive, RefusesEntriesThatLeaveTheFolderAndLeavesNothing) {
  const std::string root = temp_root();
  struct Case {
    std::vector<Entry> entries;
    std::string want;
  };
  const std::vector<Case> cases = {
      {{{"a.png", "x"}, {"../escape.txt", "x"}}, "leaves the data set folder"},
      {{{"/etc/escape.txt", "x"}}, "leaves the data set folder"},
      {{{"sub/../../escape.txt", "x"}}, "leaves the data set folder"},
      {{{"link", "", AE_IFLNK, "/etc/passwd"}}, "not a plain file"},
      // A file, then a folder of the same (non-UTF-8) name: an error, not an escaping exception.
      {{{"z\xff", "x"}, {"z\xff/y.png", "x"}}, "clashes"},
  };
  for (const Case& c : cases) {
    const std::string dest = root + "/ds";
    try {
      extract_archive(make_tgz(c.entries), dest, "bad.tar.gz");
      ADD_FAILURE() << "accepted: " << c.entries.back().path;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(c.want), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("bad.tar.gz"), std::string::npos) << e.what();
    }
    EXPECT_FALSE(fs::exists(dest));
    EXPECT_FALSE(fs::exists(root + "/escape.txt"));
  }
  fs::remove_all(root);
}

TEST(Archive, StopsAtTheExpandedSizeAndFileCount) {
  const std::string root = temp_root();
  ExtractLimits lim;
  lim.max_bytes = 1000;
  try {
    extract_archive(make_tgz({{"big.bin", std::string(100000, 'x')}}), root + "/ds", "bomb.tar.gz", lim);
    ADD_FAILURE() << "a 100 kB entry passed a 1000-byte limit";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("expands to more than"), std::string::npos) << e.what();
  }
  EXPECT_FALSE(fs::exists(root + "/ds"));
  lim = ExtractLimits();
  lim.max_files = 2;
  EXPECT_THROW(extract_archive(make_tgz({{"a", "1"}, {"b", "2"}, {"c", "3"}}), root + "/ds", "many.tar.gz", lim), Error);
  EXPECT_FALSE(fs::exists(root + "/ds"));
  EXPECT_THROW(extract_archive("not an archive at all", root + "/ds", "junk.zip"), Error);
  EXPECT_FALSE(fs::exists(root + "/ds"));
  fs::remove_all(root);
}

}  // namespace
}  // namespace c8
