// (b) MNIST / Fashion-MNIST IDX files (plain or gzip, read through zlib).
#include <sys/stat.h>
#include <zlib.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <memory>
#include <regex>

#include "eval/datasets/common.h"
#include "eval/limits.h"
#include "base/error.h"

namespace fs = std::filesystem;

namespace c8 {

namespace {

const std::regex& images_re() {
  static const std::regex re("(.*)images([-.])idx3-ubyte(\\.gz)?");
  return re;
}

uint32_t be32(const uint8_t* p);

// Whole file, gunzipped if it is gzip (gzread reads plain files transparently).
// `header` bytes in, `declared(data)` gives the total size the header
// promises: checked against the limit before the rest is read, and reading
// stops one byte past it (so "more data than declared" is still reported)
// instead of inflating a gzip bomb to the end.
std::vector<uint8_t> read_maybe_gz(const std::string& path, size_t header,
                                   const std::function<uint64_t(const uint8_t*)>& declared) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) throw Error(path + ": cannot open");
  if (!S_ISREG(st.st_mode)) throw Error(path + ": not a regular file");
  std::unique_ptr<gzFile_s, int (*)(gzFile)> f(gzopen(path.c_str(), "rb"), gzclose);
  if (!f) throw Error(path + ": cannot open");
  auto zerror = [&] {
    int err = 0;
    const char* msg = gzerror(f.get(), &err);
    return std::make_pair(err, std::string(msg ? msg : ""));
  };
  std::vector<uint8_t> data;
  std::vector<uint8_t> chunk(1 << 20);
  uint64_t cap = ~uint64_t(0);
  bool checked = false;
  while (data.size() <= cap) {
    const uint64_t room = cap == ~uint64_t(0) ? chunk.size() : cap + 1 - data.size();  // one past the declared size
    const int n = gzread(f.get(), chunk.data(), unsigned(std::min<uint64_t>(chunk.size(), room)));
    if (n < 0) throw Error(path + ": corrupt or truncated file (" + zerror().second + ")");
    if (n == 0) break;
    data.insert(data.end(), chunk.data(), chunk.data() + n);
    if (!checked && data.size() >= header) {
      checked = true;
      cap = declared(data.data());
      check_file_bytes(cap, path, "the data its header declares");
    }
    check_file_bytes(data.size(), path, "the decompressed data");
  }
  auto [err, msg] = zerror();
  if (err != Z_OK && err != Z_STREAM_END) throw Error(path + ": corrupt or truncated file (" + msg + ")");
  return data;
}

uint32_t be32(const uint8_t* p) {
  return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

class IdxDataset : public Dataset {
 public:
  IdxDataset(std::string root, std::string images_path, std::string labels_path, std::vector<std::string> classes)
      : root_(std::move(root)), file_(ds::base_name(images_path)), classes_(std::move(classes)) {
    pixels_ = read_maybe_gz(images_path, 16, [](const uint8_t* h) {
      const uint64_t r = be32(h + 8), c = be32(h + 12);
      if (r > 65536 || c > 65536) return uint64_t(16);  // refused below as an invalid size
      return 16 + uint64_t(be32(h + 4)) * r * c;
    });
    if (pixels_.size() < 16) throw Error(images_path + ": too short for an IDX images file");
    const uint32_t magic = be32(pixels_.data());
    if (magic != 0x00000803u) {
      char hex[16];
      std::snprintf(hex, sizeof hex, "0x%08x", magic);
      throw Error(images_path + ": bad IDX magic number " + hex +
                  " (expected 0x00000803: unsigned-byte data with 3 dimensions, i.e. images)");
    }
    n_ = be32(pixels_.data() + 4);
    rows_ = int(be32(pixels_.data() + 8));
    cols_ = int(be32(pixels_.data() + 12));
    if (rows_ <= 0 || cols_ <= 0 || rows_ > 65536 || cols_ > 65536)
      throw Error(images_path + ": invalid IDX image size " + std::to_string(cols_) + "x" + std::to_string(rows_));
    const uint64_t want = 16 + uint64_t(n_) * uint64_t(rows_) * uint64_t(cols_);
    if (pixels_.size() != want)
      throw Error(images_path + ": IDX header declares " + std::to_string(n_) + " images of " +
                  std::to_string(cols_) + "x" + std::to_string(rows_) + " (" + std::to_string(want) +
                  " bytes) but the data has " + std::to_string(pixels_.size()) + " bytes" +
                  (pixels_.size() < want ? " (truncated)" : ""));
    if (n_ == 0) throw Error(images_path + ": no images found");
    if (!labels_path.empty()) {
      std::vector<uint8_t> lab = read_maybe_gz(labels_path, 8, [](const uint8_t* h) { return 8 + uint64_t(be32(h + 4)); });
      if (lab.size() < 8 || be32(lab.data()) != 0x00000801u)
        throw Error(labels_path + ": bad IDX magic number (expected 0x00000801: unsigned-byte labels, 1 dimension)");
      const uint32_t nl = be32(lab.data() + 4);
      if (nl != n_)
        throw Error(labels_path + ": has " + std::to_string(nl) + " labels but " + ds::base_name(images_path) +
                    " has " + std::to_string(n_) + " images");
      if (lab.size() != 8 + uint64_t(nl))
        throw Error(labels_path + ": IDX header declares " + std::to_string(nl) + " labels but the data has " +
                    std::to_string(lab.size() - 8) + " bytes" + (lab.size() < 8 + uint64_t(nl) ? " (truncated)" : ""));
      labels_.assign(lab.begin() + 8, lab.end());
      const int maxl = *std::max_element(labels_.begin(), labels_.end());
      if (!classes_.empty() && size_t(maxl) >= classes_.size())
        throw Error(labels_path + ": label " + std::to_string(maxl) + " out of range (" +
                    std::to_string(classes_.size()) + " class names)");
    }
    pixels_.erase(pixels_.begin(), pixels_.begin() + 16);
  }

  size_t size() const override { return n_; }
  Sample get(size_t i) const override {
    check(i);
    Sample s;
    s.name = name(i);
    s.label = label(i);
    const size_t plane = size_t(rows_) * size_t(cols_);
    s.image = image_from_gray(pixels_.data() + i * plane, cols_, rows_);
    return s;
  }
  bool annotated() const override { return !labels_.empty(); }
  std::string format() const override { return "idx"; }
  std::string root() const override { return root_; }
  std::vector<std::string> class_names() const override { return classes_; }
  std::string name(size_t i) const override {
    check(i);
    return file_ + "#" + std::to_string(i);
  }
  int label(size_t i) const override {
    check(i);
    return labels_.empty() ? -1 : int(labels_[i]);
  }

 private:
  void check(size_t i) const {
    if (i >= n_)
      throw Error(root_ + "/" + file_ + ": sample index " + std::to_string(i) + " out of range (" +
                  std::to_string(n_) + " images)");
  }
  std::string root_, file_;
  std::vector<std::string> classes_;
  std::vector<uint8_t> pixels_, labels_;
  uint32_t n_ = 0;
  int rows_ = 0, cols_ = 0;
};

// IDX images files in dir whose name starts with one of prefixes ("" = any), sorted.
std::vector<std::string> find_images(const std::string& dir, const std::vector<std::string>& prefixes) {
  std::vector<std::string> out;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string n = it->path().filename().string();
    if (!std::regex_match(n, images_re())) continue;
    for (const auto& p : prefixes)
      if (n.compare(0, p.size(), p) == 0) {
        out.push_back(n);
        break;
      }
  }
  std::sort(out.begin(), out.end());
  // "x" and "x.gz" are the same set: prefer the uncompressed file.
  std::vector<std::string> uniq;
  for (const auto& n : out) {
    const bool gz = n.size() > 3 && n.compare(n.size() - 3, 3, ".gz") == 0;
    if (gz && std::find(out.begin(), out.end(), n.substr(0, n.size() - 3)) != out.end()) continue;
    uniq.push_back(n);
  }
  return uniq;
}

