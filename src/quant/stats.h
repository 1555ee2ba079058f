#pragma once
// Streaming activation statistics and range estimators for post-training
// quantization.
//
// TensorStats is updated batch by batch from observer callbacks and holds a
// fixed amount of state whatever the number of images (state_bytes() does not
// grow): global min/max, the sums of per-sample min/max (for the mean_minmax
// estimator) and a histogram.
//
// Histogram design (one pass, "running range with re-binning"): kBins equal
// bins over a symmetric range [-R, R] whose centre (0) is a bin edge. R is set
// from the first non-zero sample (max |x|); whenever a later value exceeds R,
// R doubles and adjacent bin pairs are merged (old bins 2k, 2k+1 -> new bin
// kBins/4 + k), which is exact: no count is ever re-distributed, so the
// histogram equals one collected over the final range with coarser bins only
// where the range grew. Resolution is at worst kBins/4 bins over the final
// max |x| (1024 bins per side with kBins = 4096), ample for quantile / KL /
// MSE estimators that target 128..256 levels. A two-pass scheme (min/max pass
// then histogram pass) would double FP32 execution time for little gain.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "ir/tensor.h"

namespace c8 {

struct Histogram {
  static constexpr int kBins = 4096;
  double range = 0;               // R; 0 = nothing recorded yet (or all zeros)
  uint64_t zeros_before = 0;      // values seen while range == 0 (all exactly 0)
  std::vector<uint64_t> counts;   // kBins, over [-R, R]
  uint64_t exact_zeros = 0;       // values == 0 (also counted in the bin at 0); KL ignores them

  // Adds n values whose max |x| is amax (caller computed it).
  void add(const float* x, size_t n, float amax);
  uint64_t total() const;
  double width() const { return 2 * range / kBins; }
  double lower_edge(int i) const { return -range + i * width(); }
  // The value below which a fraction q of the recorded values lie (linear
  // interpolation inside the bin).
  double quantile(double q) const;
};

struct TensorStats {
  double min = 0, max = 0;  // valid when samples > 0
  double sum_sample_min = 0, sum_sample_max = 0;
  uint64_t samples = 0;
  bool want_hist = true;
  Histogram hist;

  // t: [N, ...] batch tensor (F32); the first n_valid slices along dim 0 are
  // samples (rank 0 / 1-sample tensors count as one sample).
  void add(const Tensor& t, size_t n_valid);
  // Adds one sample of raw values (weights, tests).
  void add_sample(const float* x, size_t n);
  double mean_min() const { return samples ? sum_sample_min / double(samples) : 0; }
  double mean_max() const { return samples ? sum_sample_max / double(samples) : 0; }
  // Bytes of state held (constant in the number of samples).
  size_t state_bytes() const;
};

enum class Estimator { MinMax, MeanMinMax, Quantile, KL, MSE };
Estimator parse_estimator(const std::string& s);  // throws c8::Error listing the choices
const char* estimator_name(Estimator e);
bool estimator_needs_histogram(Estimator e);

// The integer grid a range is mapped onto.
enum class QMode {
  SignedSym,    // int8, zero point 0, [-128, 127] (weights: [-127, 127])
  UnsignedSym,  // uint8, zero point 0 (non-negative tensors)
  Asym,         // uint8 with a zero point
};
const char* qmode_name(QMode m);

struct Range {
  double lo = 0, hi = 0;
};

// Outlier fraction of the quantile estimator (per tail).
constexpr double kQuantileOutliers = 1e-4;

// Range chosen by estimator `e` for a tensor with these statistics, for the
// grid `m` (KL and MSE depend on it). The result always lies inside
// [min, max] and, for symmetric grids, is symmetric / starts at 0.
Range estimate_range(const TensorStats& s, Estimator e, QMode m);

// TensorRT entropy calibration on a histogram of |x| (bins over [0, max_abs]):
// returns the clip threshold minimising KL(P || Q) where Q is P quantized to
// `levels` bins. Exposed for tests.
double kl_threshold(const std::vector<double>& abs_hist, double max_abs, int levels);

}  // namespace c8
