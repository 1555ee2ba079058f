#pragma once
// The engine behind `calibr8 compare A B`: accuracy of both models on the same
// images and their top-1 agreement, interleaved A/B latency at batch 1, and a
// per-layer comparison of B (the candidate, typically INT8) against A (the
// reference) matched by output value name.
//
// Per-layer outputs are captured with SessionOptions.optimize = false on both
// models so intermediate names survive (fusions would hide them). Layers are
// B's compute nodes (Conv, ConvTranspose, Gemm, MatMul and quantized forms)
// plus B's graph outputs; a QDQ model's Conv keeps its output name, so it is
// matched to A's Conv of the same name. Precision comes from what ran in B's
// optimised session (Session::kernels() impl) when that names 8-bit
// arithmetic, otherwise from the graph (a Conv fed by DequantizeLinear of a
// uint8 tensor is "U8": quantization simulated in float on the reference path).
#include <nlohmann/json.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "eval/datasets/dataset.h"
#include "eval/agreement.h"
#include "eval/evaluator.h"
#include "eval/task_eval.h"
#include "eval/preprocess.h"
#include "ir/graph.h"
#include "runtime/session.h"

namespace c8 {

struct LatencyStats {
  std::vector<double> ms;  // every timed run
  double median_ms = 0, p90_ms = 0, mean_ms = 0, min_ms = 0;
  double throughput_ips = 0;  // images per second of model time
  void finish(int64_t batch);  // computes the statistics from ms
};

struct ModelReport {
  std::string path;
  uint64_t file_bytes = 0;
  int64_t parameters = 0;
  double top1 = 0, top5 = 0;  // classification
  nlohmann::json metrics;     // the task's metrics (eval/task_eval.h), when the data set is annotated
  size_t images = 0;
  LatencyStats latency;
  std::map<std::string, int> kernels;  // impl -> count in the optimised session
};

struct LayerRow {
  std::string name;       // B's output value name (the match key)
  std::string node, op;   // B's node
  std::string precision;  // "U8", "I8" or "FP32"
  std::string weights;    // "I8 per-channel", "I8 per-tensor", "FP32", "-"
  std::string impl;       // kernel that ran in B's optimised session ("" if not found)
  bool int8_kernel = false;  // the kernel computes in 8-bit integer arithmetic (else float: simulated or fallback)
  bool matched = false;      // A has a value of that name with the same shape
  std::string note;          // why not matched
  double cosine = 0, nmse = 0;  // mean over images
  double nmse_max = 0, max_abs = 0;
  int images = 0;
};

struct CompareConfig {
  std::string path_a, path_b, dataset;
  uint64_t bytes_a = 0, bytes_b = 0;  // model sizes when not files (the embedded default); 0: size of the file
  Preprocess pre;
  ImageInput input;       // geometry of the (common) image input
  int64_t fixed_batch = -1;  // > 0: the model's input batch is fixed
  int limit = 0;          // 0 = whole data set
  std::string range;      // "A:B", "A:", ":B" or "N" (= 0:N): images [A, B) in file order, after --limit (as evaluate)
  int batch = 0;          // evaluation batch (0: 8, or the fixed batch)
  int threads = 1;
  Tune tune = Tune::Off;   // kernel choice by measurement for both models
  double seconds = 4;     // total time of the interleaved latency measurement
  int warmup = 3;
  int layer_images = 16;
  bool accuracy = true, speed = true, layers = true;
  std::string task, adapter;  // --task / --adapter ("" = from the annotations / the output's shape)
};

struct CompareResult {
  CompareConfig config;
  ModelReport a, b;
  std::string dataset_format;
  size_t images = 0, agree = 0;
  double agreement = 0;  // fraction of images with the same top-1
  bool has_task = false;    // the task is known (annotations, flags, or a [N, classes] output)
  TaskChoice task;
  bool annotated = false;   // accuracy measured (else accuracy_note says why not)
  std::string accuracy_note;
  std::string metric;       // headline metric key of the task ("top1", "map50", "miou")
  nlohmann::json agreement_json;  // eval/agreement.h: B's outputs against A's, no labels needed
  int64_t bench_batch = 1;
  int rounds = 0;        // interleaved rounds
  double speedup = 0;    // A median / B median
  int layer_images = 0;
  std::vector<LayerRow> layers;
  // Graph output of B vs A as the optimised sessions run them (B's real INT8
  // kernels, where the per-layer rows see the unfused QDQ graph), over the same images.
  bool has_fast_output = false;
  double fast_output_cosine = 0, fast_output_nmse = 0;
};

// stage: "evaluate", "layers", "bench"
using CompareProgress = std::function<void(const std::string& stage, size_t done, size_t total)>;

// Runs everything. Throws c8::Error (one line naming the file / image at fault).
CompareResult compare_models(const Graph& a, const Graph& b, const CompareConfig& c,
                             const CompareProgress& progress = {});

// Per-layer statistics of B against A over `inputs` (one tensor per run).
std::vector<LayerRow> compare_layers(const Graph& a, const Graph& b, const std::vector<Tensor>& inputs, int threads,
                                     const CompareProgress& progress = {});
// Fills precision / weights / impl of rows from B's graph and its optimised session's last plan.
void assign_layer_precision(std::vector<LayerRow>& rows, const Graph& b, const Session& b_fast);

// "A:B", "A:", ":B", "N" (= 0:N) -> [first, end) clamped to n. Throws c8::Error on junk or an empty range.
std::pair<size_t, size_t> parse_image_range(const std::string& spec, size_t n);


// Alternates blocks of runs of A and B (order swapped every round) for `seconds`.
void bench_interleaved(Session& a, Session& b, const std::vector<Tensor>& inputs, double seconds, int warmup,
                       LatencyStats& la, LatencyStats& lb, int* rounds = nullptr);
// The same for any number of models (order rotated every round); stats[i] for sessions[i].
void bench_interleaved(const std::vector<Session*>& sessions, const std::vector<Tensor>& inputs, double seconds,
                       int warmup, std::vector<LatencyStats>& stats, int* rounds = nullptr);

}  // namespace c8
