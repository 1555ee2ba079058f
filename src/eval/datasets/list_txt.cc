// (c) list.txt: "image_path [annotation_path ...]" per line (detection / segmentation).
#include "eval/datasets/common.h"
#include "base/error.h"

namespace c8 {

std::unique_ptr<Dataset> open_list_txt(const std::string& dir_or_file) {
  const bool is_file = ds::is_file(dir_or_file);
  const std::string root = is_file ? ds::parent_dir(dir_or_file) : dir_or_file;
  const std::string list = is_file ? dir_or_file : ds::join(root, "list.txt");
  if (!ds::is_file(list)) throw Error(list + ": no such file");

  std::vector<ds::FileListDataset::Entry> entries;
  const auto lines = ds::read_lines(list);
  for (size_t ln = 0; ln < lines.size(); ++ln) {
    const std::string line = ds::trim(lines[ln]);
    if (line.empty() || line[0] == '#') continue;
    const std::string where = list + ":" + std::to_string(ln + 1) + ": ";
    const auto tok = ds::split_ws(line);
    if (tok.empty()) continue;
    ds::FileListDataset::Entry e;
    e.name = tok[0];
    e.path = ds::join(root, tok[0]);
    if (!ds::is_file(e.path)) throw Error(where + "image not found: " + e.path);
    for (size_t k = 1; k < tok.size(); ++k) {
      std::string a = ds::join(root, tok[k]);
      if (!ds::is_file(a)) throw Error(where + "annotation not found: " + a);
      e.annotations.push_back(std::move(a));
    }
    entries.push_back(std::move(e));
  }
  if (entries.empty()) throw Error(root + ": no images found (" + list + " lists none)");
  return std::make_unique<ds::FileListDataset>("list.txt", root, std::move(entries), false, ds::classes_beside(root));
}

}  // namespace c8
