#pragma once
// FastestDet's single output [1, 85, GH, GW] (../shared/ASSETS.md section 3):
// channel 0 objectness (already sigmoid), 1..4 box regression, 5..84 class
// probabilities (already softmax). One box per cell:
//   score = obj^0.6 * max(cls)^0.4, class = argmax(cls),
//   cx = (tanh(tx) + gx) / GW, cy = (tanh(ty) + gy) / GH, w = sigmoid(tw), h = sigmoid(th)
// in fractions of the whole image, scaled to the original image size (the
// model sees it stretched), not clipped; boxes with score > conf, then
// class-wise NMS and the best max_detections.
#include <cstddef>
#include <vector>

#include "eval/metrics/detection_map.h"
#include "ir/tensor.h"

namespace c8 {

struct FastestDetDecode {
  double conf = 0.001;  // the author's mAP setting (0.65 in his demo)
  double nms_iou = 0.45;
  size_t max_detections = 100;
};

// out: one sample's [85, GH, GW] values (or [1, 85, GH, GW]); image_w/h: the
// original image size. Throws c8::Error on another shape.
std::vector<DetectedBox> decode_fastestdet(const Tensor& out, int image_w, int image_h, const FastestDetDecode& p = {});

}  // namespace c8
