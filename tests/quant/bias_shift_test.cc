// The analytic mean shift (per-tap input sums) must equal the mean of the
// layer's actual outputs: run the layer with the reference kernels on both
// inputs and weights and compare, over odd geometries.
#include <gtest/gtest.h>

#include <cmath>

#include "quant/bias_shift.h"
#include "quant_test_util.h"
#include "runtime/session.h"

namespace c8 {
namespace {

using c8test::randn_like;

// Mean over valid samples and output positions of layer(x; w), per channel.
std::vector<double> output_means(const Node& proto, const Tensor& x, const Tensor& w, size_t n_valid) {
  Graph g;
  int xi = g.add_value("x", DType::F32);
  g.values[size_t(xi)].shape = x.shape;
  g.values[size_t(xi)].has_shape = true;
  g.inputs = {xi};
  int wi = g.add_constant("w", w);
  int y = g.add_value("y", DType::F32);
  int k = g.add_node(proto.op, {xi, wi}, {y}, "layer");
  g.nodes[size_t(k)].attrs = proto.attrs;
  g.outputs = {y};
  SessionOptions o;
  o.fast = false;  // reference kernels: the oracle
  Session s(g, o);
  Tensor out = s.run({x})[0];
  const int axis = 1;  // channels (Conv) or output columns (Gemm)
  int64_t C = out.shape[size_t(axis)], inner = 1;
  for (int i = 2; i < out.rank(); ++i) inner *= out.shape[size_t(i)];
  std::vector<double> m(size_t(C), 0.0);
  int64_t rows = std::min<int64_t>(out.shape[0], int64_t(n_valid));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t i = 0; i < inner; ++i) m[size_t(c)] += out.data<float>()[(r * C + c) * inner + i];
  for (double& v : m) v /= double(rows * inner);
  return m;
}

void check_layer(const Node& n, Shape xs, Shape ws, size_t n_valid, uint64_t seed) {
  Graph g;
  Node proto = n;
  int x0 = g.add_value("x", DType::F32);
  int w0 = g.add_constant("w", randn_like(ws, seed));
  proto.inputs = {x0, w0};
  g.nodes.push_back(proto);
  Tensor w = randn_like(ws, seed + 1), wq = randn_like(ws, seed + 2);
  LayerMeanShift ms(g, 0, w, wq);
  std::vector<double> fp(size_t(n.op == "Conv" ? ws[0] : 1), 0.0), q = fp;
  double batches = 0;
  for (int b = 0; b < 2; ++b) {  // two batches accumulate
    Tensor x = randn_like(xs, seed + 10 + uint64_t(b)), xq = randn_like(xs, seed + 20 + uint64_t(b));
    for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] += 0.3f;  // nonzero mean: padding matters
    ms.add(x, xq, n_valid);
    std::vector<double> a = output_means(n, x, w, n_valid), c = output_means(n, xq, wq, n_valid);
    fp.resize(a.size());
    q.resize(a.size());
    for (size_t i = 0; i < a.size(); ++i) {
      fp[i] += a[i];
      q[i] += c[i];
    }
    ++batches;
  }
  std::vector<double> got = ms.shift();
  ASSERT_EQ(got.size(), fp.size()) << n.name;
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], (fp[i] - q[i]) / batches, 1e-4 * (1 + std::fabs(fp[i]))) << n.name << " channel " << i;
}

Node conv_node(const std::string& name, std::vector<int64_t> k, std::vector<int64_t> strides,
               std::vector<int64_t> pads, std::vector<int64_t> dil, int64_t group) {
  Node n;
  n.op = "Conv";
  n.name = name;
  n.set_ints("kernel_shape", k);
  if (!strides.empty()) n.set_ints("strides", strides);
  if (!pads.empty()) n.set_ints("pads", pads);
  if (!dil.empty()) n.set_ints("dilations", dil);
  if (group != 1) n.set_i("group", group);
  return n;
}

