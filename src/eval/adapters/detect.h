#pragma once
// One image's boxes from a detector's outputs, by adapter name: the one place
// that knows every detection decoder (adding one = its file + a line here and
// in eval/task.cc's list).
#include <string>
#include <vector>

#include "eval/adapters/geometry.h"
#include "eval/metrics/detection_map.h"
#include "ir/tensor.h"

namespace c8 {

struct DetectContext {
  std::vector<std::string> output_names;  // the graph's, in output order
  size_t classes = 0;                     // the data set's class count (0 = unknown)
  int label_offset = 0;
  // Model class id -> data set class (-1: not in the data set), when the
  // model's ids are not the data set's indexes (Preprocess::label_ids);
  // empty: class = id - label_offset.
  std::vector<int> class_of_id;
};

// outs: one sample's outputs ([1, ...]), in the graph's order. Throws
// c8::Error for an unknown adapter or outputs it cannot read.
std::vector<DetectedBox> decode_detections(const std::string& adapter, const std::vector<Tensor>& outs,
                                           const ImageGeometry& g, const DetectContext& ctx);

}  // namespace c8
