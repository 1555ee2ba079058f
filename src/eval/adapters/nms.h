#pragma once
// Class-wise non-maximum suppression for detector outputs without their own.
#include <cstddef>
#include <vector>

#include "eval/metrics/detection_map.h"

namespace c8 {

// Per class (in increasing class order): repeatedly keep the best-scoring box
// and drop the others of its class whose IoU with it (continuous areas)
// exceeds iou_threshold. Then all kept boxes by descending score (ties keep
// the class order), at most max_detections. per_class_limit > 0: only the
// best that many of each class enter (Caffe SSD's nms top_k): thousands of
// low-score candidates would make the suppression quadratic in them.
std::vector<DetectedBox> nms_per_class(const std::vector<DetectedBox>& boxes, double iou_threshold,
                                       size_t max_detections, size_t per_class_limit = 0);

}  // namespace c8
