#pragma once
// What can be known about a candidate model B without labels: how close its
// outputs come to a reference model A's on the same images (compare on a
// not-annotated data set, or next to accuracy on an annotated one).
//   every output: cosine, NMSE (sum (a-b)^2 / sum a^2) and max abs error
//   classify: top-1 agreement
//   detect:   pseudo-mAP@0.5: A's confident boxes (score >= 0.25, the usual
//             deployment threshold) taken as ground truth for B's detections
//   segment:  pixel agreement of the per-pixel classes at the output's size
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include "eval/evaluator.h"
#include "eval/metrics/detection_map.h"
#include "eval/preprocess.h"
#include "eval/task.h"
#include "ir/tensor.h"

namespace c8 {

// Cosine similarity, NMSE and max abs difference of two equally sized arrays.
void similarity(const float* a, const float* b, size_t n, double& cosine, double& nmse, double& max_abs);

constexpr float kPseudoTruthScore = 0.25f;

class AgreementScorer {
 public:
  // task: what the first output is (decoded with task->adapter), or nullptr:
  // the outputs are only compared as numbers.
  // p, in: how images became the model's input (boxes are mapped back
  // through it); classes: the data set's class count (0 = unknown).
  AgreementScorer(std::vector<std::string> output_names, const TaskChoice* task, const Preprocess& p,
                  const ImageInput& in, size_t classes);
  // One image: both models' outputs, each [1, ...] in the same order; the
  // image's decoded size (detection boxes are in its pixels).
  void add(const std::vector<Tensor>& a, const std::vector<Tensor>& b, int image_w, int image_h);
  nlohmann::json result() const;

 private:
  struct Output {
    std::string name;
    double cosine = 0, nmse = 0, max_abs = 0;
    size_t samples = 0;
    bool shape_differs = false;
  };
  std::vector<Output> outputs_;
  bool has_task_ = false;
  Preprocess pre_;
  ImageInput in_;
  size_t classes_ = 0;
  TaskChoice task_;
  size_t images_ = 0, agree_ = 0;
  uint64_t pixels_ = 0, pixels_agree_ = 0;
  size_t truth_boxes_ = 0;
  DetectionMap pseudo_;
};

}  // namespace c8
