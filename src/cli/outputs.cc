#include "cli/outputs.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <algorithm>
#include <filesystem>

#include "base/error.h"

namespace c8 {
namespace {

namespace fs = std::filesystem;

// The same file: same device and inode when both exist (catches hard links
// and every spelling), else the same normalised absolute path with symlinks
// resolved as far as they exist.
bool same_file(const std::string& a, const std::string& b) {
  struct stat sa, sb;
  if (::stat(a.c_str(), &sa) == 0 && ::stat(b.c_str(), &sb) == 0) return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  std::error_code ea, eb;
  fs::path pa = fs::weakly_canonical(fs::absolute(a), ea), pb = fs::weakly_canonical(fs::absolute(b), eb);
  return !ea && !eb && pa == pb;
}

void check_one(const NamedPath& o) {
  const fs::path p(o.path);
  const fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    throw Error(o.path + ": " + o.flag + ": folder '" + dir.string() + "' does not exist");
  if (fs::is_directory(p, ec)) throw Error(o.path + ": " + o.flag + ": is a folder");
  // Written as a temp file in the same folder, then renamed over the target.
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    throw Error(o.path + ": " + o.flag + ": folder '" + dir.string() + "' is not writable (" + std::strerror(errno) + ")");
  if (fs::exists(p, ec)) {
    if (!fs::is_regular_file(p, ec)) throw Error(o.path + ": " + o.flag + ": exists and is not a regular file");
    // A file with no write bit was protected on purpose (chmod 444): root
    // could replace it, but a careful tool does not.
    struct stat st;
    if ((::stat(p.c_str(), &st) == 0 && (st.st_mode & 0222) == 0) || ::access(p.c_str(), W_OK) != 0)
      throw Error(o.path + ": " + o.flag + ": exists and is read-only; not replacing it");
  }
}

// The folder a data set argument stands for, resolved ("" if none exists).
fs::path data_folder(const std::string& spec) {
  std::error_code ec;
  std::string p = spec;
  if (!fs::exists(p, ec)) {  // DIR:test (an IDX set inside DIR)
    size_t colon = p.rfind(':');
    if (colon == std::string::npos) return {};
    p = p.substr(0, colon);
  }
  fs::path f = fs::weakly_canonical(fs::absolute(p), ec);
  if (ec) return {};
  if (!fs::is_directory(f, ec)) f = f.parent_path();
  return f;
}

bool inside(const fs::path& file, const fs::path& folder) {
  std::error_code ec;
  fs::path d = fs::weakly_canonical(fs::absolute(file), ec).parent_path();
  if (ec || folder.empty()) return false;
  auto [fe, de] = std::mismatch(folder.begin(), folder.end(), d.begin(), d.end());
  return fe == folder.end();
}

}  // namespace

void check_outputs(const std::vector<NamedPath>& inputs, const std::vector<NamedPath>& outputs,
                   const std::vector<NamedPath>& folders) {
  for (size_t i = 0; i < outputs.size(); ++i) {
    const NamedPath& o = outputs[i];
    if (o.path.empty()) continue;
    for (const NamedPath& in : inputs)
      if (!in.path.empty() && same_file(o.path, in.path))
        throw Error(o.path + ": " + o.flag + " is the same file as the " + in.flag + " (" + in.path +
                    "); refusing to overwrite an input");
    for (size_t j = 0; j < i; ++j)
      if (!outputs[j].path.empty() && same_file(o.path, outputs[j].path))
        throw Error(o.path + ": " + o.flag + " and " + outputs[j].flag + " are the same file");
    for (const NamedPath& f : folders) {
      if (f.path.empty()) continue;
      const fs::path folder = data_folder(f.path);
      if (inside(o.path, folder))
        throw Error(o.path + ": " + o.flag + " is inside the " + f.flag + " folder (" + folder.string() +
                    "); refusing to write among the data set's files");
    }
    check_one(o);
  }
}

}  // namespace c8
