// The analytic mean shift (per-tap input sums) must equal the mean of the
// layer's actual outputs: run the layer with the reference kernels on both
// inputs and weights and compare, over odd geometries.
#include <gtest/gtest.h>

#include <cmath>

#include <omp.h>

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


// The bias pass reads channel-blocked inputs (NHWC, nChw8c, nChw16c) in place
// and fake-quantizes them on the fly: its sums must be the very bits of the
// plain path on NCHW copies, whatever the channel count (tail lanes), the
// geometry (the all-rows-minus-edges path of stride 1, the row-progression
// path of strides) and the split of channels over threads.
TEST(BiasShift, BlockedLayoutsGiveThePlainBits) {
  struct Geo {
    const char* name;
    Node n;
    int64_t k;
  };
  const std::vector<Geo> geos = {{"3x3 pad1", conv_node("3x3 pad1", {3, 3}, {}, {1, 1, 1, 1}, {}, 1), 3},
                                 {"3x3 s2 asym", conv_node("3x3 s2 asym", {3, 3}, {2, 2}, {0, 1, 2, 0}, {}, 1), 3},
                                 {"5x5 p2", conv_node("5x5 p2", {5, 5}, {}, {2, 2, 2, 2}, {}, 1), 5},
                                 {"dilated", conv_node("dilated", {3, 3}, {}, {2, 2, 2, 2}, {2, 2}, 1), 3},
                                 {"1x1 s2", conv_node("1x1 s2", {1, 1}, {2, 2}, {}, {}, 1), 1}};
  struct Lay {
    const char* name;
    int64_t block;  // 0: NHWC
    std::vector<int64_t> channels;
  };
  const std::vector<Lay> lays = {{"NHWC", 0, {5, 13, 24}}, {"nChw8c", 8, {8, 24, 40}}, {"nChw16c", 16, {16, 48}}};
  FakeQuantParams q;
  q.scale = 0.05f;
  q.zero_point = 3.f;
  q.lo = 0.f;
  q.hi = 255.f;
  const int threads_before = omp_get_max_threads();
  for (const Geo& geo : geos)
    for (const Lay& lay : lays)
      for (int64_t C : lay.channels)
        for (int threads : {1, 2, 3}) {
          omp_set_num_threads(threads);
          const int64_t N = 3, H = 9, W = 11, M = 4;
          const Shape xs{N, C, H, W}, ws{M, C, geo.k, geo.k};
          Graph g;
          Node proto = geo.n;
          proto.inputs = {g.add_value("x", DType::F32), g.add_constant("w", randn_like(ws, 1))};
          g.nodes.push_back(proto);
          Tensor w = randn_like(ws, 2), wq = randn_like(ws, 3);
          LayerMeanShift plain(g, 0, w, wq), blocked(g, 0, w, wq);
          Tensor x = randn_like(xs, uint64_t(10 + C)), xq(DType::F32, xs);
          for (int64_t i = 0; i < x.numel(); ++i) xq.data<float>()[i] = fake_quant1(x.data<float>()[i], q);
          ChannelLayout cl;
          cl.block = lay.block == 0 ? C : lay.block;
          cl.s_w = cl.block;
          cl.s_h = W * cl.block;
          cl.s_block = lay.block == 0 ? 0 : H * W * cl.block;
          cl.s_n = C * H * W;
          std::vector<float> packed(size_t(x.numel()));
          for (int64_t n = 0; n < N; ++n)
            for (int64_t c = 0; c < C; ++c)
              for (int64_t h = 0; h < H; ++h)
                for (int64_t ww = 0; ww < W; ++ww)
                  packed[size_t(n * cl.s_n + (c / cl.block) * cl.s_block + h * cl.s_h + ww * cl.s_w + c % cl.block)] =
                      x.data<float>()[((n * C + c) * H + h) * W + ww];
          plain.add_part(x, xq, 2);  // the third sample is padding
          blocked.add_part_blocked(packed.data(), xs, cl, 2, q);
          plain.end_batch();
          blocked.end_batch();
          const std::vector<double> a = plain.shift(), b = blocked.shift();
          ASSERT_EQ(a.size(), b.size());
          for (size_t i = 0; i < a.size(); ++i)
            ASSERT_EQ(a[i], b[i]) << geo.name << " " << lay.name << " C=" << C << " threads=" << threads << " channel " << i;
        }
  omp_set_num_threads(threads_before);
}

}  // namespace
}  // namespace c8
