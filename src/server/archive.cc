#include "server/archive.h"

#include <archive.h>
#include <archive_entry.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "base/error.h"

namespace c8 {

namespace fs = std::filesystem;

namespace {

// A relative path of plain components, or "" when it must be refused.
std::string safe_relative(const std::string& p) {
  if (p.empty() || p[0] == '/' || p.find('\\') != std::string::npos) return "";
  fs::path rel;
  for (const auto& part : fs::path(p)) {
    const std::string s = part.string();
    if (s.empty() || s == ".") continue;
    if (s == ".." || s.find(':') != std::string::npos) return "";
    rel /= part;
  }
  return rel.string();
}

}  // namespace

void extract_archive(const std::string& data, const std::string& dest, const std::string& name,
                     const ExtractLimits& lim) {
  if (fs::exists(dest)) throw Error(dest + ": already exists");
  std::unique_ptr<struct archive, int (*)(struct archive*)> a(archive_read_new(), archive_read_free);
  archive_read_support_filter_all(a.get());
  archive_read_support_format_all(a.get());
  if (archive_read_open_memory(a.get(), data.data(), data.size()) != ARCHIVE_OK)
    throw Error(name + ": not an archive this server reads (zip, tar, tar.gz): " + archive_error_string(a.get()));
  fs::create_directories(dest);
  try {
    size_t files = 0, bytes = 0;
    struct archive_entry* e = nullptr;
    for (;;) {
      int r = archive_read_next_header(a.get(), &e);
      if (r == ARCHIVE_EOF) break;
      if (r != ARCHIVE_OK && r != ARCHIVE_WARN) throw Error(name + ": damaged archive: " + archive_error_string(a.get()));
      const char* raw = archive_entry_pathname(e);
      const std::string path = raw ? raw : "";
      const std::string rel = safe_relative(path);
      if (rel.empty() && !path.empty() && path != "./" && path != ".")
        throw Error(name + ": entry '" + path + "' leaves the data set folder (absolute path or '..')");
      const auto type = archive_entry_filetype(e);
      if (type != AE_IFDIR && type != AE_IFREG)
        throw Error(name + ": entry '" + path + "' is not a plain file (links and devices are refused)");
      // Folders count too: a small archive must not make millions of them.
      if (++files > lim.max_files) throw Error(name + ": more than " + std::to_string(lim.max_files) + " entries");
      std::error_code ec;
      const fs::path out = fs::path(dest) / rel;
      fs::create_directories(type == AE_IFDIR ? out : out.parent_path(), ec);
      if (ec) throw Error(name + ": entry '" + path + "' clashes with another entry (a file and a folder of one name?)");
      if (type == AE_IFDIR) continue;
      std::ofstream f(out, std::ios::binary | std::ios::trunc);
      if (!f) throw Error(name + ": cannot write " + rel);
      char buf[1 << 16];
      for (;;) {
        la_ssize_t n = archive_read_data(a.get(), buf, sizeof buf);
        if (n == 0) break;
        if (n < 0) throw Error(name + ": damaged entry '" + path + "': " + archive_error_string(a.get()));
        bytes += size_t(n);
        if (bytes > lim.max_bytes)
          throw Error(name + ": expands to more than " + std::to_string(lim.max_bytes >> 20) + " MB");
        f.write(buf, n);
      }
      if (!f) throw Error(name + ": cannot write " + rel);
    }
  } catch (...) {
    std::error_code ec;
    fs::remove_all(dest, ec);
    throw;
  }
}

}  // namespace c8
