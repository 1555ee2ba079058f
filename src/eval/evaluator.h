#pragma once
// Runs a classifier over (a subset of) a data set in batches and scores it.
#include <functional>
#include <string>
#include <vector>

#include "eval/datasets/dataset.h"
#include "eval/metrics/topk.h"
#include "eval/preprocess.h"
#include "runtime/session.h"

namespace c8 {

struct ImageInput {  // geometry of the model's single image input
  int channels = 3, height = 224, width = 224;
  bool nhwc = false;
};

struct EvalResult {
  TopK topk;
  size_t images = 0;
  double seconds = 0;         // wall time, decode + preprocess + inference
  double infer_seconds = 0;   // inference only
  std::vector<int> predictions;  // top-1 class index per evaluated image (label offset removed)
};

// Builds a batch tensor [n, C, H, W] (or NHWC) from samples idx[first, first+n);
// labels / sizes (the decoded images' width and height): appended per sample.
Tensor make_batch(const Dataset& ds, const std::vector<size_t>& idx, size_t first, size_t n, const Preprocess& p,
                  const ImageInput& in, std::vector<int>* labels = nullptr,
                  std::vector<std::pair<int, int>>* sizes = nullptr);

// `indices` empty = the whole data set. `progress(done, total)` is called after each batch.
EvalResult evaluate_classifier(Session& s, const Dataset& ds, const std::vector<size_t>& indices, const Preprocess& p,
                               const ImageInput& in, int batch,
                               const std::function<void(size_t, size_t)>& progress = {},
                               bool pad_last_batch = false);  // fixed-batch models: repeat the last image

}  // namespace c8
