// (d) class sub-folders and (e) plain image folders.
#include "eval/datasets/common.h"
#include "base/error.h"

namespace c8 {

std::unique_ptr<Dataset> open_class_folders(const std::string& dir) {
  if (!ds::is_dir(dir)) throw Error(dir + ": no such folder");
  const std::vector<std::string> classes = ds::list_subdirs(dir);
  std::vector<ds::FileListDataset::Entry> entries;
  for (size_t c = 0; c < classes.size(); ++c) {
    const std::string sub = ds::join(dir, classes[c]);
    for (const std::string& rel : ds::list_images_recursive(sub)) {
      ds::FileListDataset::Entry e;
      e.name = classes[c] + "/" + rel;
      e.path = ds::join(sub, rel);
      e.label = int(c);
      entries.push_back(std::move(e));
    }
  }
  if (entries.empty()) throw Error(dir + ": no images found");
  return std::make_unique<ds::FileListDataset>("class-folders", dir, std::move(entries), true, classes);
}

std::unique_ptr<Dataset> open_image_folder(const std::string& dir) {
  if (!ds::is_dir(dir)) throw Error(dir + ": no such folder");
  std::vector<ds::FileListDataset::Entry> entries;
  for (const std::string& rel : ds::list_images_recursive(dir)) {
    ds::FileListDataset::Entry e;
    e.name = rel;
    e.path = ds::join(dir, rel);
    entries.push_back(std::move(e));
  }
  if (entries.empty()) throw Error(dir + ": no images found");
  return std::make_unique<ds::FileListDataset>("image-folder", dir, std::move(entries), false,
                                               std::vector<std::string>{});
}

}  // namespace c8
