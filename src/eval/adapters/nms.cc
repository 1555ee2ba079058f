#include "eval/adapters/nms.h"

#include <algorithm>
#include <map>

namespace c8 {

std::vector<DetectedBox> nms_per_class(const std::vector<DetectedBox>& boxes, double iou_threshold,
                                       size_t max_detections, size_t per_class_limit) {
  std::map<int, std::vector<DetectedBox>> by_class;
  for (const DetectedBox& b : boxes) by_class[b.cls].push_back(b);
  std::vector<DetectedBox> out;
  for (auto& [cls, v] : by_class) {
    std::stable_sort(v.begin(), v.end(), [](const DetectedBox& a, const DetectedBox& b) { return a.score > b.score; });
    if (per_class_limit > 0 && v.size() > per_class_limit) v.resize(per_class_limit);
    std::vector<char> dropped(v.size(), 0);
    for (size_t i = 0; i < v.size(); ++i) {
      if (dropped[i]) continue;
      out.push_back(v[i]);
      for (size_t j = i + 1; j < v.size(); ++j)
        if (!dropped[j] && box_iou(v[i].box, v[j].box, false) > iou_threshold) dropped[j] = 1;
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const DetectedBox& a, const DetectedBox& b) { return a.score > b.score; });
  if (out.size() > max_detections) out.resize(max_detections);
  return out;
}

}  // namespace c8