TEST(BiasShift, ConvMatchesReferenceOutputs) {
  check_layer(conv_node("3x3 pad1", {3, 3}, {}, {1, 1, 1, 1}, {}, 1), {2, 3, 9, 7}, {4, 3, 3, 3}, 2, 1);
  check_layer(conv_node("3x3 s2 asym pads", {3, 3}, {2, 2}, {0, 1, 2, 0}, {}, 1), {2, 3, 11, 10}, {5, 3, 3, 3}, 2, 2);
  check_layer(conv_node("7x7 s2 p3", {7, 7}, {2, 2}, {3, 3, 3, 3}, {}, 1), {1, 3, 15, 13}, {4, 3, 7, 7}, 1, 3);
  check_layer(conv_node("dilated", {3, 3}, {}, {2, 2, 2, 2}, {2, 2}, 1), {2, 2, 8, 9}, {3, 2, 3, 3}, 2, 4);
  check_layer(conv_node("depthwise s2", {3, 3}, {2, 2}, {1, 1, 1, 1}, {}, 6), {2, 6, 9, 9}, {6, 1, 3, 3}, 2, 5);
  check_layer(conv_node("grouped 1x1", {1, 1}, {}, {}, {}, 2), {2, 4, 5, 5}, {6, 2, 1, 1}, 2, 6);
  check_layer(conv_node("1x1 s2", {1, 1}, {2, 2}, {}, {}, 1), {2, 4, 7, 6}, {3, 4, 1, 1}, 2, 7);
  check_layer(conv_node("1-D", {5}, {3}, {2, 1}, {}, 1), {2, 3, 17}, {4, 3, 5}, 2, 8);
  check_layer(conv_node("3-D", {2, 3, 3}, {1, 2, 1}, {1, 0, 1, 0, 1, 1}, {}, 1), {1, 2, 4, 7, 5}, {3, 2, 2, 3, 3}, 1, 9);
  check_layer(conv_node("padding rows not counted", {3, 3}, {}, {1, 1, 1, 1}, {}, 1), {4, 2, 5, 5}, {2, 2, 3, 3}, 3, 10);
}

TEST(BiasShift, GemmMatchesReferenceOutputs) {
  Node n;
  n.op = "Gemm";
  n.name = "gemm";
  check_layer(n, {5, 7}, {7, 3}, 5, 11);
  n.set_i("transB", 1);
  n.set_f("alpha", 0.5f);
  check_layer(n, {5, 7}, {3, 7}, 4, 12);
}

// The calibration session runs a batch in pieces: add_part() over the pieces
// then end_batch() must give the very bits of add() on the whole batch, so
// that the piece size never changes a calibrated file.
TEST(BiasShift, PiecesGiveTheBitsOfTheWholeBatch) {
  for (const std::string op : {"Conv", "Gemm"}) {
    Node n = op == "Conv" ? conv_node("3x3", {3, 3}, {}, {1, 1, 1, 1}, {}, 1) : Node();
    if (op == "Gemm") n.op = "Gemm", n.name = "gemm";
    const Shape xs = op == "Conv" ? Shape{5, 3, 9, 8} : Shape{5, 7}, ws = op == "Conv" ? Shape{4, 3, 3, 3} : Shape{7, 3};
    Graph g;
    Node proto = n;
    proto.inputs = {g.add_value("x", DType::F32), g.add_constant("w", randn_like(ws, 1))};
    g.nodes.push_back(proto);
    Tensor w = randn_like(ws, 2), wq = randn_like(ws, 3);
    LayerMeanShift whole(g, 0, w, wq), parts(g, 0, w, wq);
    for (int b = 0; b < 3; ++b) {
      Tensor x = randn_like(xs, 10 + uint64_t(b)), xq = randn_like(xs, 20 + uint64_t(b));
      whole.add(x, xq, 4);  // the fifth sample is padding
      const int64_t per = x.numel() / xs[0];
      for (int64_t first : {0, 1, 3}) {  // pieces of 1, 2 and 2 samples
        const int64_t k = first == 0 ? 1 : 2;
        Shape ps = xs;
        ps[0] = k;
        Tensor px = Tensor::wrap(DType::F32, ps, x.data<float>() + first * per);
        Tensor pq = Tensor::wrap(DType::F32, ps, xq.data<float>() + first * per);
        parts.add_part(px, pq, size_t(std::min<int64_t>(k, 4 - first)));
      }
      parts.end_batch();
    }
    const std::vector<double> a = whole.shift(), b = parts.shift();
    ASSERT_EQ(a.size(), b.size()) << op;
    for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], b[i]) << op << " channel " << i;
  }
}

}  // namespace
}  // namespace c8
