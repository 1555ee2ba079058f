// (c2) COCO instances JSON: boxes for detection (dataset.h says the rules).
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "base/error.h"
#include "eval/datasets/coco_ids.h"
#include "eval/datasets/common.h"
#include "eval/limits.h"

namespace c8 {
namespace {

namespace fs = std::filesystem;

class CocoDataset : public ds::FileListDataset {
 public:
  CocoDataset(std::string root, std::vector<Entry> entries, std::vector<std::string> classes,
              std::vector<std::vector<GroundTruthBox>> boxes)
      : FileListDataset("coco-json", std::move(root), std::move(entries), false, std::move(classes)),
        boxes_(std::move(boxes)) {}
  bool has_boxes() const override { return true; }
  std::vector<GroundTruthBox> boxes(size_t i) const override {
    if (i >= boxes_.size()) throw Error(root() + ": image index " + std::to_string(i) + " out of range");
    return boxes_[i];
  }

 private:
  std::vector<std::vector<GroundTruthBox>> boxes_;
};

const nlohmann::json& array_field(const nlohmann::json& j, const char* key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) throw Error(where + ": no \"" + key + "\" array (not a COCO instances file)");
  return *it;
}

int64_t int_field(const nlohmann::json& j, const char* key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) throw Error(where + ": \"" + key + "\" missing or not an integer");
  return it->get<int64_t>();
}

std::string string_field(const nlohmann::json& j, const char* key, const std::string& where) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_string() || it->get<std::string>().empty())
    throw Error(where + ": \"" + key + "\" missing or not a string");
  return it->get<std::string>();
}

}  // namespace

namespace ds {

std::string coco_json_in(const std::string& dir) {
  for (const std::string& sub : {std::string(), std::string("annotations")}) {
    const std::string d = sub.empty() ? dir : join(dir, sub);
    if (!is_dir(d)) continue;
    if (is_file(join(d, "annotations.json"))) return join(d, "annotations.json");
    std::vector<std::string> found;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(d, ec)) {
      const std::string n = e.path().filename().string();
      if (n.rfind("instances_", 0) == 0 && n.size() > 5 && n.compare(n.size() - 5, 5, ".json") == 0 &&
          is_file(e.path().string()))
        found.push_back(e.path().string());
    }
    std::sort(found.begin(), found.end());
    if (found.size() > 1)
      throw Error(d + ": several COCO files (" + found[0] + ", " + found[1] + ", ...); name the one to use");
    if (found.size() == 1) return found[0];
  }
  return "";
}

}  // namespace ds

