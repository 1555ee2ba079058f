#pragma once
// Per-pixel classes from segmentation logits [1, C, H, W] (or [C, H, W]):
// each class map resized to the mask's size with the preprocessing's bilinear
// rule (eval/preprocess.h, OpenCV INTER_LINEAR semantics), then the argmax
// over classes (the first of equal maxima, as numpy's).
#include <vector>

#include "ir/tensor.h"

namespace c8 {

std::vector<int> segmentation_classes(const Tensor& logits, int out_w, int out_h);

}  // namespace c8
