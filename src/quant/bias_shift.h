#pragma once
// Fast bias correction without re-running the layer.
//
// POT's FastBiasCorrection (openvino/tools/pot/algorithms/quantization/
// fast_bias_correction) corrects each quantized layer's bias by
//   shift[m] = mean(y_fp32[m]) - mean(y_q[m]),
// the mean taken over the batch and every output position, where y_fp32 is the
// layer on its FP32 input with FP32 weights and y_q the layer on the quantized
// input with quantized weights. POT (and calibr8 before) ran the layer a second
// time to get y_q. But a conv is linear, so the mean of its output over the
// output positions is
//   sum over (c, kernel taps) of W[m, c, tap] * T[c, tap],
// where T[c, tap] sums the input element that this tap reads at every output
// position (zero padding included). T costs a pass over the input per kernel
// column, far less than the conv itself, so the correction pass costs about one
// FP32 forward instead of two. Gemm is the 1x1 case: T is the column sum of A.
#include <vector>

#include "ir/graph.h"
#include "ir/tensor.h"
#include "quant/fake_quant.h"

namespace c8 {

// A 4-D activation stored as [N][C / block][H][W][block] (NHWC: one block of
// all C channels): element strides, as the runtime's observers hand it over.
struct ChannelLayout {
  int64_t block = 0, s_block = 0, s_h = 0, s_w = 0, s_n = 0;
};

class LayerMeanShift {
 public:
  // node: a Conv (1-3 spatial dims) or Gemm of g; w: its FP32 weight;
  // wq: the weight after QuantizeLinear -> DequantizeLinear (same shape).
  LayerMeanShift(const Graph& g, int node, Tensor w, Tensor wq);
  // One batch: x = the layer's FP32 input, xq = x after fake quantization.
  // Only the first n_valid samples of dim 0 count (the rest is padding).
  void add(const Tensor& x, const Tensor& xq, size_t n_valid);
  // The same batch in consecutive pieces of samples (the calibration session
  // runs large inputs a few samples at a time): add_part() each piece in
  // order, then end_batch(). Sums run sample by sample in the same order as
  // add() of the whole batch, so the result is bit-identical to it.
  void add_part(const Tensor& x, const Tensor& xq, size_t n_valid);
  void end_batch();
  // add_part() for a 2-D Conv whose input x (logical shape [N, C, H, W]) is in
  // a channel-blocked layout; xq is computed on the fly with q. Same bits as
  // add_part() on the plain copies (same float operations in the same order
  // per channel), without the copies.
  void add_part_blocked(const float* x, const Shape& shape, const ChannelLayout& layout, size_t n_valid,
                        const FakeQuantParams& q);
  // Per output channel: mean FP32 output - mean quantized output, bias
  // excluded (it is the same in both). Gemm: before beta (see calibrate.cc).
  std::vector<double> shift() const;
  bool empty() const { return count_ == 0; }
  // Exposed for tests: per-(channel, tap) input sums of one batch.
  static std::vector<double> conv_tap_sums(const Node& n, const Tensor& x, size_t n_valid, const Shape& w_shape);
  // The same, added sample by sample into T (size C * taps).
  static void add_conv_tap_sums(const Node& n, const Tensor& x, size_t n_valid, const Shape& w_shape,
                                std::vector<double>& T);

 private:
  Node node_;
  Tensor w_, wq_;
  std::vector<double> tx_, tq_;  // accumulated tap sums of x and xq
  std::vector<double> bx_, bq_;  // the current batch's, before they join tx_ / tq_
  double count_ = 0;             // output positions summed (samples x spatial)
  double positions(const Shape& x_shape) const;  // output positions per sample
  void add_gemm_col_sums(const Tensor& x, size_t n_valid, std::vector<double>& s) const;
};

}  // namespace c8
