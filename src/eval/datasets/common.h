#pragma once
// Internal helpers shared by the data set readers (not a public interface).
#include <string>
#include <vector>

#include "eval/datasets/dataset.h"

namespace c8::ds {

// A data set that is a list of image files on disk.
class FileListDataset : public Dataset {
 public:
  struct Entry {
    std::string name;                      // as shown to users (relative path)
    std::string path;                      // path used to open the file
    int label = -1;
    std::vector<std::string> annotations;  // list.txt extra columns (full paths)
  };
  FileListDataset(std::string format, std::string root, std::vector<Entry> entries, bool annotated,
                  std::vector<std::string> classes);
  size_t size() const override { return entries_.size(); }
  Sample get(size_t i) const override;
  bool annotated() const override { return annotated_; }
  std::string format() const override { return format_; }
  std::string root() const override { return root_; }
  std::vector<std::string> class_names() const override { return classes_; }
  std::string name(size_t i) const override;
  int label(size_t i) const override;
  std::vector<std::string> annotation_paths(size_t i) const override;

 private:
  const Entry& at(size_t i) const;
  std::string format_, root_;
  std::vector<Entry> entries_;
  bool annotated_;
  std::vector<std::string> classes_;
};

bool is_dir(const std::string& p);
bool is_file(const std::string& p);  // regular file (or symlink to one)
std::string join(const std::string& dir, const std::string& rel);  // rel absolute -> rel
std::string parent_dir(const std::string& p);
std::string base_name(const std::string& p);
// Image files below dir (recursive, hidden entries skipped), as paths relative
// to dir, sorted byte-wise.
std::vector<std::string> list_images_recursive(const std::string& dir);
// Direct non-hidden sub-folders of dir, sorted byte-wise.
std::vector<std::string> list_subdirs(const std::string& dir);
bool has_direct_image(const std::string& dir);
// Lines of a text file (CR stripped); throws "<path>: cannot read".
std::vector<std::string> read_lines(const std::string& path);
std::string trim(const std::string& s);
std::vector<std::string> split_ws(const std::string& s);
// The COCO instances file a folder holds (annotations.json, or the one
// instances_*.json, in it or in annotations/), "" when none; throws when
// there are several to choose from.
std::string coco_json_in(const std::string& dir);
// Reads <dir>/classes.txt if it exists, else empty.
std::vector<std::string> classes_beside(const std::string& dir);

}  // namespace c8::ds
