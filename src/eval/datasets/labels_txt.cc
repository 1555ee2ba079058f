// (a) labels.txt: "relative/path class_index" per line.
#include <cerrno>
#include <cstdlib>

#include "eval/datasets/common.h"
#include "base/error.h"

namespace c8 {

std::unique_ptr<Dataset> open_labels_txt(const std::string& dir_or_file) {
  const bool is_file = ds::is_file(dir_or_file);
  const std::string root = is_file ? ds::parent_dir(dir_or_file) : dir_or_file;
  const std::string list = is_file ? dir_or_file : ds::join(root, "labels.txt");
  if (!ds::is_file(list)) throw Error(list + ": no such file");
  std::vector<std::string> classes = ds::classes_beside(root);

  std::vector<ds::FileListDataset::Entry> entries;
  const auto lines = ds::read_lines(list);
  for (size_t ln = 0; ln < lines.size(); ++ln) {
    const std::string line = ds::trim(lines[ln]);
    if (line.empty() || line[0] == '#') continue;
    const std::string where = list + ":" + std::to_string(ln + 1) + ": ";
    const size_t sp = line.find_last_of(" \t");
    if (sp == std::string::npos) throw Error(where + "expected '<image path> <class index>', got '" + line + "'");
    const std::string rel = ds::trim(line.substr(0, sp)), lab = line.substr(sp + 1);
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(lab.c_str(), &end, 10);
    if (lab.empty() || *end != 0 || errno == ERANGE || v < 0 || v > 1000000000)
      throw Error(where + "invalid class index '" + lab + "' (expected an integer >= 0)");
    if (!classes.empty() && size_t(v) >= classes.size())
      throw Error(where + "class index " + lab + " out of range (classes.txt lists " +
                  std::to_string(classes.size()) + " classes)");
    ds::FileListDataset::Entry e;
    e.name = rel;
    e.path = ds::join(root, rel);
    e.label = int(v);
    if (!ds::is_file(e.path)) throw Error(where + "image not found: " + e.path);
    entries.push_back(std::move(e));
  }
  if (entries.empty()) throw Error(root + ": no images found (" + list + " lists none)");
  return std::make_unique<ds::FileListDataset>("labels.txt", root, std::move(entries), true, std::move(classes));
}

}  // namespace c8
