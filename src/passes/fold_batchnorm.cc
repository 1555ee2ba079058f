// Inference BatchNormalization after a Conv or Gemm is an affine map per
// output channel, so it folds into the weights and bias:
//   s = gamma / sqrt(var + eps);  W' = W * s (per output channel);  b' = (b - mean) * s + beta
#include <cmath>

#include "passes/pass_util.h"
#include "passes/passes.h"

namespace c8 {

namespace {

bool bn_params(const Graph& g, const Node& bn, std::vector<float>& s, std::vector<float>& shift,
               std::vector<float>& mean) {
  if (bn.inputs.size() < 5) return false;
  for (int k = 1; k < 5; ++k)
    if (!g.is_const(bn.inputs[size_t(k)])) return false;
  if (bn.outputs.size() > 1)
    for (size_t k = 1; k < bn.outputs.size(); ++k)
      if (bn.outputs[k] >= 0) return false;  // training-mode outputs requested
  if (bn.attr_i("training_mode", 0) != 0) return false;
  auto gamma = g.const_of(bn.inputs[1]).to_f32_vector();
  auto beta = g.const_of(bn.inputs[2]).to_f32_vector();
  mean = g.const_of(bn.inputs[3]).to_f32_vector();
  auto var = g.const_of(bn.inputs[4]).to_f32_vector();
  float eps = bn.attr_f("epsilon", 1e-5f);
  size_t c = gamma.size();
  if (beta.size() != c || mean.size() != c || var.size() != c) return false;
  s.resize(c);
  shift = beta;
  for (size_t i = 0; i < c; ++i) s[i] = gamma[i] / std::sqrt(var[i] + eps);
  return true;
}

}  // namespace

int fold_batchnorm(Graph& g) {
  int n = 0;
  auto cons = g.consumers();
  for (size_t bi = 0; bi < g.nodes.size(); ++bi) {
    Node& bn = g.nodes[bi];
    if (bn.dead || bn.op != "BatchNormalization" || !bn.domain.empty() || bn.inputs.empty()) continue;
    int x = bn.inputs[0];
    if (x < 0 || g.values[size_t(x)].producer < 0 || !single_use(g, cons, x)) continue;
    Node& p = g.nodes[size_t(g.values[size_t(x)].producer)];
    if (p.dead || !p.post_ops.empty() || (p.op != "Conv" && p.op != "Gemm")) continue;
    if (p.inputs.size() < 2 || !g.is_const(p.inputs[1]) || g.const_of(p.inputs[1]).dtype != DType::F32) continue;
    std::vector<float> s, shift, mean;
    if (!bn_params(g, bn, s, shift, mean)) continue;
    Tensor w = g.const_of(p.inputs[1]).clone();
    size_t cout;
    bool gemm = p.op == "Gemm";
    if (gemm) {
      if (p.attr_i("transA", 0) != 0 || w.rank() != 2) continue;
      // BN over a 2-D Gemm output normalises dim 1 (the N outputs).
      cout = size_t(p.attr_i("transB", 0) ? w.shape[0] : w.shape[1]);
    } else {
      cout = size_t(w.shape[0]);
    }
    if (s.size() != cout) continue;
    float alpha = gemm ? p.attr_f("alpha", 1.f) : 1.f;
    float beta = gemm ? p.attr_f("beta", 1.f) : 1.f;
    std::vector<float> bias(cout, 0.f);
    int bidx = 2;
    if (p.input(bidx) >= 0) {
      if (!g.is_const(p.inputs[size_t(bidx)])) continue;
      const Tensor& b = g.const_of(p.inputs[size_t(bidx)]);
      if (b.numel() == int64_t(cout)) bias = b.to_f32_vector();
      else if (b.numel() == 1) bias.assign(cout, float(b.get_f64(0)));
      else continue;  // a full [M,N] C cannot fold per channel
      for (float& v : bias) v *= beta;
    }
    float* wd = w.data<float>();
    if (gemm && !p.attr_i("transB", 0)) {  // W is [K, N]: scale columns
      int64_t K = w.shape[0];
      for (int64_t k = 0; k < K; ++k)
        for (size_t c = 0; c < cout; ++c) wd[size_t(k) * cout + c] *= s[c] * alpha;
    } else {  // [Cout, ...]: scale rows
      int64_t per = w.numel() / int64_t(cout);
      for (size_t c = 0; c < cout; ++c)
        for (int64_t k = 0; k < per; ++k) wd[int64_t(c) * per + k] *= s[c] * alpha;
    }
    Tensor nb(DType::F32, {int64_t(cout)});
    for (size_t c = 0; c < cout; ++c) nb.data<float>()[c] = (bias[c] - mean[c]) * s[c] + shift[c];
    int wv = g.add_constant(g.unique_name(g.values[size_t(p.inputs[1])].name + "_bnfold"), w);
    int bv = g.add_constant(g.unique_name(bn.name + "_bias"), nb);
    Node& prod = g.nodes[size_t(g.values[size_t(x)].producer)];  // re-fetch: add_constant may reallocate values only
    prod.inputs[1] = wv;
    if (prod.inputs.size() < 3) prod.inputs.resize(3, -1);
    prod.inputs[2] = bv;
    if (gemm) {
      prod.set_f("alpha", 1.f);
      prod.set_f("beta", 1.f);
    }
    int y = bn.outputs[0];
    prod.outputs[0] = y;
    g.values[size_t(y)].producer = g.values[size_t(x)].producer;
    bn.dead = true;
    ++n;
  }
  if (n) g.compact();
  return n;
}

}  // namespace c8
