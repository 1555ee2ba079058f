#include "eval/datasets/dataset.h"

#include <sys/stat.h>

#include <set>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <regex>
#include <system_error>

#include "eval/datasets/common.h"
#include "eval/limits.h"
#include "base/error.h"

namespace fs = std::filesystem;

namespace c8 {

Dataset::~Dataset() = default;

bool is_image_file_name(const std::string& name) {
  const size_t dot = name.rfind('.');
  if (dot == std::string::npos) return false;
  std::string ext = name.substr(dot + 1);
  for (auto& ch : ext) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  static const char* kExt[] = {"jpg", "jpeg", "png", "bmp", "pgm", "ppm", "pnm"};
  return std::any_of(std::begin(kExt), std::end(kExt), [&](const char* e) { return ext == e; });
}

std::vector<std::string> read_class_names(const std::string& path) {
  static const std::regex wnid("n[0-9]{8}");
  std::vector<std::string> names;
  for (const std::string& raw : ds::read_lines(path)) {
    std::string line = ds::trim(raw);
    const auto tok = ds::split_ws(line);
    if (tok.size() >= 2 && std::regex_match(tok[0], wnid)) line = ds::trim(line.substr(tok[0].size()));
    names.push_back(line);
  }
  while (!names.empty() && names.back().empty()) names.pop_back();
  return names;
}

namespace ds {

FileListDataset::FileListDataset(std::string format, std::string root, std::vector<Entry> entries, bool annotated,
                                 std::vector<std::string> classes)
    : format_(std::move(format)),
      root_(std::move(root)),
      entries_(std::move(entries)),
      annotated_(annotated),
      classes_(std::move(classes)) {}

const FileListDataset::Entry& FileListDataset::at(size_t i) const {
  if (i >= entries_.size())
    throw Error(root_ + ": sample index " + std::to_string(i) + " out of range (" + std::to_string(entries_.size()) +
                " samples)");
  return entries_[i];
}

Sample FileListDataset::get(size_t i) const {
  const Entry& e = at(i);
  Sample s;
  s.name = e.name;
  s.label = e.label;
  s.image = load_image(e.path);
  return s;
}

std::string FileListDataset::name(size_t i) const { return at(i).name; }
int FileListDataset::label(size_t i) const { return at(i).label; }
std::vector<std::string> FileListDataset::annotation_paths(size_t i) const { return at(i).annotations; }

bool is_dir(const std::string& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

bool is_file(const std::string& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

std::string join(const std::string& dir, const std::string& rel) {
  if (!rel.empty() && rel[0] == '/') return rel;
  if (dir.empty()) return rel;
  return dir.back() == '/' ? dir + rel : dir + "/" + rel;
}

std::string parent_dir(const std::string& p) {
  std::string s = p;
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  const size_t slash = s.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return s.substr(0, slash);
}

std::string base_name(const std::string& p) {
  std::string s = p;
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  const size_t slash = s.rfind('/');
  return slash == std::string::npos ? s : s.substr(slash + 1);
}

static bool hidden(const fs::path& p) {
  const std::string n = p.filename().string();
  return !n.empty() && n[0] == '.';
}

std::vector<std::string> list_images_recursive(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  // Symlinked folders are followed (data sets are often assembled that way),
  // but each real folder is entered once: a link back up (a/up -> ..) would
  // otherwise list the same images again and again.
  std::set<std::pair<dev_t, ino_t>> seen;
  auto first_visit = [&](const fs::path& d) {
    struct stat st;
    if (::stat(d.c_str(), &st) != 0) return false;
    return seen.insert({st.st_dev, st.st_ino}).second;
  };
  first_visit(dir);
  fs::recursive_directory_iterator it(dir, fs::directory_options::follow_directory_symlink, ec), end;
  if (ec) throw Error(dir + ": cannot list folder (" + ec.message() + ")");
  for (; it != end; it.increment(ec)) {
    if (ec) throw Error(dir + ": cannot list folder (" + ec.message() + ")");
    const fs::path& p = it->path();
    if (hidden(p)) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_directory(ec)) {
      if (!first_visit(p)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_regular_file(ec) && is_image_file_name(p.filename().string()))
      out.push_back(p.lexically_relative(dir).generic_string());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> list_subdirs(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (!hidden(it->path()) && it->is_directory(ec)) out.push_back(it->path().filename().string());
  if (ec) throw Error(dir + ": cannot list folder (" + ec.message() + ")");
  std::sort(out.begin(), out.end());
  return out;
}

bool has_direct_image(const std::string& dir) {
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (!hidden(it->path()) && it->is_regular_file(ec) && is_image_file_name(it->path().filename().string()))
      return true;
  return false;
}

std::vector<std::string> read_lines(const std::string& path) {
  const std::vector<uint8_t> bytes = read_file_limited(path);  // regular files only (a FIFO would block), bounded
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t i = 0; i <= bytes.size(); ++i) {
    if (i < bytes.size() && bytes[i] != '\n') continue;
    if (i == bytes.size() && start == i) break;  // no empty last line after a final newline
    std::string line(bytes.begin() + long(start), bytes.begin() + long(i));
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
    start = i + 1;
  }
  return lines;
}

std::string trim(const std::string& s) {
  // The same white space as split_ws (isspace): a line of only "\v" must trim
  // to empty, not to a line whose split is empty (fuzzing found the crash).
  const char* ws = " \t\r\n\v\f";
  const size_t b = s.find_first_not_of(ws);
  if (b == std::string::npos) return "";
  const size_t e = s.find_last_not_of(ws);
  return s.substr(b, e - b + 1);
}

std::vector<std::string> split_ws(const std::string& s) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && std::isspace(static_cast<unsigned char>(s[i]))) ++i;
    size_t j = i;
    while (j < s.size() && !std::isspace(static_cast<unsigned char>(s[j]))) ++j;
    if (j > i) out.push_back(s.substr(i, j - i));
    i = j;
  }
  return out;
}

std::vector<std::string> classes_beside(const std::string& dir) {
  const std::string p = join(dir, "classes.txt");
  return is_file(p) ? read_class_names(p) : std::vector<std::string>{};
}

}  // namespace ds

namespace {

bool idx_images_name(const std::string& n) {
  static const std::regex re(".*images[-.]idx3-ubyte(\\.gz)?");
  return std::regex_match(n, re);
}

bool dir_has_idx(const std::string& dir) {
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
    if (idx_images_name(it->path().filename().string())) return true;
  return false;
}

bool is_idx_suffix_spec(const std::string& path) {
  const size_t colon = path.rfind(':');
  return colon != std::string::npos && colon > 0 && ds::is_dir(path.substr(0, colon)) &&
         path.find('/', colon) == std::string::npos;
}

bool is_idx_prefix_spec(const std::string& path) {
  const std::string dir = ds::parent_dir(path), prefix = ds::base_name(path);
  if (prefix.empty() || !ds::is_dir(dir)) return false;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string n = it->path().filename().string();
    if (n.compare(0, prefix.size(), prefix) == 0 && idx_images_name(n)) return true;
  }
  return false;
}

}  // namespace

