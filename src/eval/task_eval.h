#pragma once
// Accuracy of a model on an annotated data set for its task (eval/task.h):
// runs it in batches, decodes each image's output with the chosen adapter
// and scores it against that image's annotation.
//   classify: top-1 / top-5 (eval/evaluator.h)
//   detect:   mAP@0.5 (VOC all-point, difficult boxes ignored) and COCO
//             mAP@[.5:.95], AP per class; boxes from VOC XML
//   segment:  mIoU and pixel accuracy (255 = void), IoU per class; masks
//             from grayscale or VOC palette PNGs
#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

#include "eval/evaluator.h"
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

TaskMetrics evaluate_task(Session& s, const Dataset& ds, const std::vector<size_t>& indices, const Preprocess& p,
                          const ImageInput& in, int batch, const TaskChoice& task,
                          const std::function<void(size_t, size_t)>& progress = {}, bool pad_last_batch = false);

}  // namespace c8
