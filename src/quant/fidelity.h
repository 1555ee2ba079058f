#pragma once
// The Default method's output fidelity guard: Default quantizes every
// INT8-capable layer, and on most models its output stays within cosine 0.99
// of FP32. Where it does not -- mobilenet_v1_0.25, whose first block's
// 8- and 16-channel tensors lose that much to 8-bit steps, 0.975 -- the guard
// gives the fewest, cheapest-to-find layers back to FP32 until it does, within
// a cap on the compute given back, and says which and why in the file.
//
// It is accuracy-aware quantization (quant/accuracy_aware.h: rank each layer
// reverted alone, revert in rank order, undo what does not help) with the
// output cosine against FP32 as the metric, decided on the first calibration
// images, so it needs no labels and no second data set (aiming above the bound,
// as those images flatter INT8). Its runs time no kernels (Tune::Exact): the
// file never depends on timing. Ranked by accuracy
// alone (no timing), so the file is the same on every run. One FP32 and one
// INT8 pass over those images when Default already meets the bound.
#include <nlohmann/json.hpp>

#include "ir/graph.h"
#include "quant/calibrate.h"
#include "runtime/tuning.h"

namespace c8 {

struct FidelitySettings {
  double min_cosine = 0.99;     // 0: no guard (plain Default)
  size_t images = 64;           // the first N calibration images decide
  double max_share = 0.15;      // of the quantized layers' multiply-adds, at most this goes back to FP32
  int threads = 1;
};

struct FidelityResult {
  CalibResult model;            // Default, or Default with the layers given back
  nlohmann::json report;        // min_cosine, images, default / final cosine, met, reverted, share, seconds
};

FidelityResult calibrate_with_fidelity(const Graph& fp32, const CalibSource& calib, const CalibSettings& s,
                                       const FidelitySettings& f, const PassProgress& progress = {});

}  // namespace c8