std::string set_name(const std::string& file) {
  std::smatch m;
  std::regex_match(file, m, images_re());
  std::string s = m[1].str();
  while (!s.empty() && (s.back() == '-' || s.back() == '.' || s.back() == '_')) s.pop_back();
  return s.empty() ? file : s;
}

std::vector<std::string> default_classes(const std::string& dir) {
  std::string d = dir;
  for (auto& ch : d) ch = char(std::tolower(static_cast<unsigned char>(ch)));
  if (d.find("fashion") != std::string::npos)
    return {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
  return {};
}

}  // namespace

std::unique_ptr<Dataset> open_idx(const std::string& spec) {
  std::string dir, images;
  auto pick = [&](const std::vector<std::string>& found, const std::string& what) {
    if (found.empty()) throw Error(what + ": no *-images-idx3-ubyte[.gz] file found");
    if (found.size() > 1) {
      std::string sets;
      for (const auto& f : found) sets += (sets.empty() ? "" : ", ") + set_name(f);
      throw Error(what + ": several IDX image sets (" + sets + "); choose one as " + dir + "/<set> or " + dir +
                  ":train / " + dir + ":test");
    }
    images = ds::join(dir, found[0]);
  };
  if (ds::is_file(spec)) {
    dir = ds::parent_dir(spec);
    images = spec;
    if (!std::regex_match(ds::base_name(spec), images_re()))
      throw Error(spec + ": not an IDX images file (expected a name like train-images-idx3-ubyte[.gz])");
  } else if (ds::is_dir(spec)) {
    dir = spec;
    pick(find_images(dir, {""}), spec);
  } else {
    const size_t colon = spec.rfind(':');
    if (colon != std::string::npos && colon > 0 && ds::is_dir(spec.substr(0, colon))) {
      dir = spec.substr(0, colon);
      const std::string set = spec.substr(colon + 1);
      std::vector<std::string> prefixes = {set};
      if (set == "test") prefixes = {"t10k", "test"};
      if (set.empty()) throw Error(spec + ": empty set name after ':' (use :train or :test)");
      pick(find_images(dir, prefixes), spec);
    } else {
      dir = ds::parent_dir(spec);
      if (!ds::is_dir(dir)) throw Error(spec + ": no such file or directory");
      pick(find_images(dir, {ds::base_name(spec)}), spec);
    }
  }
  // Matching labels file: "...images-idx3-ubyte" -> "...labels-idx1-ubyte" (with or without .gz).
  std::smatch m;
  const std::string file = ds::base_name(images);
  std::regex_match(file, m, images_re());
  const std::string stem = m[1].str() + "labels" + m[2].str() + "idx1-ubyte";
  std::string labels;
  for (const std::string& cand : {stem, stem + ".gz"})
    if (ds::is_file(ds::join(dir, cand))) {
      labels = ds::join(dir, cand);
      break;
    }
  std::vector<std::string> classes = ds::classes_beside(dir);
  if (classes.empty() && !labels.empty()) classes = default_classes(dir);
  return std::make_unique<IdxDataset>(dir, images, labels, std::move(classes));
}

}  // namespace c8
