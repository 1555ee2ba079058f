#pragma once
// AccuracyAware quantization: the fastest model whose accuracy drop stays
// within a bound the user sets, on the images it decides on.
//
// The method of OpenVINO POT's AccuracyAwareQuantization and NNCF's
// quantize_with_accuracy_control: start from the Default result, rank the
// quantized layers by how much each one's quantization costs, give the worst
// back to FP32 one at a time, keep a revert only if accuracy did not fall,
// and stop when the bound is met. Ranking here reverts each layer alone and
// measures the NMSE of the model outputs against FP32 on a ranking subset
// (the images where INT8 and FP32 differ most), which works for every task.
// Beyond POT / NNCF: performance-aware ranking divides each layer's accuracy
// gain by the time reverting it costs (the layer's FP32 minus INT8 time,
// measured by the runtime's profiler), so the layers given back cost the
// least speed for the accuracy they buy.
#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "quant/calibrate.h"
#include "runtime/tuning.h"

namespace c8 {

// One image's model outputs, in the model's order, each [1, ...].
using ImageOutputs = std::vector<Tensor>;

// Cosine and sum (a - b)^2 / sum a^2 of one image's outputs (eval/agreement.h's,
// as compare reports them), averaged over the outputs so that a detector's
// box coordinates (pixels) do not drown its scores (0..1); an output whose
// shape changed (a post-NMS box list) counts as wholly different (cosine 0,
// NMSE 1), and no output counts for more than that.
void output_similarity(const ImageOutputs& ref, const ImageOutputs& x, double& cosine, double& nmse);

// How candidate models are judged: their outputs on validation images (rows
// index the validation set, 0..images-1) and the task metric of those
// outputs (higher is better: top-1, mAP, mIoU, or agreement with FP32).
struct Validation {
  size_t images = 0;
  std::function<std::vector<ImageOutputs>(const Graph& g, const std::vector<size_t>& rows)> run;
  std::function<double(const std::vector<ImageOutputs>& outs, const std::vector<size_t>& rows)> metric;
  std::string metric_name = "top1";
  // One input (batch 1) for timing each layer (performance-aware ranking).
  std::function<Tensor()> sample_input;
};

struct AccuracyAwareSettings {
  double max_drop = 0.01;          // absolute (metric units, 0.005 = 0.5 points) or relative (fraction of FP32)
  bool relative = false;
  bool performance_aware = false;  // true: gain per ms given back (timing-dependent); false: NNCF's order
  bool try_mixed = false;          // from the performance preset: try the mixed preset's Default first (POT's option)
  size_t ranking_images = 0;       // 0: a third of the decision images, at least 50 (all if fewer)
  std::vector<size_t> holdout;     // validation rows kept out of every decision (reported only)
  // Each layer quantized alone, on the ranking subset: output cosine / NMSE
  // against FP32 and its input quantizer's saturation (one pass a layer).
  bool sensitivity = true;
  int threads = 1;
  // Kernel choice for the per-layer timings (what the deployed model runs);
  // accuracy never depends on it: candidates are judged by Validation.
  Tune tune = Tune::Cached;
  // At most this share of the quantized layers' multiply-adds goes back to
  // FP32 (1: no cap); a revert that would pass it is skipped.
  double max_revert_share = 1.0;
  // Rank only this many layers, those with the fewest multiply-adds (0: all):
  // each ranked layer costs a rebuild and a pass over the ranking images.
  size_t max_candidates = 0;
  // Why a reverted layer is FP32, as the calibrated file records it
  // (calibr8.fp32_reasons, shown by compare); "" records nothing.
  std::string revert_reason;
};

// Multiply-adds of a Conv / Gemm / MatMul layer per image, from its weight and
// output shapes (an unknown dimension counts 1; a layer without a constant
// weight counts its output's size).
double layer_macs(const Graph& g, const std::string& layer);

struct AccuracyAwareStep {
  std::string layer;  // "" for the Default start
  double metric = 0, drop = 0;
  bool kept = true;   // false: the step was undone (a revert that lowered accuracy, a restore that broke the bound)
  std::string action = "revert";  // "default", "mixed preset", "revert" (layer to FP32), "restore" (layer back to INT8)
};

struct AccuracyAwareResult {
  CalibResult model;                 // the best model found
  Graph default_model;               // the Default result it started from
  bool met = false;                  // its drop is within the bound (on the decision images)
  double fp32 = 0, start = 0, final_metric = 0, bound = 0;
  std::vector<AccuracyAwareStep> steps;
  std::vector<std::string> reverted;  // layers given back to FP32, in order
  size_t layers = 0;                  // quantizable layers of the Default model
  size_t evaluations = 0;             // full passes over the decision images
  size_t ranking_evaluations = 0;     // passes over the ranking subset
  size_t calibrations = 0;
  size_t sensitivity_passes = 0;                  // passes over the ranking subset for the sensitivity table
  size_t statistics_passes = 0, bias_passes = 0;  // FP32 passes the calibrations ran (the rest reused, CalibCache)
  double seconds_stats = 0, seconds_bias = 0;  // the FP32 passes of the Default calibration (the rest reuse them)
  std::string preset;                 // the preset the answer uses (mixed when --try-mixed switched)
  double seconds = 0;
  nlohmann::json ranking;             // per layer: NMSE gain, revert cost (ms), score
  nlohmann::json sensitivity;         // per layer quantized alone: cosine, nmse, overflow_rate (null: not measured)
  nlohmann::json holdout;             // fp32 / final metric and drop on the held-out rows, when any
};

using AccuracyAwareProgress = std::function<void(const std::string& stage, size_t done, size_t total)>;

AccuracyAwareResult accuracy_aware_quantize(const Graph& fp32, const CalibSource& calib, const CalibSettings& s,
                                            const Validation& v, const AccuracyAwareSettings& a,
                                            const AccuracyAwareProgress& progress = {});

}  // namespace c8
