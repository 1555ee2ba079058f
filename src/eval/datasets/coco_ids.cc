#include "eval/datasets/coco_ids.h"

#include <algorithm>

namespace c8 {

const std::vector<std::string>& coco_category_names() {
  // The ids of instances_*.json in COCO 2014 / 2017.
  static const std::vector<std::string> names = {
      "", "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat", "traffic light",
      "fire hydrant", "", "stop sign", "parking meter", "bench", "bird", "cat", "dog", "horse", "sheep",
      "cow", "elephant", "bear", "zebra", "giraffe", "", "backpack", "umbrella", "", "",
      "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite", "baseball bat", "baseball glove",
      "skateboard", "surfboard", "tennis racket", "bottle", "", "wine glass", "cup", "fork", "knife", "spoon",
      "bowl", "banana", "apple", "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut",
      "cake", "chair", "couch", "potted plant", "bed", "", "dining table", "", "", "toilet",
      "", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone", "microwave", "oven", "toaster",
      "sink", "refrigerator", "", "book", "clock", "vase", "scissors", "teddy bear", "hair drier", "toothbrush"};
  return names;
}

const std::map<std::string, std::string>& darknet_spelling() {
  static const std::map<std::string, std::string> m = {
      {"airplane", "aeroplane"},         {"motorcycle", "motorbike"},   {"couch", "sofa"},
      {"potted plant", "pottedplant"},   {"dining table", "diningtable"}, {"tv", "tvmonitor"}};
  return m;
}

std::vector<int> coco_ids_to_classes(const std::vector<std::string>& classes) {
  const std::vector<std::string>& names = coco_category_names();
  std::vector<int> out(names.size(), -1);
  for (size_t id = 1; id < names.size(); ++id) {
    if (names[id].empty()) continue;
    auto pos = std::find(classes.begin(), classes.end(), names[id]);
    if (pos == classes.end()) {
      auto alias = darknet_spelling().find(names[id]);
      if (alias != darknet_spelling().end()) pos = std::find(classes.begin(), classes.end(), alias->second);
    }
    if (pos != classes.end()) out[id] = int(pos - classes.begin());
  }
  return out;
}

}  // namespace c8
