#pragma once
// Accuracy of a model on an annotated data set for its task (eval/task.h):
// each image's output decoded with the chosen adapter and scored against
// that image's annotation.
//   classify: top-1 / top-5 (eval/metrics/topk.h)
//   detect:   mAP@0.5 (VOC all-point, difficult boxes ignored) and COCO
//             mAP@[.5:.95], AP per class; boxes from VOC XML
//   segment:  mIoU and pixel accuracy (255 = void), IoU per class; masks
//             from grayscale or VOC palette PNGs
#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "eval/evaluator.h"
#include "eval/metrics/detection_map.h"
#include "eval/metrics/segmentation.h"
#include "eval/metrics/topk.h"
#include "eval/task.h"

namespace c8 {

struct TaskMetrics {
  TaskChoice choice;
  std::string metric;      // the headline metric's key: "top1", "map50" or "miou"
  double value = 0;        // its value (0..1)
  nlohmann::json metrics;  // every number, by key (the headline included); per-class lists
  size_t images = 0;
  double seconds = 0, infer_seconds = 0;
  std::vector<int> predictions;  // classify only: top-1 class per image (label offset removed)
};

// A human name for a metric key ("top-1", "mAP@0.5", "mIoU", ...).
std::string metric_label(const std::string& key);

// The shapes of the model's outputs for a batch of `batch` images of this
// geometry (the plan is built for it, which the first run needs anyway).
std::vector<Shape> output_shapes(Session& s, const ImageInput& in, int batch);
// The names of the model's outputs, in order.
std::vector<std::string> output_names(Session& s);

// Sample k of a batch output [n, ...] as a float [1, ...] tensor.
Tensor sample_of(const Tensor& batch_output, int64_t k, int64_t n);

// Output `output` of image k in a batch of n: sample_of, except for an output
// without the batch dimension (a side output), which is the whole batch's
// and returned as is. The first output (the one tasks read) must have it.
Tensor per_image(const Tensor& batch_output, size_t output, int64_t k, int64_t n);

// Scores images one at a time, in any order (compare runs two models over the
// same images in one pass).
class TaskScorer {
 public:
  // p, in: how images became the model's input (detections are mapped back
  // through it); output_names: the model's, in order (some decoders choose
  // outputs by name).
  TaskScorer(const Dataset& ds, const TaskChoice& task, const Preprocess& p, const ImageInput& in,
             std::vector<std::string> output_names);
  // outs: image i's model outputs, each as [1, ...]; image_w/h: its decoded size.
  void add(size_t i, const std::vector<Tensor>& outs, int image_w, int image_h);
  // metric / value / metrics / images / predictions filled (times are the caller's).
  TaskMetrics result() const;

 private:
  const Dataset& ds_;
  TaskChoice task_;
  int label_offset_;
  Preprocess pre_;
  ImageInput in_;
  std::vector<std::string> output_names_;
  std::vector<std::string> names_;
  std::vector<int> coco_ids_;  // Preprocess::label_ids "coco": COCO category id -> class
  TopK topk_;
  std::vector<int> predictions_;
  DetectionMap boxes_;
  std::unique_ptr<SegmentationConfusion> pixels_;
  size_t images_ = 0;
};

TaskMetrics evaluate_task(Session& s, const Dataset& ds, const std::vector<size_t>& indices, const Preprocess& p,
                          const ImageInput& in, int batch, const TaskChoice& task,
                          const std::function<void(size_t, size_t)>& progress = {}, bool pad_last_batch = false);

}  // namespace c8
