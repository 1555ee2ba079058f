#pragma once
// Post-training INT8 calibration ("DefaultQuantization": statistics ->
// ranges -> fast bias correction) producing a standard ONNX QDQ graph:
//   activations: QuantizeLinear -> DequantizeLinear pairs, per tensor
//                (performance preset: int8 zp 0, or uint8 zp 0 for
//                non-negative tensors; mixed preset: uint8 with zero point),
//   weights:     INT8 constant -> DequantizeLinear, per output channel,
//                zero point 0, range [-127, 127] ([-63, 63] where the
//                saturation fix applies),
//   bias:        FP32 (bias-corrected), opset >= 13.
#include <nlohmann/json.hpp>

#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "eval/datasets/dataset.h"
#include "eval/evaluator.h"
#include "ir/graph.h"
#include "quant/fake_quant.h"
#include "quant/placement.h"
#include "quant/stats.h"

namespace c8 {

// Bias correction estimates its per-channel mean shifts on the first 128
// calibration images by default; the statistics use every image (NNCF too
// bounds its bias correction, 100 samples, below its 300 for ranges). Measured on
// held-out images (mobilenet_v1_0.25 on imagenet-sample-500 200:500, resnet8 on
// cifar10 300:2000): the INT8 output's NMSE against FP32 is within 2 % of the
// all-images estimate at 128 (0.0648 vs 0.0647, 0.0092 vs 0.0090), 2-3 % off
// at 64 and 100, and top-1 moves by one to four images either way at any of
// 32..300 (noise); without bias correction mobilenet_v1 loses 5 points.
// Pooled over 7 rotating calibration windows (bench/bias_subset_accuracy.py:
// 2100 held-out images for mobilenet_v1, 11900 for resnet8, 70000 for the
// Fashion CNN), top-1 with 128 is equal to or above top-1 with all images
// for both presets. The
// pass costs one FP32 inference per image, so 128 keeps a 300-image calibration
// of resnet50 / mobilenet_v2 under 2x one FP32 pass (bench/calib_cost.sh).
constexpr size_t kDefaultBiasImages = 128;

// What earlier calibrations of the same prepared FP32 graph, from the same
// CalibSource with the same estimators and bias images, already measured:
// each activation's statistics (FP32 values do not depend on which layers
// are quantized) and each layer's bias shift (it depends only on the layer's
// weights, its input's quantizer and the FP32 activations). AccuracyAware
// calibrates dozens of variants that differ only in --ignore or the preset;
// with a cache each one after the first runs no statistics, bias or
// equalization pass whose results it already has. A calibration's output is a function of
// these numbers, so a cache filled by one order of calls gives the same bits
// on every run; it may differ in the last bits from a fresh calibration with
// the same settings (a different set of observed tensors changes which
// layers the FP32 pass fuses, and so its rounding).
struct CalibCache {
  std::map<std::string, TensorStats> stats;           // activation value name -> statistics
  std::map<std::string, std::vector<double>> shifts;  // layer + its quantizers -> per-channel bias shift
  std::map<std::string, std::vector<float>> channel_max;  // equalized value name -> per-channel largest |x|
  size_t stats_passes = 0, bias_passes = 0, equalize_passes = 0;  // passes actually run (the rest came from here)
};

struct CalibSettings {
  std::string preset = "performance";                // or "mixed"
  Estimator act_estimator = Estimator::MeanMinMax;   // POT's default for activations
  Estimator weight_estimator = Estimator::MinMax;    // POT's default for weights
  bool weight_per_tensor = false;                    // POT's per-tensor weights option (per channel by default)
  std::string saturation_fix = "auto";               // auto | none | first_layer | all
  // The CPU the model is calibrated for (POT's target_device): auto = this
  // CPU; vnni = 8-bit weights (exact where u8*s8 products sum in 32 bits);
  // avx2 and any = 7-bit weights, which no u8*s8 pair sum can saturate, so the
  // file runs exactly in INT8 on every x86 CPU and in every runtime.
  std::string target = "auto";  // auto | avx2 | vnni | any
  bool bias_correction = true;
  // Activation equalization into depthwise layers (quant/equalize.h): one
  // FP32 pass over the calibration images measures the channel ranges of each
  // depthwise layer's input. Not with per-tensor weights, nor with fewer than
  // kMinEqualizeImages calibration images. Off by default: it brings the INT8
  // output closer to FP32 (cosine, top-1 agreement), but on mobilenet_v1_0.25's
  // AVX2 path (7-bit weights, calibrated on 0:200) top-1 on 200:500 fell from
  // 53.67 % to 51.33 % while agreement with FP32 rose from 82 % to 84 %.
  bool equalize = false;
  // Images the bias correction pass runs on: the first N calibration images
  // (0 = all); the statistics pass sees every image. The pass costs about one
  // FP32 inference per image, so a large calibration set does not double the
  // time (kDefaultBiasImages says why 128).
  size_t bias_images = kDefaultBiasImages;
  std::vector<std::string> ignore;                   // node names or op types kept FP32
  // Why an ignored node is FP32, recorded in the file's calibr8.fp32_reasons
  // (compare shows it); ignored nodes without an entry record nothing.
  std::map<std::string, std::string> ignore_reasons;
  int threads = 1;
  CalibCache* cache = nullptr;                       // reuse / record statistics and bias shifts
};

// Calibration data, streamed batch by batch.
struct CalibSource {
  size_t batches = 0, images = 0;
  // Batch b as an input tensor; n_valid = number of real images in it (the
  // rest, if any, is padding and is not counted in the statistics).
  std::function<Tensor(size_t b, size_t& n_valid)> get;
};

// Batches of `batch` images idx[0..] from a data set (decoded lazily, one
// batch at a time). fixed_batch: the last partial batch is padded by repeating
// its last image (padding is not counted in statistics).
CalibSource dataset_source(const Dataset& ds, std::vector<size_t> idx, const Preprocess& p, const ImageInput& in,
                           int batch, bool fixed_batch);

struct QParams {
  QMode mode = QMode::SignedSym;
  DType dtype = DType::I8;
  float scale = 1.f;
  int zero_point = 0;
  Range range;
};
// Per-tensor activation parameters for a range on grid m (the range is first
// widened to contain 0).
QParams act_qparams(Range r, QMode m);
// Applies QuantizeLinear then DequantizeLinear (reference semantics).
void fake_quantize(const float* x, float* y, size_t n, const QParams& q);
// The grid and parameters fake_quantize applies for q (quant/fake_quant.h).
FakeQuantParams fake_quant_params(const QParams& q);

struct WeightQuant {
  Tensor q;                   // int8, same shape as the weight
  std::vector<float> scales;  // one per channel along axis
  Tensor dequantized;         // FP32 q * scale (what DequantizeLinear yields)
  int qmax = 127;
};
// Symmetric per-channel weight quantization to [-qmax, qmax] (zero point 0).
// per_tensor: one scale for the whole tensor (scales has one element).
WeightQuant quantize_weight(const Tensor& w, int axis, int qmax, Estimator e, bool per_tensor = false);

using PassProgress = std::function<void(const std::string& pass, size_t done, size_t total)>;

struct CalibResult {
  Graph graph;                  // the QDQ model (exportable: no post-ops)
  nlohmann::json report;        // settings, per-layer ranges/scales, bias shifts
  QuantPlacement placement;     // against the prepared FP32 graph
  std::vector<std::string> layer_names;  // the INT8 layers (what --ignore takes), in placement order
  std::vector<QParams> group_params;
  size_t stats_state_bytes = 0; // observer state after the statistics pass
  size_t bias_images = 0;       // images the bias correction pass ran on
  double seconds_stats = 0, seconds_bias = 0, seconds_total = 0, seconds_equalize = 0;
};

// Throws c8::Error "<display>: already quantized ..." if g holds
// quantization ops (QuantizeLinear, DequantizeLinear, QLinearConv, ...) or
// INT8/UINT8 initializers.
void refuse_quantized(const Graph& g, const std::string& display);
// Export-safe preparation: FP16 -> FP32, Identity removal, constant folding,
// BatchNormalization folding (never the fuse_* passes).
Graph prepare_for_calibration(Graph g);
// Runs the statistics pass, chooses ranges, quantizes weights, runs the fast
// bias correction pass and builds the QDQ graph. `fp32` must be prepared.
// "avx2" / "vnni" / "any" for a --target value ("auto" = this CPU, by the
// effective ISA). Throws c8::Error for anything else.
std::string resolve_target(const std::string& t);
// The target a calibr8 QDQ file was calibrated for ("" when not recorded).
std::string model_target(const Graph& g);

CalibResult calibrate_graph(const Graph& fp32, const CalibSource& src, const CalibSettings& s,
                            const PassProgress& progress = {});

// "A:B", "A:", ":B", "A" (= A:A+1 is not allowed: a single number N means
// 0:N) -> [first, last) clamped to n. Throws c8::Error on junk or A > B.
std::pair<size_t, size_t> parse_index_range(const std::string& spec, size_t n);

}  // namespace c8
