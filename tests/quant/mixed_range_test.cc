// Outputs that survive INT8: a detector-shaped toy whose output concatenates
// box coordinates in pixels (0..300) and sigmoid scores (0..1), refined by a
// residual Add. The Add asks for its inputs in INT8, so the Concat's inputs
// would share one 8-bit scale (NNCF's / POT's unification) and the scores
// would keep one or two of its 256 levels. Calibration must see the mixed
// ranges, keep that group in FP32 with the reason written down, and the INT8
// model's scores must stay within cosine 0.999 of FP32.
#include <gtest/gtest.h>

#include <cmath>

#include "eval/agreement.h"
#include "quant/calibrate.h"
#include "report/compare.h"
#include "quant_test_util.h"
#include "runtime/session.h"

namespace c8 {
namespace {

using c8test::GraphBuilder;

Graph toy_detector() {
  GraphBuilder b;
  int x = b.input("image", {-1, 3, 8, 8});
  b.g.values[size_t(x)].dim_param0 = "N";
  int f = b.op("Relu", "relu1", {b.conv("backbone", x, 3, 8, 3)});
  auto scalar = [&](const std::string& n, float v) { return b.g.add_constant(n, Tensor::scalar_f32(v)); };
  int t = b.op("Tanh", "box_tanh", {b.conv("box", f, 8, 4, 1)});
  int coords = b.op("Add", "to_pixels", {b.op("Mul", "box_scale", {t, scalar("half_size", 150.f)}), scalar("centre", 150.f)});
  int scores = b.op("Sigmoid", "score_sigmoid", {b.conv("score", f, 8, 1, 1)});
  int cat = b.op("Concat", "detections", {coords, scores}, {-1, 5, 8, 8});
  b.g.nodes.back().set_i("axis", 1);
  int refine = b.conv("refine", f, 8, 5, 1, {-1, 5, 8, 8});
  int out = b.op("Add", "refined", {cat, refine});
  b.g.outputs = {out};
  return b.g;
}

CalibSource images(size_t n, uint64_t seed) { return c8test::random_source(n, 1, seed); }

// compare FP32 vs INT8 on 3 photos without annotations, shrunk to 8x8.
CompareResult compare_on_photos(const Graph& fp32, const Graph& int8) {
  CompareConfig c;
  c.dataset = std::string(C8_SHARED_DIR) + "/data/voc2012-seg-3/images";
  c.pre.width = c.pre.height = 8;
  c.pre.mean = {127.5f};
  c.pre.std = {64.f};  // pixels to about [-2, 2], the calibration images' range
  c.input = ImageInput{3, 8, 8, false};
  c.speed = false;
  c.layer_images = 1;
  return compare_models(fp32, int8, c);
}

TEST(MixedRange, DetectorScoresSurviveInt8) {
  const Graph g = prepare_for_calibration(toy_detector());
  CalibSettings s;
  const CalibResult r = calibrate_graph(g, images(32, 100), s);
  // The Concat group was dropped, and the report says why.
  ASSERT_TRUE(r.report.contains("fp32_reasons"));
  bool concat_named = false;
  for (const auto& w : r.report["fp32_reasons"])
    if (w["node"] == "detections") {
      concat_named = true;
      EXPECT_NE(w["reason"].get<std::string>().find("would leave the narrowest"), std::string::npos) << w.dump();
    }
  EXPECT_TRUE(concat_named) << r.report["fp32_reasons"].dump();
  EXPECT_TRUE(r.graph.metadata.count("calibr8.fp32_reasons"));
  // The backbone and the heads stay INT8.
  EXPECT_GE(r.placement.layers.size(), 4u);

  Session fp32(g), int8(r.graph);
  double score_cos = 0, all_cos = 0;
  const int kImages = 16;
  for (int i = 0; i < kImages; ++i) {
    const Tensor x = c8test::randn_like({1, 3, 8, 8}, 5000 + uint64_t(i), 2.f);
    const Tensor a = fp32.run({x})[0], b = int8.run({x})[0];
    ASSERT_EQ(a.shape, (Shape{1, 5, 8, 8}));
    double cs, nmse, mx;
    similarity(a.data<float>() + 4 * 64, b.data<float>() + 4 * 64, 64, cs, nmse, mx);  // channel 4: scores
    score_cos += cs / kImages;
    similarity(a.data<float>(), b.data<float>(), size_t(a.numel()), cs, nmse, mx);
    all_cos += cs / kImages;
  }
  std::printf("[mixed range] INT8 vs FP32 cosine: scores %.6f, whole output %.6f\n", score_cos, all_cos);
  EXPECT_GE(score_cos, 0.999);
  EXPECT_GE(all_cos, 0.999);

  // compare's per-layer table says why: the refine/score convs that read the
  // Concat keep FP32 only if they lost their quantized input; here the
  // Concat feeds an Add, so every conv stays INT8 and no row needs a reason,
  // while a conv behind the dropped group would carry it (next test).
  const CompareResult cr = compare_on_photos(g, r.graph);
  EXPECT_FALSE(cr.annotated);
  EXPECT_GE(cr.agreement_json["outputs"][0]["cosine"].get<double>(), 0.999);
}

// A Conv reading a mixed-range Concat loses its INT8 input: it keeps FP32
// weights, and compare's per-layer row names the reason.
TEST(MixedRange, ConvBehindDroppedGroupSaysWhy) {
  GraphBuilder b;
  int x = b.input("image", {-1, 3, 8, 8});
  b.g.values[size_t(x)].dim_param0 = "N";
  int f = b.op("Relu", "relu1", {b.conv("backbone", x, 3, 8, 3)});
  auto scalar = [&](const std::string& n, float v) { return b.g.add_constant(n, Tensor::scalar_f32(v)); };
  int coords = b.op("Mul", "box_scale", {b.op("Tanh", "box_tanh", {b.conv("box", f, 8, 4, 1)}), scalar("k", 300.f)});
  int scores = b.op("Sigmoid", "score_sigmoid", {b.conv("score", f, 8, 1, 1)});
  int cat = b.op("Concat", "detections", {coords, scores}, {-1, 5, 8, 8});
  b.g.nodes.back().set_i("axis", 1);
  b.g.outputs = {b.conv("fuse", cat, 5, 3, 1)};
  const Graph g = prepare_for_calibration(b.g);
  const CalibResult r = calibrate_graph(g, images(16, 9), CalibSettings{});
  bool fuse_fp32 = false;
  for (const auto& w : r.report["fp32_reasons"]) fuse_fp32 |= w["node"] == "fuse";
  EXPECT_TRUE(fuse_fp32) << r.report["fp32_reasons"].dump();
  for (int l : r.placement.layers) EXPECT_NE(g.nodes[size_t(l)].name, "fuse");
  const CompareResult cr = compare_on_photos(g, r.graph);
  bool noted = false;
  for (const LayerRow& row : cr.layers)
    if (row.node == "fuse") noted = row.note.find("kept FP32 by calibration") != std::string::npos;
  EXPECT_TRUE(noted);
}

// Groups of similar ranges (a Concat of two branches of one feature map)
// keep their shared INT8 scale: nothing is dropped, the file has no reasons.
TEST(MixedRange, SimilarBranchesStayInt8) {
  GraphBuilder b;
  int x = b.input("image", {-1, 3, 8, 8});
  b.g.values[size_t(x)].dim_param0 = "N";
  int f = b.op("Relu", "relu1", {b.conv("stem", x, 3, 8, 3)});
  int l = b.op("Relu", "left_relu", {b.conv("left", f, 8, 4, 1)});
  int rr = b.op("Relu", "right_relu", {b.conv("right", f, 8, 4, 3)});
  int cat = b.op("Concat", "join", {l, rr});
  b.g.nodes.back().set_i("axis", 1);
  b.g.outputs = {b.conv("head", cat, 8, 6, 1)};
  const Graph g = prepare_for_calibration(b.g);
  const CalibResult r = calibrate_graph(g, images(16, 7), CalibSettings{});
  EXPECT_TRUE(r.report["fp32_reasons"].empty()) << r.report["fp32_reasons"].dump();
  EXPECT_FALSE(r.graph.metadata.count("calibr8.fp32_reasons"));
  EXPECT_EQ(r.placement.layers.size(), 4u);
}

}  // namespace
}  // namespace c8
