#pragma once
// calibrate --method accuracy-aware: the validation side (images, labels or
// pseudo-labels, batched runs) around quant/accuracy_aware.h, and what the
// command prints and reports.
#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

#include "eval/datasets/dataset.h"

#include "eval/evaluator.h"
#include "eval/preprocess.h"
#include "ir/graph.h"
#include "quant/accuracy_aware.h"

namespace c8 {

struct AccuracyAwareArgs {
  std::string dataset, validate_range, holdout, drop_type, ranking;
  std::string task, adapter;  // --task / --adapter ("" = guessed from the annotations and outputs)
  double max_drop = 1.0;  // points (absolute) or percent (relative)
  bool pseudo_labels = false, same_as_calibration = false, try_mixed = false;
  bool sensitivity = true;  // the per-layer table (each layer quantized alone)
  size_t calib_first = 0, calib_last = 0;  // the calibration range when the data set is the same
  int batch = 8;
  bool fixed_batch = false;
  int threads = 1;
  std::string tune = "cached";  // kernel choice for timings (--tune)
};

struct AccuracyAwareRun {
  AccuracyAwareResult result;
  nlohmann::json report;  // what --report and --json get under "accuracy_aware"
  std::string text;       // the lines printed without --json
  std::string summary;    // one line: FP32, final, drop, bound
};

// The images a calibrated model is validated on: --validate-range A:B of the
// data set, else every image outside the calibration range when the
// calibration images come from the same data set (all of them otherwise).
// Throws c8::Error naming the flag when none are left.
std::vector<size_t> validation_images(const Dataset& ds, const std::string& dataset, const std::string& validate_range,
                                      bool same_as_calibration, size_t calib_first, size_t calib_last);

AccuracyAwareRun run_accuracy_aware(const Graph& fp32, const std::string& model_path, const CalibSource& calib,
                                    const CalibSettings& s, const Preprocess& p, const ImageInput& in,
                                    const AccuracyAwareArgs& a, const AccuracyAwareProgress& progress);

}  // namespace c8
