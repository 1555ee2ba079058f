// CalibCache (quant/calibrate.h): a calibration whose statistics and bias
// shifts all come from the cache runs no FP32 pass and gives the very model a
// fresh calibration with the same settings gives; a variant with layers
// ignored or the other preset reuses what it can and runs a pass only for
// what it has not seen (the input of a layer that was not quantized before).
#include <gtest/gtest.h>

#include "quant/calibrate.h"
#include "quant_test_util.h"

namespace c8 {
namespace {

using c8test::GraphBuilder;

Graph residual_chain() {
  GraphBuilder b;
  int x = b.input("image", {-1, 3, 8, 8});
  b.g.values[size_t(x)].dim_param0 = "N";
  int a = b.op("Relu", "r1", {b.conv("c1", x, 3, 8, 3)});
  int y = b.op("Relu", "r2", {b.conv("c2", a, 8, 8, 3)});
  y = b.op("Add", "add", {y, a});
  y = b.op("Relu", "r3", {b.conv("c3", y, 8, 8, 1)});
  b.g.outputs = {b.conv("c4", y, 8, 4, 1)};
  return b.g;
}

// Every initializer's bytes, in order: two models with equal bytes and the
// same nodes are the same file.
std::vector<std::string> constants(const Graph& g) {
  std::vector<std::string> r;
  for (size_t i = 0; i < g.values.size(); ++i)
    if (g.is_const(int(i))) {
      const Tensor& t = g.const_of(int(i));
      r.push_back(g.values[i].name + ":" + std::string(static_cast<const char*>(t.raw()), t.nbytes()));
    }
  return r;
}

TEST(CalibCache, ReusedPassesGiveTheSameModel) {
  const Graph g = prepare_for_calibration(residual_chain());
  const CalibSource src = c8test::random_source(12, 4, 77);
  CalibSettings s;
  const CalibResult fresh = calibrate_graph(g, src, s);

  CalibCache cache;
  s.cache = &cache;
  const CalibResult first = calibrate_graph(g, src, s);
  EXPECT_EQ(cache.stats_passes, 1u);
  EXPECT_EQ(cache.bias_passes, 1u);
  EXPECT_EQ(constants(first.graph), constants(fresh.graph)) << "filling the cache changed the model";
  const CalibResult again = calibrate_graph(g, src, s);
  EXPECT_EQ(cache.stats_passes, 1u) << "the statistics were measured again";
  EXPECT_EQ(cache.bias_passes, 1u) << "the bias shifts were measured again";
  EXPECT_EQ(constants(again.graph), constants(fresh.graph));
  EXPECT_EQ(again.report["bias_correction"], fresh.report["bias_correction"]);

  // A layer given back to FP32: its neighbours' quantizers are ones the
  // cache has seen, so nothing runs; the model matches a fresh calibration.
  CalibSettings ig = s;
  ig.ignore = {"c3"};
  const CalibResult cached_ig = calibrate_graph(g, src, ig);
  EXPECT_EQ(cache.stats_passes, 1u);
  EXPECT_EQ(cache.bias_passes, 1u);
  ig.cache = nullptr;
  const CalibResult fresh_ig = calibrate_graph(g, src, ig);
  EXPECT_EQ(cached_ig.layer_names, fresh_ig.layer_names);
  EXPECT_EQ(constants(cached_ig.graph), constants(fresh_ig.graph));

  // The mixed preset: other grids, so other bias shifts (one pass), but the
  // same FP32 statistics (no pass).
  CalibSettings mixed = s;
  mixed.preset = "mixed";
  const CalibResult cached_mixed = calibrate_graph(g, src, mixed);
  EXPECT_EQ(cache.stats_passes, 1u);
  EXPECT_EQ(cache.bias_passes, 2u);
  mixed.cache = nullptr;
  EXPECT_EQ(constants(cached_mixed.graph), constants(calibrate_graph(g, src, mixed).graph));
}

}  // namespace
}  // namespace c8
