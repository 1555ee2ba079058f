// Activation equalization into depthwise layers (quant/equalize.h).
#include "quant/equalize.h"

#include <gtest/gtest.h>

#include <cmath>

#include "ir/onnx_export.h"
#include "quant/quant_test_util.h"
#include "runtime/session.h"

namespace c8 {
namespace {

using c8test::GraphBuilder;
using c8test::random_source;

// x -> conv1 (3 -> 8, 1x1) -> Clip(0, 6) or Relu -> dw (3x3 depthwise, 8) -> conv2 (8 -> 4).
// conv1's output channels get gains from 0.02 to 1: after the Clip, one
// per-tensor quantizer serves channels whose ranges differ 50 times.
Graph depthwise_net(bool relu = false) {
  GraphBuilder b;
  int x = b.input("x", {-1, 3, 8, 8});
  int y = b.conv("conv1", x, 3, 8, 1);
  Tensor& w = *b.g.values[size_t(b.g.find_value("conv1.w"))].constant;
  for (int c = 0; c < 8; ++c)
    for (int k = 0; k < 3; ++k) w.data<float>()[c * 3 + k] *= (c % 2 ? 1.f : 0.02f) * 4.f;
  int a;
  if (relu) {
    a = b.op("Relu", "act", {y});
  } else {
    int lo = b.g.add_constant("clip.lo", Tensor::scalar_f32(0.f));
    int hi = b.g.add_constant("clip.hi", Tensor::scalar_f32(6.f));
    a = b.op("Clip", "act", {y, lo, hi});
  }
  // The depthwise layer makes up for the small channels (as a trained network
  // does): every output channel matters as much.
  Tensor dwt = c8test::randn_like({8, 1, 3, 3}, 77, 0.5f);
  for (int c = 0; c < 8; c += 2)
    for (int k = 0; k < 9; ++k) dwt.data<float>()[c * 9 + k] *= 50.f;
  int dw_w = b.g.add_constant("dw.w", dwt);
  int dw_b = b.g.add_constant("dw.b", c8test::randn_like({8}, 78, 0.1f));
  int d = b.val("dw.out");
  int n = b.g.add_node("Conv", {a, dw_w, dw_b}, {d}, "dw");
  b.g.nodes[size_t(n)].set_i("group", 8);
  b.g.nodes[size_t(n)].set_ints("kernel_shape", {3, 3});
  b.g.nodes[size_t(n)].set_ints("pads", {1, 1, 1, 1});
  int out = b.conv("conv2", d, 8, 4, 1);
  b.g.outputs.push_back(out);
  return prepare_for_calibration(b.g);
}

double nmse(const Tensor& ref, const Tensor& got) {
  double num = 0, den = 0;
  for (int64_t i = 0; i < ref.numel(); ++i) {
    double d = double(ref.data<float>()[i]) - got.data<float>()[i];
    num += d * d, den += double(ref.data<float>()[i]) * ref.data<float>()[i];
  }
  return num / std::max(den, 1e-30);
}

TEST(Equalize, FindsConvActivationDepthwiseOnly) {
  for (bool relu : {false, true}) {
    Graph g = depthwise_net(relu);
    auto sites = find_equalize_sites(g);
    ASSERT_EQ(sites.size(), 1u);
    EXPECT_EQ(g.nodes[size_t(sites[0].producer)].name, "conv1");
    EXPECT_EQ(g.nodes[size_t(sites[0].consumer)].name, "dw");
    EXPECT_EQ(sites[0].channels, 8);
  }
  // The activation read elsewhere too (a graph output): scaling would change it.
  Graph g = depthwise_net();
  g.outputs.push_back(g.find_value("act.out"));
  EXPECT_TRUE(find_equalize_sites(g).empty());
  // A weight another node shares.
  Graph h = depthwise_net();
  int dw = -1;
  for (size_t i = 0; i < h.nodes.size(); ++i)
    if (h.nodes[i].name == "dw") dw = int(i);
  ASSERT_GE(dw, 0);
  int extra = h.add_value("extra.out", DType::F32);
  h.add_node("Identity", {h.nodes[size_t(dw)].inputs[1]}, {extra}, "extra");
  h.outputs.push_back(extra);
  EXPECT_TRUE(find_equalize_sites(h).empty());
}

TEST(Equalize, FactorsEvenTheRangesAndLeaveDeadChannels) {
  std::vector<double> s = equalize_factors({6.f, 0.5f, 0.f, 0.001f});
  EXPECT_DOUBLE_EQ(s[0], 1.0);
  EXPECT_DOUBLE_EQ(s[1], 12.0);
  EXPECT_DOUBLE_EQ(s[2], 1.0);                 // never moved off zero
  EXPECT_DOUBLE_EQ(s[3], kMaxEqualizeFactor);  // nearly silent: capped
}

// The transformed FP32 graph computes the same function on the calibration
// images (the Clip never cuts a value the calibration saw).
TEST(Equalize, Fp32FunctionUnchanged) {
  Graph g = depthwise_net();
  CalibSettings s;
  s.equalize = true;
  s.bias_correction = false;
  CalibResult r = calibrate_graph(g, random_source(kMinEqualizeImages, 8, 5), s);
  ASSERT_EQ(r.report["equalization"].size(), 1u);
  EXPECT_GT(r.report["equalization"][0]["max_factor"].get<double>(), 10.0);
  // Rebuild the equalized FP32 graph the same way and compare it with g.
  Graph e = g;
  auto sites = find_equalize_sites(e);
  std::vector<std::vector<float>> cmax(1, std::vector<float>(8, 0.f));
  Session probe([&] {
    Graph t = g;
    t.outputs = {t.find_value("act.out")};
    return t;
  }());
  CalibSource src = random_source(kMinEqualizeImages, 8, 5);
  for (size_t b = 0; b < src.batches; ++b) {
    size_t nv = 0;
    Tensor a = probe.run({src.get(b, nv)})[0];
    const int64_t hw = 64;
    for (int64_t i = 0; i < a.shape[0]; ++i)
      for (int c = 0; c < 8; ++c)
        for (int64_t k = 0; k < hw; ++k) cmax[0][size_t(c)] = std::max(cmax[0][size_t(c)], a.data<float>()[(i * 8 + c) * hw + k]);
  }
  // The calibration read the same maxima (in the conv's blocked layout).
  const std::vector<double> f = equalize_factors(cmax[0]);
  double fmax = 1, flog = 0;
  for (double v : f) fmax = std::max(fmax, v), flog += std::log(v);
  EXPECT_NEAR(r.report["equalization"][0]["max_factor"].get<double>(), fmax, 1e-9 * fmax);
  EXPECT_NEAR(r.report["equalization"][0]["geomean_factor"].get<double>(), std::exp(flog / 8), 1e-9);
  apply_equalization(e, sites, cmax);
  Session before(g), after(e);
  for (size_t b = 0; b < src.batches; ++b) {
    size_t nv = 0;
    Tensor x = src.get(b, nv);
    Tensor y0 = before.run({x})[0], y1 = after.run({x})[0];
    EXPECT_LT(nmse(y0, y1), 1e-10);
  }
}

// The point of it: the INT8 model's output is much closer to FP32.
TEST(Equalize, Int8OutputCloserToFp32) {
  for (bool relu : {false, true}) {
    Graph g = depthwise_net(relu);
    CalibSettings on, off;
    on.equalize = true;
    CalibResult a = calibrate_graph(g, random_source(32, 8, 9), on);
    CalibResult b = calibrate_graph(g, random_source(32, 8, 9), off);
    EXPECT_EQ(b.report["equalization"].size(), 0u);
    Session fp(g), qa(a.graph), qb(b.graph);
    Tensor x = c8test::randn_like({8, 3, 8, 8}, 4242, 2.f);  // not a calibration image
    Tensor ref = fp.run({x})[0];
    double ea = nmse(ref, qa.run({x})[0]), eb = nmse(ref, qb.run({x})[0]);
    EXPECT_LT(ea * 4, eb) << "relu " << relu << ": equalized NMSE " << ea << ", plain " << eb;
  }
}

// Per-tensor weights: the factors would spread the weight range; and too few
// images to trust the channel maxima: left alone. The file then has the
// bytes of a calibration without it.
TEST(Equalize, NotWithPerTensorWeightsOrFewImages) {
  Graph g = depthwise_net();
  CalibSettings s, off;
  s.bias_correction = off.bias_correction = false;
  s.equalize = true;
  CalibResult few = calibrate_graph(g, random_source(kMinEqualizeImages - 1, 8, 1), s);
  EXPECT_EQ(few.report["equalization"].size(), 0u);
  EXPECT_EQ(onnx_bytes(few.graph), onnx_bytes(calibrate_graph(g, random_source(kMinEqualizeImages - 1, 8, 1), off).graph));
  EXPECT_EQ(calibrate_graph(g, random_source(kMinEqualizeImages, 8, 1), s).report["equalization"].size(), 1u);
  s.weight_per_tensor = true;
  EXPECT_EQ(calibrate_graph(g, random_source(kMinEqualizeImages, 8, 1), s).report["equalization"].size(), 0u);
}

// AccuracyAware's variants share a CalibCache: the channel maxima are measured
// once and the cached calibration has the bytes of a fresh one.
TEST(Equalize, CachedChannelMaximaGiveTheSameModel) {
  Graph g = depthwise_net();
  CalibCache cache;
  CalibSettings fresh, cached;
  fresh.equalize = cached.equalize = true;
  cached.cache = &cache;
  const std::string want = onnx_bytes(calibrate_graph(g, random_source(kMinEqualizeImages, 8, 3), fresh).graph);
  EXPECT_EQ(onnx_bytes(calibrate_graph(g, random_source(kMinEqualizeImages, 8, 3), cached).graph), want);
  EXPECT_EQ(onnx_bytes(calibrate_graph(g, random_source(kMinEqualizeImages, 8, 3), cached).graph), want);
  EXPECT_EQ(cache.equalize_passes, 1u);
  EXPECT_EQ(cache.channel_max.size(), 1u);
}

}  // namespace
}  // namespace c8
