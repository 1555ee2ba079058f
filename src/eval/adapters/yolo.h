#pragma once
// YOLO-style detector outputs, one row per candidate box, boxes as centre and
// size in the model's input pixels (what the YOLOv5 / YOLOv8 ONNX exports
// give; the ultralytics val.py decoding is followed):
//   "yolo"   [1, N, 5 + classes]: cx, cy, w, h, objectness, class scores
//            (both already sigmoid); score = objectness * best class score
//   "yolov8" [1, 4 + classes, N]: cx, cy, w, h, class scores (no objectness);
//            score = best class score
// Boxes with score > conf, class-wise NMS (eval/adapters/nms.h), the best
// max_detections, mapped to the original image through the preprocessing
// (eval/adapters/geometry.h). One class per box (the best), as in detect.py.
#include <cstddef>
#include <vector>

#include "eval/adapters/geometry.h"
#include "eval/metrics/detection_map.h"
#include "ir/tensor.h"

namespace c8 {

struct YoloDecode {
  double conf = 0.001;  // val.py's mAP setting
  double nms_iou = 0.45;
  size_t max_detections = 100;  // COCO's limit per image
};

// out: one sample's output ([1, ...] or without the batch dimension).
// Throws c8::Error naming the expected shape on another.
std::vector<DetectedBox> decode_yolo(const Tensor& out, const ImageGeometry& g, const YoloDecode& p = {});
std::vector<DetectedBox> decode_yolov8(const Tensor& out, const ImageGeometry& g, const YoloDecode& p = {});

}  // namespace c8
