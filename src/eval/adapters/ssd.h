#pragma once
// SSD-style detector outputs: boxes as corners beside their scores, in one of
// two forms (found by shape, so the outputs may come in any order):
//   raw head     boxes [1, A, 4] and scores [1, A, K]: per-anchor boxes already
//                decoded against the priors, per-class scores (softmax or
//                sigmoid). K = classes + 1: index 0 is the background and
//                class c is index c + 1; K = classes: no background column.
//                Boxes with score > conf per class, class-wise NMS, the best
//                max_detections (the SSD paper's evaluation: conf 0.01,
//                NMS 0.45).
//   post-NMS     boxes [1, D, 4], scores [1, D] and labels [1, D] (integers,
//                or floats holding integers; the output named like "label" or
//                "class" when both are float), optionally a detection count
//                [1] or [1, 1]: taken as they are (label_offset subtracted).
// Box corners are x0, y0, x1, y1, in fractions of the model input when every
// coordinate of the image lies in [-0.5, 1.5], else in input pixels; mapped
// to the original image through the preprocessing (eval/adapters/geometry.h).
#include <cstddef>
#include <string>
#include <vector>

#include "eval/adapters/geometry.h"
#include "eval/metrics/detection_map.h"
#include "ir/tensor.h"

namespace c8 {

struct SsdDecode {
  double conf = 0.01;
  double nms_iou = 0.45;
  size_t max_detections = 100;
  size_t classes = 0;    // the data set's class count; 0 = unknown (K - 1 classes assumed: background first)
  int label_offset = 0;  // post-NMS labels: data set class = label - offset
  // Non-empty: model class id (a post-NMS label, or a score column with
  // column 0 the background) -> data set class, -1 for none (COCO ids).
  const std::vector<int>* class_of_id = nullptr;
};

// True when the output shapes (batch dimension first) have the SSD form.
// coco_ids (--label-ids coco): a score head must have a column per COCO
// category id (kCocoColumns, column 0 the background).
constexpr int64_t kCocoColumns = 91;
bool ssd_outputs_fit(const std::vector<Shape>& outs, size_t classes, bool coco_ids = false);

// outs: one sample's outputs ([1, ...]); names: the graph's output names (for
// the labels / scores choice), may be empty. Throws c8::Error on other shapes.
std::vector<DetectedBox> decode_ssd(const std::vector<Tensor>& outs, const std::vector<std::string>& names,
                                    const ImageGeometry& g, const SsdDecode& p = {});

}  // namespace c8
