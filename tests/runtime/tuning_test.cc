// Kernel choice by measurement (runtime/tuning.h): candidates of one contract
// are timed, the winner is cached per machine and node, a cached load builds
// only the winner, and the numbers never depend on which kernel won.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "cli/cli_util.h"
#include "qdq_build.h"
#include "runtime/kernel.h"
#include "runtime/session.h"
#include "runtime/tuning.h"

namespace c8 {
namespace {

namespace fs = std::filesystem;

// x -> QDQ -> 3x3 conv (int8 weights, 64 -> 64 channels, 14x14) -> Relu -> QDQ:
// both oneDNN's INT8 convolution and calibr8's integer Winograd accept it.
Graph conv3x3_graph(int64_t group = 1) {
  std::mt19937 rng(7);
  Graph g;
  g.opset = 13;
  const int64_t C = 64, M = 64;
  // A quantized conv: int8 weights (per channel), Relu, QDQ on its output.
  auto qconv = [&](int x, const std::string& n, int64_t cin, int64_t cout, int64_t k, int64_t groups = 1) {
    Tensor w(DType::I8, {cout, cin / groups, k, k});
    std::uniform_int_distribution<int> u(-63, 63);
    for (int64_t i = 0; i < w.numel(); ++i) w.data<int8_t>()[i] = int8_t(u(rng));
    Tensor ws(DType::F32, {cout}), wz(DType::I8, {cout});
    for (int64_t m = 0; m < cout; ++m) ws.data<float>()[m] = 0.002f + 0.0001f * float(m % 5);
    int wd = g.add_value(n + "_w", DType::F32);
    int dq = g.add_node("DequantizeLinear", {g.add_constant(n + "_wq", w), g.add_constant(n + "_ws", ws), g.add_constant(n + "_wz", wz)},
                        {wd}, n + "_wDQ");
    g.nodes[size_t(dq)].set_i("axis", 0);
    int y = g.add_value(n + "_y", DType::F32);
    int cv = g.add_node("Conv", {x, wd}, {y}, n);
    g.nodes[size_t(cv)].set_ints("kernel_shape", {k, k});
    if (groups > 1) g.nodes[size_t(cv)].set_i("group", groups);
    g.nodes[size_t(cv)].set_ints("pads", k == 3 ? std::vector<int64_t>{1, 1, 1, 1} : std::vector<int64_t>{0, 0, 0, 0});
    int r = g.add_value(n + "_r", DType::F32);
    g.add_node("Relu", {y}, {r}, n + "_relu");
    return c8test::qdq(g, r, n + "_out", 0.02f, DType::U8, 0);
  };
  int xq = c8test::qdq(g, c8test::float_input(g, "x", {1, 8, 14, 14}), "in", 1.f / 127.f, DType::U8, 0);
  // The 1x1 conv hands the 3x3 one the channels-last u8 layout oneDNN's INT8 convs produce.
  g.outputs = {qconv(qconv(xq, "pointwise", 8, C, 1), "conv3x3", C, M, 3, group)};
  return g;
}

Tensor input() {
  Tensor x(DType::F32, {1, 8, 14, 14});
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(0.f, 1.f);
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = u(rng);
  return x;
}

// The 3x3 conv's record (the last QConv).
KernelRecord conv_record(const Session& s) {
  KernelRecord r;
  for (const KernelRecord& k : s.kernels())
    if (k.op == "QConv") r = k;
  return r;
}

// QConv candidates for the 3x3 conv on this CPU.
size_t candidates() { return cpu_has_avx512_vnni() ? 4u : 3u; }

TEST(Tuning, TimesExactCandidatesCachesTheWinnerAndKeepsTheBits) {
  if (!cpu_isa_at_least(dnnl::cpu_isa::avx2)) GTEST_SKIP() << "calibr8's Winograd is AVX2 code";
  const std::string dir = c8test::temp_dir();
  setenv("XDG_CACHE_HOME", dir.c_str(), 1);  // before the cache is first used in this process
  const Graph g = conv3x3_graph();
  const Tensor x = input();

  Session fixed(g);  // SessionOptions' default: the fixed rules
  const Tensor want = fixed.run({x})[0];
  ASSERT_TRUE(conv_record(fixed).tuned_ms.empty());

  SessionOptions full;
  full.tune = Tune::Full;
  Session timed(g, full);
  const Tensor got = timed.run({x})[0];
  const KernelRecord r1 = conv_record(timed);
  const KernelRecord* rec = &r1;
  ASSERT_EQ(rec->op, "QConv");
  // Every candidate timed (oneDNN's first and second INT8 implementations,
  // calibr8's Winograd, and its AVX-512 VNNI form where the CPU has VNNI),
  // the winner is one of them and is what ran.
  ASSERT_EQ(rec->tuned_ms.size(), candidates()) << rec->impl;
  EXPECT_TRUE(rec->tuned_ms.count("make_qconv") && rec->tuned_ms.count("make_qconv_alt") &&
              rec->tuned_ms.count("make_qconv_winograd"));
  EXPECT_EQ(rec->tuned_ms.count("make_qconv_winograd_vnni"), cpu_has_avx512_vnni() ? 1u : 0u);
  double best = 1e30;
  for (auto& [name, ms] : rec->tuned_ms) {
    EXPECT_GT(ms, 0) << name;
    best = std::min(best, ms);
  }
  EXPECT_EQ(rec->tuned_ms.at(rec->factory), best);
  EXPECT_EQ(rec->impl.find("winograd") != std::string::npos, rec->factory == "make_qconv_winograd") << rec->impl;
  EXPECT_FALSE(rec->cached);
  EXPECT_EQ(c8test::diff_outputs(want, got).differ, 0) << "the tuned kernel changed the numbers";

  // The winner is on disk, and a cached load uses it without timing.
  const std::string cache = dir + "/calibr8/tuning-1.json";
  ASSERT_TRUE(fs::exists(cache));
  const std::string text = c8test::slurp(cache);
  EXPECT_NE(text.find("\"winner\": \"" + rec->factory + "\""), std::string::npos) << text;
  SessionOptions cached;
  cached.tune = Tune::Cached;
  Session again(g, cached);
  EXPECT_EQ(c8test::diff_outputs(want, again.run({x})[0]).differ, 0);
  const KernelRecord r2 = conv_record(again);
  const KernelRecord* rec2 = &r2;
  EXPECT_TRUE(rec2->cached);
  EXPECT_EQ(rec2->factory, rec->factory);

  // A cached winner that no longer exists (or refuses the node) is timed again, not trusted.
  std::string edited = text;
  const std::string from = "\"winner\": \"" + rec->factory + "\"";
  // Every node's entry with that winner (the graph's other QConv has candidates too).
  for (size_t at = edited.find(from); at != std::string::npos; at = edited.find(from, at))
    edited.replace(at, from.size(), "\"winner\": \"make_gone\"");
  setenv("XDG_CACHE_HOME", (dir + "/other").c_str(), 1);  // a fresh store, read from disk again below
  fs::create_directories(dir + "/other/calibr8");
  std::ofstream(dir + "/other/calibr8/tuning-1.json") << edited;
  Session stale(g, cached);
  EXPECT_EQ(c8test::diff_outputs(want, stale.run({x})[0]).differ, 0);
  EXPECT_FALSE(conv_record(stale).cached);
  EXPECT_EQ(conv_record(stale).tuned_ms.size(), candidates());
  fs::remove_all(dir);
}

// A depthwise INT8 conv: with --tune off, AVX-512 runs it in FP32 by a fixed
// rule (its own rounding); under tuning only the exact INT8 kernel competes.
TEST(Tuning, DepthwiseStaysExactInt8UnderTuning) {
  const std::string dir = c8test::temp_dir();
  setenv("XDG_CACHE_HOME", dir.c_str(), 1);
  const Graph g = conv3x3_graph(/*group=*/64);
  const Tensor x = input();
  setenv("C8_QCONV_DW", "int8", 1);  // the fixed rule's INT8 path, as the reference bits
  Session int8(g);
  const Tensor want = int8.run({x})[0];
  unsetenv("C8_QCONV_DW");
  SessionOptions o;
  o.tune = Tune::Full;
  Session tuned(g, o);
  EXPECT_EQ(c8test::diff_outputs(want, tuned.run({x})[0]).differ, 0);
  const KernelRecord r = conv_record(tuned);
  EXPECT_EQ(r.impl.find("f32"), std::string::npos) << r.impl;
  fs::remove_all(dir);
}

// A cache that is not ours or is damaged is rebuilt, never trusted or fatal.
TEST(Tuning, DamagedCacheIsRebuilt) {
  if (!cpu_isa_at_least(dnnl::cpu_isa::avx2)) GTEST_SKIP() << "calibr8's Winograd is AVX2 code";
  const std::string dir = c8test::temp_dir();
  setenv("XDG_CACHE_HOME", dir.c_str(), 1);
  fs::create_directories(dir + "/calibr8");
  std::ofstream(dir + "/calibr8/tuning-1.json") << "{\"format\": \"calibr8-tuning-1\", \"machines\": {\"x\": [1, 2";
  SessionOptions cached;
  cached.tune = Tune::Cached;
  Session s(conv3x3_graph(), cached);
  s.run({input()});
  EXPECT_FALSE(conv_record(s).cached);
  EXPECT_EQ(conv_record(s).tuned_ms.size(), candidates());
  const std::string text = c8test::slurp(dir + "/calibr8/tuning-1.json");
  EXPECT_TRUE(nlohmann::json::accept(text)) << text;
  fs::remove_all(dir);
}

// FP32 3x3 conv (64 -> 64, 28x28, bias, Relu): on AVX-512 oneDNN's Winograd
// competes with the direct conv ("f32" contract). Whichever wins stays within
// float rounding of the reference kernel, and the Winograd one wins only with
// the clear margin that keeps timing noise from flipping output bits.
TEST(Tuning, FloatWinogradCompetesWithinRoundingAndMargin) {
  const std::string dir = c8test::temp_dir();
  setenv("XDG_CACHE_HOME", dir.c_str(), 1);
  std::mt19937 rng(11);
  std::normal_distribution<float> nd;
  Graph g;
  g.opset = 13;
  const int64_t C = 64, H = 28;
  int x = c8test::float_input(g, "x", {1, C, H, H});
  Tensor w(DType::F32, {C, C, 3, 3}), b(DType::F32, {C});
  for (int64_t i = 0; i < w.numel(); ++i) w.data<float>()[i] = 0.05f * nd(rng);
  for (int64_t i = 0; i < b.numel(); ++i) b.data<float>()[i] = 0.1f * nd(rng);
  int y = g.add_value("y", DType::F32);
  int cv = g.add_node("Conv", {x, g.add_constant("w", w), g.add_constant("b", b)}, {y}, "conv");
  g.nodes[size_t(cv)].set_ints("kernel_shape", {3, 3});
  g.nodes[size_t(cv)].set_ints("pads", {1, 1, 1, 1});
  int r = g.add_value("r", DType::F32);
  g.add_node("Relu", {y}, {r}, "relu");
  g.outputs = {r};
  Tensor in(DType::F32, {1, C, H, H});
  for (int64_t i = 0; i < in.numel(); ++i) in.data<float>()[i] = std::fabs(nd(rng));

  SessionOptions ref;
  ref.fast = false;
  const Tensor want = Session(g, ref).run({in})[0];
  SessionOptions full;
  full.tune = Tune::Full;
  Session tuned(g, full);
  const Tensor got = tuned.run({in})[0];
  KernelRecord rec;
  for (const KernelRecord& k : tuned.kernels())
    if (k.op == "Conv") rec = k;
  float peak = 0, err = 0;
  for (int64_t i = 0; i < want.numel(); ++i) {
    peak = std::max(peak, std::fabs(want.data<float>()[i]));
    err = std::max(err, std::fabs(want.data<float>()[i] - got.data<float>()[i]));
  }
  EXPECT_LE(err, 2e-5f * peak) << rec.impl;
  if (!cpu_isa_at_least(dnnl::cpu_isa::avx512_core)) {
    EXPECT_EQ(rec.tuned_ms.count("make_conv_winograd"), 0u) << "oneDNN's Winograd is AVX-512 only";
  } else {
    ASSERT_TRUE(rec.tuned_ms.count("make_conv") && rec.tuned_ms.count("make_conv_winograd")) << rec.impl;
    const bool wino = rec.factory == "make_conv_winograd";
    EXPECT_EQ(wino, rec.impl.find("wino") != std::string::npos) << rec.impl;
    if (wino) EXPECT_LT(rec.tuned_ms.at("make_conv_winograd"), 0.85 * rec.tuned_ms.at("make_conv"));
    else EXPECT_GE(rec.tuned_ms.at("make_conv_winograd"), 0.85 * rec.tuned_ms.at("make_conv"));
  }
  fs::remove_all(dir);
}

TEST(Tuning, NodeSignatureSeesShapesAndLayoutsNotScales) {
  Graph g = conv3x3_graph();
  Node n;
  n.op = "QConv";
  n.set_ints("kernel_shape", {3, 3});
  n.set_f("x_scale", 0.5f);
  BuildCtx a;
  a.node = &n;
  ValueInfo in;
  in.dtype = DType::U8;
  in.shape = {1, 64, 14, 14};
  in.md = plain_md(in.dtype, in.shape);
  a.in = {in};
  const std::string base = node_signature(a);
  EXPECT_EQ(base.rfind("QConv:", 0), 0u);
  n.set_f("x_scale", 0.25f);
  EXPECT_EQ(node_signature(a), base) << "a scale does not change a kernel's speed";
  BuildCtx b = a;
  b.in[0].shape = {1, 64, 28, 28};
  b.in[0].md = plain_md(DType::U8, b.in[0].shape);
  EXPECT_NE(node_signature(b), base);
  BuildCtx c = a;
  c.in[0].md = dnnl::memory::desc({1, 64, 14, 14}, dnnl::memory::data_type::u8, dnnl::memory::format_tag::nhwc);
  EXPECT_NE(node_signature(c), base);
  BuildCtx d = a;
  d.threads = 2;
  EXPECT_NE(node_signature(d), base);
}

TEST(Tuning, ModeNames) {
  EXPECT_EQ(parse_tune("off"), Tune::Off);
  EXPECT_EQ(parse_tune("cached"), Tune::Cached);
  EXPECT_EQ(parse_tune("full"), Tune::Full);
  EXPECT_THROW(parse_tune("fast"), Error);
  EXPECT_STREQ(tune_name(Tune::Cached), "cached");
}

}  // namespace
}  // namespace c8
