// AccuracyAware on a small conv chain with a stand-in metric (1 - 10 x the
// output's NMSE against FP32, so every INT8 layer costs accuracy): the
// Default start when it already meets the bound, layers given back to FP32
// until it does, an unreachable bound ending with met = false and the best
// model kept, held-out rows kept out of the decisions, and the same result
// twice (no dependence on timing in accuracy-only mode).
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <map>

#include "base/error.h"
#include "ir/onnx_export.h"
#include "quant/accuracy_aware.h"
#include "quant/fidelity.h"
#include "quant_test_util.h"
#include "runtime/session.h"

namespace c8 {
namespace {

using c8test::GraphBuilder;

Graph chain() {
  GraphBuilder b;
  int x = b.input("image", {-1, 3, 8, 8});
  b.g.values[size_t(x)].dim_param0 = "N";
  int y = b.op("Relu", "r1", {b.conv("c1", x, 3, 8, 3)});
  y = b.op("Relu", "r2", {b.conv("c2", y, 8, 8, 3)});
  y = b.op("Relu", "r3", {b.conv("c3", y, 8, 8, 1)});
  b.g.outputs = {b.conv("c4", y, 8, 4, 1)};
  return b.g;
}

CalibSource images(size_t n) { return c8test::random_source(n, 1, 500); }

// chain() with layer c2 made quantization-hostile: channel 0 of its input
// (c1's output) sits near 400 where the others stay near 1, so one 8-bit
// scale for the tensor leaves the other channels a level or two; c2 ignores
// channel 0 (zero weights), so in FP32 the outlier costs nothing.
Graph chain_with_outlier() {
  Graph g = chain();
  for (size_t i = 0; i < g.values.size(); ++i) {
    Value& val = g.values[i];
    if (!val.constant) continue;
    Tensor& t = *val.constant;
    if (val.name == "c1.b") t.data<float>()[0] = 400.f;
    if (val.name == "c2.w")  // [8 out, 8 in, 3, 3]: input channel 0 of every filter
      for (int64_t o = 0; o < 8; ++o)
        for (int64_t k = 0; k < 9; ++k) t.data<float>()[(o * 8 + 0) * 9 + k] = 0.f;
  }
  return g;
}

struct Fixture {
  Graph g;
  std::vector<Tensor> inputs;
  std::vector<ImageOutputs> ref;
  size_t runs = 0;
  Validation v;
  explicit Fixture(size_t n = 24, const Graph& model = chain()) : g(prepare_for_calibration(model)) {
    for (size_t i = 0; i < n; ++i) inputs.push_back(c8test::randn_like({1, 3, 8, 8}, 900 + i, 2.f));
    v.images = n;
    v.run = [this](const Graph& m, const std::vector<size_t>& rows) {
      ++runs;
      Session s(m);
      std::vector<ImageOutputs> o;
      for (size_t r : rows) o.push_back(s.run({inputs[r]}));
      return o;
    };
    ref = v.run(g, [&] {
      std::vector<size_t> all(n);
      for (size_t i = 0; i < n; ++i) all[i] = i;
      return all;
    }());
    v.metric = [this](const std::vector<ImageOutputs>& outs, const std::vector<size_t>& rows) {
      double e = 0;
      for (size_t k = 0; k < rows.size(); ++k) {
        double num = 0, den = 0;
        const float* y = outs[k][0].data<float>();
        const float* r = ref[rows[k]][0].data<float>();
        for (int64_t j = 0; j < outs[k][0].numel(); ++j) {
          num += (y[j] - r[j]) * (y[j] - r[j]);
          den += r[j] * r[j];
        }
        e += num / den;
      }
      return 1 - 10 * e / double(rows.size());
    };
  }
};

AccuracyAwareSettings settings(double max_drop) {
  AccuracyAwareSettings a;
  a.max_drop = max_drop;
  a.performance_aware = false;
  return a;
}

TEST(AccuracyAware, DefaultThatMeetsTheBoundIsTheAnswer) {
  Fixture f;
  const AccuracyAwareResult r = accuracy_aware_quantize(f.g, images(16), CalibSettings{}, f.v, settings(1.0));
  EXPECT_TRUE(r.met);
  EXPECT_TRUE(r.reverted.empty());
  EXPECT_EQ(r.ranking_evaluations, 0u);
  EXPECT_EQ(r.calibrations, 1u);
  EXPECT_EQ(r.layers, 4u);
  ASSERT_EQ(r.steps.size(), 1u);
  EXPECT_DOUBLE_EQ(r.final_metric, r.start);
}

TEST(AccuracyAware, RevertsUntilTheBoundIsMet) {
  Fixture f;
  // the Default drop, then a bound halfway to it
  const AccuracyAwareResult d = accuracy_aware_quantize(f.g, images(16), CalibSettings{}, f.v, settings(1.0));
  const double drop = d.fp32 - d.start;
  ASSERT_GT(drop, 1e-4) << "the stand-in metric sees no quantization error";
  const AccuracyAwareResult r = accuracy_aware_quantize(f.g, images(16), CalibSettings{}, f.v, settings(drop / 2));
  EXPECT_TRUE(r.met);
  EXPECT_GE(r.final_metric, r.fp32 - drop / 2);
  EXPECT_FALSE(r.reverted.empty());
  EXPECT_LT(r.reverted.size(), r.layers);
  EXPECT_EQ(r.ranking_evaluations, r.layers);  // every layer reverted alone once
  EXPECT_EQ(r.ranking.size(), r.layers);
  // The steps: the start, then each revert with its accuracy; kept ones never lower it.
  ASSERT_GE(r.steps.size(), 2u);
  double last = r.steps[0].metric;
  for (size_t i = 1; i < r.steps.size(); ++i)
    if (r.steps[i].kept && r.steps[i].action == "revert") {
      EXPECT_GE(r.steps[i].metric, last);
      last = r.steps[i].metric;
    }
  // The model returned is the one measured: its layers minus the reverted ones.
  EXPECT_EQ(r.model.layer_names.size(), r.layers - r.reverted.size());
  for (const std::string& l : r.reverted)
    for (const std::string& q : r.model.layer_names) EXPECT_NE(l, q);
  // Same inputs, same answer.
  const AccuracyAwareResult again = accuracy_aware_quantize(f.g, images(16), CalibSettings{}, f.v, settings(drop / 2));
  EXPECT_EQ(again.reverted, r.reverted);
  EXPECT_DOUBLE_EQ(again.final_metric, r.final_metric);
}

TEST(AccuracyAware, UnreachableBoundEndsNotMetWithTheBestModel) {
  Fixture f;
  // The stand-in metric punishes every quantized model the same: no revert helps.
  auto base = f.v.metric;
  size_t calls = 0;
  f.v.metric = [&](const std::vector<ImageOutputs>& o, const std::vector<size_t>& rows) {
    return calls++ == 0 ? base(o, rows) : base(o, rows) - 0.5;
  };
  const AccuracyAwareResult r = accuracy_aware_quantize(f.g, images(16), CalibSettings{}, f.v, settings(0.01));
  EXPECT_FALSE(r.met);
  EXPECT_LT(r.final_metric, r.bound);
  EXPECT_GT(r.model.graph.nodes.size(), 0u);
}

TEST(AccuracyAware, HoldoutRowsStayOutOfTheDecisions) {
  Fixture f(24);
  AccuracyAwareSettings a = settings(1.0);
  for (size_t i = 16; i < 24; ++i) a.holdout.push_back(i);
  std::vector<size_t> seen;
  auto run = f.v.run;
  f.v.run = [&](const Graph& m, const std::vector<size_t>& rows) {
    seen.insert(seen.end(), rows.begin(), rows.end());
    return run(m, rows);
  };
  const AccuracyAwareResult r = accuracy_aware_quantize(f.g, images(16), CalibSettings{}, f.v, a);
  ASSERT_TRUE(r.holdout.is_object());
  EXPECT_EQ(r.holdout["images"], 8);
  size_t held_reads = 0;
  for (size_t s : seen) held_reads += s >= 16;
  // only the final held-out check reads rows >= 16: FP32 and the answer, 8 each
  EXPECT_EQ(held_reads, 16u);
}

TEST(AccuracyAware, TryMixedStepsBeforeRevertingLayers) {
  Fixture f;
  AccuracyAwareSettings a = settings(0.0);
  a.try_mixed = true;
  const AccuracyAwareResult r = accuracy_aware_quantize(f.g, images(16), CalibSettings{}, f.v, a);
  ASSERT_GE(r.steps.size(), 2u);
  EXPECT_EQ(r.steps[0].action, "default");
  EXPECT_EQ(r.steps[1].action, "mixed preset");
  // the preset kept is the better Default of the two
  EXPECT_EQ(r.preset, r.steps[1].metric > r.steps[0].metric ? "mixed" : "performance");
  EXPECT_GE(r.calibrations, 2u);
}

TEST(AccuracyAware, TheHostileLayerIsRevertedFirst) {
  Fixture f(24, chain_with_outlier());
  const AccuracyAwareResult d = accuracy_aware_quantize(f.g, images(16), CalibSettings{}, f.v, settings(1.0));
  const double drop = d.fp32 - d.start;
  ASSERT_GT(drop, 1e-3) << "the outlier costs nothing in INT8: the test would prove nothing";
  const AccuracyAwareResult r = accuracy_aware_quantize(f.g, images(16), CalibSettings{}, f.v, settings(drop / 2));
  ASSERT_FALSE(r.reverted.empty());
  EXPECT_EQ(r.reverted[0], "c2");
  EXPECT_EQ(r.ranking[0]["layer"], "c2");
  // The sensitivity table says the same on its own: c2 quantized alone moves
  // the output most.
  ASSERT_TRUE(r.sensitivity.is_array());
  ASSERT_EQ(r.sensitivity.size(), r.layers);
  std::string worst;
  double worst_nmse = -1;
  for (const auto& e : r.sensitivity) {
    EXPECT_GE(e["cosine"].get<double>(), -1.0);
    EXPECT_LE(e["cosine"].get<double>(), 1.0 + 1e-9);
    if (e["nmse"].get<double>() > worst_nmse) worst_nmse = e["nmse"].get<double>(), worst = e["layer"].get<std::string>();
  }
  EXPECT_EQ(worst, "c2");
  EXPECT_EQ(r.sensitivity_passes, r.layers);
}

TEST(AccuracyAware, SensitivityCountsSaturatedInputs) {
  // c1 reads the image; its quantizer's range is estimated by the mean of
  // per-image min / max, so the largest pixels of some images saturate. With
  // the ranking subset equal to every image, the rate is known exactly.
  Fixture f(24);
  AccuracyAwareSettings a = settings(1.0);
  a.ranking_images = 24;
  const AccuracyAwareResult r = accuracy_aware_quantize(f.g, images(16), CalibSettings{}, f.v, a);
  ASSERT_TRUE(r.sensitivity.is_array());
  const nlohmann::json* c1 = nullptr;
  for (const auto& e : r.sensitivity)
    if (e["layer"] == "c1") c1 = &e;
  ASSERT_NE(c1, nullptr);
  ASSERT_TRUE((*c1)["overflow_rate"].is_number()) << "c1's input quantizer was not found";
  // the quantizer's grid, from the Default model: value x saturates beyond
  // the ends by more than half a step
  const Graph& q = r.default_model;
  double scale = 0, zp = 0, qmin = 0, qmax = 255;
  for (const Node& n : q.nodes)
    if (n.op == "QuantizeLinear" && q.values[size_t(n.inputs[0])].name == "image") {
      scale = q.const_of(n.inputs[1]).cast(DType::F32).data<float>()[0];
      const Tensor& z = q.const_of(n.inputs[2]);
      if (z.dtype == DType::I8) qmin = -128, qmax = 127;
      zp = z.cast(DType::F32).data<float>()[0];
    }
  ASSERT_GT(scale, 0);
  const double lo = (qmin - zp - 0.5) * scale, hi = (qmax - zp + 0.5) * scale;
  size_t over = 0, all = 0;
  for (const Tensor& x : f.inputs)
    for (int64_t i = 0; i < x.numel(); ++i) {
      over += x.data<float>()[i] < lo || x.data<float>()[i] > hi;
      ++all;
    }
  EXPECT_GT(over, 0u) << "no pixel saturates: the test would not see a wrong count";
  EXPECT_DOUBLE_EQ((*c1)["overflow_rate"].get<double>(), double(over) / double(all));
}

TEST(AccuracyAware, PerformanceRankingReusesItsTimings) {
  // Per-node times vary from run to run; kept in the tuning cache, the second
  // run on this machine reads the first run's and ranks the same way.
  char tmpl[] = "/tmp/c8_aa_cacheXXXXXX";
  const char* dir = mkdtemp(tmpl);
  ASSERT_NE(dir, nullptr);
  setenv("XDG_CACHE_HOME", dir, 1);
  struct Restore {  // also when an assertion ends the test early
    std::string dir;
    ~Restore() {
      unsetenv("XDG_CACHE_HOME");
      std::filesystem::remove_all(dir);
    }
  } restore{dir};
  Fixture f;
  f.v.sample_input = [&f]() { return f.inputs[0]; };
  const AccuracyAwareResult d = accuracy_aware_quantize(f.g, images(16), CalibSettings{}, f.v, settings(1.0));
  AccuracyAwareSettings a = settings((d.fp32 - d.start) / 2);
  a.performance_aware = true;
  a.tune = Tune::Cached;
  const AccuracyAwareResult r1 = accuracy_aware_quantize(f.g, images(16), CalibSettings{}, f.v, a);
  const AccuracyAwareResult r2 = accuracy_aware_quantize(f.g, images(16), CalibSettings{}, f.v, a);
  ASSERT_EQ(r1.ranking.size(), r1.layers);
  // Timed layers carry their times (a layer the INT8 model runs no faster,
  // as tiny layers on the AVX2 path may, costs 0 to revert: the times, not
  // the costs, show that timings were read).
  double timed = 0;
  for (const auto& e : r1.ranking) timed += e.value("fp32_ms", 0.0) + e.value("int8_ms", 0.0);
  EXPECT_GT(timed, 0) << "no layer was timed: the test would compare nothing";
  EXPECT_EQ(r1.ranking, r2.ranking);
  EXPECT_EQ(r1.reverted, r2.reverted);
}

// The bounds the output fidelity guard (quant/fidelity.h) sets: only the
// max_candidates layers with the fewest multiply-adds are ranked, and what
// goes back to FP32 stays within max_revert_share of the multiply-adds.
TEST(AccuracyAware, CandidateLimitAndComputeCapBoundWhatGoesBack) {
  Fixture f;
  std::map<std::string, double> macs;
  double all = 0;
  for (const char* l : {"c1", "c2", "c3", "c4"}) all += (macs[l] = layer_macs(f.g, l));
  // 3x3 layers cost 9x a 1x1 layer of the same channels: c4 (8 -> 4, 1x1) is the cheapest, c2 the dearest.
  EXPECT_LT(macs["c4"], macs["c3"]);
  EXPECT_LT(macs["c3"], macs["c1"]);
  EXPECT_LT(macs["c1"], macs["c2"]);
  EXPECT_EQ(layer_macs(f.g, "no-such-layer"), 0);

  AccuracyAwareSettings a = settings(0);  // bound = FP32: every helpful revert is tried
  a.max_candidates = 2;
  const AccuracyAwareResult r = accuracy_aware_quantize(f.g, images(16), CalibSettings{}, f.v, a);
  EXPECT_EQ(r.ranking_evaluations, 2u);
  ASSERT_EQ(r.ranking.size(), 2u);
  for (const auto& e : r.ranking) EXPECT_TRUE(e["layer"] == "c3" || e["layer"] == "c4") << e.dump();
  for (const std::string& l : r.reverted) EXPECT_TRUE(l == "c3" || l == "c4") << l;

  AccuracyAwareSettings c = settings(0);
  c.max_revert_share = (macs["c1"] + macs["c4"]) / all + 1e-9;  // not c2, not c1 with c3
  const AccuracyAwareResult q = accuracy_aware_quantize(f.g, images(16), CalibSettings{}, f.v, c);
  double back = 0;
  for (const std::string& l : q.reverted) back += macs[l];
  EXPECT_FALSE(q.reverted.empty());
  EXPECT_LE(back, c.max_revert_share * all);
  EXPECT_FALSE(q.met);  // with every layer allowed the bound is only met by the FP32 model itself
  AccuracyAwareSettings u = settings(0);
  const AccuracyAwareResult all_back = accuracy_aware_quantize(f.g, images(16), CalibSettings{}, f.v, u);
  EXPECT_GT(all_back.reverted.size(), q.reverted.size()) << "the cap changed nothing: the test shows nothing";
}

// The Default method's output fidelity guard (quant/fidelity.h) on the chain
// whose layer c2 reads a hostile outlier channel.
TEST(FidelityGuard, OffIsPlainDefaultAndOnGivesBackWhatCostsTheOutput) {
  const Graph g = prepare_for_calibration(chain_with_outlier());
  const CalibSource src = images(200);
  FidelitySettings off;
  off.min_cosine = 0;
  const FidelityResult plain = calibrate_with_fidelity(g, src, CalibSettings{}, off);
  EXPECT_FALSE(plain.report["checked"].get<bool>());
  EXPECT_EQ(onnx_bytes(plain.model.graph), onnx_bytes(calibrate_graph(g, src, CalibSettings{}).graph));

  FidelitySettings on;
  on.min_cosine = 0.9999;
  on.max_share = 0.7;  // c2, the hostile layer, is 65 % of the multiply-adds; not every layer
  const FidelityResult r = calibrate_with_fidelity(g, src, CalibSettings{}, on);
  const nlohmann::json& f = r.report;
  ASSERT_TRUE(f["checked"].get<bool>());
  EXPECT_LT(f["default_cosine"].get<double>(), 0.9999) << "Default already meets the bound: the test shows nothing";
  EXPECT_GT(f["final_cosine"].get<double>(), f["default_cosine"].get<double>());
  const std::vector<std::string> back = f["reverted"].get<std::vector<std::string>>();
  ASSERT_FALSE(back.empty());
  // 200 images, bias correction on the first 128: the check takes the last 64.
  EXPECT_EQ(f["images"].get<size_t>(), 64u);
  EXPECT_NE(f["images_from"].get<std::string>().find("past"), std::string::npos);
  // The file says why each layer given back is FP32; the report's settings stay the caller's.
  const auto why = r.model.graph.metadata.find("calibr8.fp32_reasons");
  ASSERT_NE(why, r.model.graph.metadata.end());
  for (const std::string& l : back) EXPECT_NE(why->second.find("\"" + l + "\""), std::string::npos) << l;
  EXPECT_NE(why->second.find("fidelity guard"), std::string::npos);
  EXPECT_TRUE(r.model.report["settings"]["ignore"].empty());
  // The same answer twice (ranked by accuracy alone, no timing).
  const FidelityResult again = calibrate_with_fidelity(g, src, CalibSettings{}, on);
  EXPECT_EQ(onnx_bytes(again.model.graph), onnx_bytes(r.model.graph));

  // Fewer images than bias correction fits: the first ones, aiming at the bound itself.
  const FidelityResult few = calibrate_with_fidelity(g, images(40), CalibSettings{}, on);
  EXPECT_EQ(few.report["images"].get<size_t>(), 40u);
  EXPECT_DOUBLE_EQ(few.report["aimed_cosine"].get<double>(), 0.9999);
  FidelitySettings bad;
  bad.min_cosine = 1.5;
  EXPECT_THROW(calibrate_with_fidelity(g, src, CalibSettings{}, bad), Error);
}

TEST(AccuracyAware, RefusesBadSettings) {
  Fixture f;
  Validation empty;
  EXPECT_THROW(accuracy_aware_quantize(f.g, images(4), CalibSettings{}, empty, settings(1.0)), Error);
  EXPECT_THROW(accuracy_aware_quantize(f.g, images(4), CalibSettings{}, f.v, settings(-1.0)), Error);
  AccuracyAwareSettings all_held = settings(1.0);
  for (size_t i = 0; i < f.v.images; ++i) all_held.holdout.push_back(i);
  EXPECT_THROW(accuracy_aware_quantize(f.g, images(4), CalibSettings{}, f.v, all_held), Error);
}

}  // namespace
}  // namespace c8