std::unique_ptr<Dataset> open_coco_json(const std::string& dir_or_file) {
  const std::string file = ds::is_file(dir_or_file) ? dir_or_file : ds::coco_json_in(dir_or_file);
  if (file.empty()) throw Error(dir_or_file + ": no COCO annotations.json or instances_*.json");
  // the folder the images are relative to: the JSON's, or the data set folder
  // when the JSON sits in its annotations/
  std::string base = ds::parent_dir(file);
  if (ds::base_name(base) == "annotations") base = ds::parent_dir(base);
  if (ds::is_dir(dir_or_file)) base = dir_or_file;

  const std::vector<uint8_t> bytes = read_file_limited(file);  // --max-file-mb
  const nlohmann::json j = nlohmann::json::parse(bytes.begin(), bytes.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw Error(file + ": not valid JSON");
  const nlohmann::json& images = array_field(j, "images", file);
  const nlohmann::json& anns = array_field(j, "annotations", file);
  const nlohmann::json& cats = array_field(j, "categories", file);

  // categories -> class index
  std::map<int64_t, std::string> cat_name;
  for (size_t k = 0; k < cats.size(); ++k) {
    const std::string where = file + ": categories[" + std::to_string(k) + "]";
    if (!cats[k].is_object()) throw Error(where + ": not an object");
    const int64_t id = int_field(cats[k], "id", where);
    if (!cat_name.emplace(id, string_field(cats[k], "name", where)).second)
      throw Error(where + ": category id " + std::to_string(id) + " given twice");
  }
  std::vector<std::string> classes = ds::classes_beside(ds::parent_dir(file));
  if (classes.empty() && base != ds::parent_dir(file)) classes = ds::classes_beside(base);
  std::map<int64_t, int> cls_of;
  if (classes.empty()) {
    for (const auto& [id, name] : cat_name) {
      cls_of[id] = int(classes.size());
      classes.push_back(name);
    }
  } else {
    for (const auto& [id, name] : cat_name) {
      auto pos = std::find(classes.begin(), classes.end(), name);
      if (pos == classes.end()) {
        auto alias = darknet_spelling().find(name);
        if (alias != darknet_spelling().end()) pos = std::find(classes.begin(), classes.end(), alias->second);
      }
      if (pos != classes.end()) cls_of[id] = int(pos - classes.begin());
    }
  }

  // images
  std::vector<ds::FileListDataset::Entry> entries;
  std::map<int64_t, size_t> row_of;
  for (size_t k = 0; k < images.size(); ++k) {
    const std::string where = file + ": images[" + std::to_string(k) + "]";
    if (!images[k].is_object()) throw Error(where + ": not an object");
    const int64_t id = int_field(images[k], "id", where);
    ds::FileListDataset::Entry e;
    e.name = string_field(images[k], "file_name", where);
    bool escapes = e.name[0] == '/';
    for (const fs::path& part : fs::path(e.name)) escapes = escapes || part == "..";
    if (escapes)
      throw Error(where + ": file_name " + e.name + " leaves the data set folder");
    e.path = ds::join(base, e.name);
    if (!ds::is_file(e.path) && ds::is_file(ds::join(ds::join(base, "images"), e.name)))
      e.path = ds::join(ds::join(base, "images"), e.name);
    if (!ds::is_file(e.path)) throw Error(where + ": image not found: " + e.path);
    if (!row_of.emplace(id, entries.size()).second) throw Error(where + ": image id " + std::to_string(id) + " given twice");
    entries.push_back(std::move(e));
  }
  if (entries.empty()) throw Error(file + ": no images listed");

  // boxes
  std::vector<std::vector<GroundTruthBox>> boxes(entries.size());
  for (size_t k = 0; k < anns.size(); ++k) {
    const std::string where = file + ": annotations[" + std::to_string(k) + "]";
    const nlohmann::json& a = anns[k];
    if (!a.is_object()) throw Error(where + ": not an object");
    const int64_t image = int_field(a, "image_id", where), cat = int_field(a, "category_id", where);
    auto row = row_of.find(image);
    if (row == row_of.end()) throw Error(where + ": image_id " + std::to_string(image) + " is not in \"images\"");
    if (!cat_name.count(cat)) throw Error(where + ": category_id " + std::to_string(cat) + " is not in \"categories\"");
    auto cls = cls_of.find(cat);
    if (cls == cls_of.end())
      throw Error(where + ": category '" + cat_name[cat] + "' is not in classes.txt (" + std::to_string(classes.size()) +
                  " classes)");
    auto bb = a.find("bbox");
    if (bb == a.end() || !bb->is_array() || bb->size() != 4) throw Error(where + ": \"bbox\" is not [x, y, w, h]");
    double v[4];
    for (size_t c = 0; c < 4; ++c) {
      if (!(*bb)[c].is_number()) throw Error(where + ": \"bbox\" holds a non-number");
      v[c] = (*bb)[c].get<double>();
    }
    constexpr double kMaxCoord = 1e7;  // beyond any image; keeps float corners finite
    bool sane = v[2] >= 0 && v[3] >= 0;
    for (double c : v) sane = sane && std::fabs(c) <= kMaxCoord;
    if (!sane)
      throw Error(where + ": \"bbox\" has a negative size or a coordinate that is not a finite pixel position");
    bool crowd = false;
    auto ic = a.find("iscrowd");
    if (ic != a.end() && ic->is_number_integer()) crowd = ic->get<int64_t>() != 0;
    GroundTruthBox g;
    // COCO's continuous corners (what its mAP@[.5:.95] measures)
    g.box = {float(v[0]), float(v[1]), float(v[0] + v[2]), float(v[1] + v[3])};
    g.cls = cls->second;
    g.difficult = crowd;
    boxes[row->second].push_back(g);
  }
  return std::make_unique<CocoDataset>(base, std::move(entries), std::move(classes), std::move(boxes));
}

}  // namespace c8