std::unique_ptr<Dataset> open_dataset(const std::string& path) {
  if (path.empty()) throw Error("data set path is empty");
  if (ds::is_file(path)) {
    const std::string n = ds::base_name(path);
    if (n == "labels.txt") return open_labels_txt(path);
    if (n == "list.txt") return open_list_txt(path);
    if (n.size() > 5 && n.compare(n.size() - 5, 5, ".json") == 0) return open_coco_json(path);
    if (idx_images_name(n)) return open_idx(path);
    throw Error(path + ": not a data set (expected a folder, a labels.txt / list.txt file, a COCO .json file or an IDX images file)");
  }
  if (!ds::is_dir(path)) {
    if (is_idx_suffix_spec(path) || is_idx_prefix_spec(path)) return open_idx(path);
    std::error_code ec;
    if (fs::exists(path, ec)) throw Error(path + ": not a regular file or folder");
    throw Error(path + ": no such file or directory");
  }
  if (ds::is_file(ds::join(path, "labels.txt"))) return open_labels_txt(path);
  if (dir_has_idx(path)) return open_idx(path);
  if (ds::is_file(ds::join(path, "list.txt"))) return open_list_txt(path);
  if (!ds::coco_json_in(path).empty()) return open_coco_json(path);
  if (!ds::has_direct_image(path)) {
    for (const std::string& sub : ds::list_subdirs(path))
      if (!ds::list_images_recursive(ds::join(path, sub)).empty()) return open_class_folders(path);
  }
  return open_image_folder(path);
}

}  // namespace c8
