// Quantization parameters, the calibration pipeline end to end (streaming
// memory, determinism, refusal of quantized models) and the accuracy targets.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <cmath>
#include <limits>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "cli/common.h"
#include "eval/evaluator.h"
#include "ir/onnx_export.h"
#include "ir/onnx_import.h"
#include "quant/calibrate.h"
#include "quant_test_util.h"
#include "report/precision.h"
#include "runtime/session.h"

namespace c8 {
namespace {

using c8test::GraphBuilder;

// The vectorised fake_quantize must equal QuantizeLinear -> DequantizeLinear
// element by element: ties, saturation, NaN, infinities, odd lengths.
TEST(QuantParams, FakeQuantizeMatchesScalarSemantics) {
  std::vector<float> x;
  for (int i = -700; i <= 700; ++i) x.push_back(float(i) * 0.05f);  // ties at x.5 steps of scale 0.1
  x.push_back(std::nanf(""));
  x.push_back(std::numeric_limits<float>::infinity());
  x.push_back(-std::numeric_limits<float>::infinity());
  x.push_back(-0.f);
  for (QParams q : {act_qparams({-3.0, 9.0}, QMode::Asym), act_qparams({-2.0, 2.0}, QMode::SignedSym),
                    act_qparams({0.0, 25.5}, QMode::UnsignedSym)}) {
    for (size_t len : {x.size(), size_t(13), size_t(7)}) {
      std::vector<float> y(len);
      fake_quantize(x.data(), y.data(), len, q);
      const float lo = q.dtype == DType::U8 ? 0.f : -128.f, hi = q.dtype == DType::U8 ? 255.f : 127.f;
      for (size_t i = 0; i < len; ++i) {
        float v = std::nearbyint(x[i] / q.scale) + float(q.zero_point);
        if (std::isnan(v)) v = 0.f;
        v = std::min(hi, std::max(lo, v));
        float want = (v - float(q.zero_point)) * q.scale;
        ASSERT_EQ(std::memcmp(&y[i], &want, 4), 0) << "x=" << x[i] << " got " << y[i] << " want " << want;
      }
    }
  }
}

TEST(QuantParams, PerformancePreset) {
  QParams s = act_qparams({-2.0, 1.0}, QMode::SignedSym);
  EXPECT_EQ(s.dtype, DType::I8);
  EXPECT_EQ(s.zero_point, 0);
  EXPECT_FLOAT_EQ(s.scale, 2.0f / 127);
  QParams u = act_qparams({0.0, 6.0}, QMode::UnsignedSym);  // after ReLU6
  EXPECT_EQ(u.dtype, DType::U8);
  EXPECT_EQ(u.zero_point, 0);
  EXPECT_FLOAT_EQ(u.scale, 6.0f / 255);
  float x[3] = {-1.f, 3.f, 7.f}, y[3];
  fake_quantize(x, y, 3, u);
  EXPECT_EQ(y[0], 0.f);                       // negative clamps to 0
  EXPECT_NEAR(y[1], 3.f, 0.501f * u.scale);  // 127.5 rounds half to even
  EXPECT_NEAR(y[2], 6.f, 1e-5);               // saturates at the range
}

TEST(QuantParams, MixedPresetHasZeroPoint) {
  QParams a = act_qparams({-1.0, 3.0}, QMode::Asym);
  EXPECT_EQ(a.dtype, DType::U8);
  EXPECT_FLOAT_EQ(a.scale, 4.0f / 255);
  EXPECT_EQ(a.zero_point, 64);  // round(1 / (4/255)) = round(63.75)
  float x = 0.f, y;
  fake_quantize(&x, &y, 1, a);
  EXPECT_EQ(y, 0.f);  // zero is exact
  QParams p = act_qparams({0.5, 3.0}, QMode::Asym);  // range widened to include 0
  EXPECT_EQ(p.zero_point, 0);
}

TEST(QuantParams, WeightsPerChannelSymmetric) {
  Tensor w = Tensor::from_f32({2, 1, 1, 3}, {1.f, -0.5f, 0.25f, -8.f, 4.f, 2.f});
  WeightQuant q = quantize_weight(w, 0, 127, Estimator::MinMax);
  ASSERT_EQ(q.scales.size(), 2u);
  EXPECT_FLOAT_EQ(q.scales[0], 1.f / 127);
  EXPECT_FLOAT_EQ(q.scales[1], 8.f / 127);
  EXPECT_EQ(q.q.data<int8_t>()[0], 127);
  EXPECT_EQ(q.q.data<int8_t>()[3], -127);  // never -128
  WeightQuant q7 = quantize_weight(w, 0, 63, Estimator::MinMax);
  EXPECT_EQ(q7.q.data<int8_t>()[3], -63);
  for (int64_t i = 0; i < 6; ++i) EXPECT_LE(std::abs(int(q7.q.data<int8_t>()[i])), 63);
}

// conv -> relu -> maxpool -> conv -> relu -> gap -> flatten -> gemm -> softmax
Graph small_net() {
  GraphBuilder b;
  int x = b.input("x", {-1, 3, 8, 8});
  b.g.values[size_t(x)].dim_param0 = "N";
  int c1 = b.conv("conv1", x, 3, 8, 3);
  int r1 = b.op("Relu", "relu1", {c1});
  int mp = b.op("MaxPool", "pool", {r1});
  b.g.nodes.back().set_ints("kernel_shape", {2, 2});
  b.g.nodes.back().set_ints("strides", {2, 2});
  int c2 = b.conv("conv2", mp, 8, 8, 3);
  int r2 = b.op("Relu", "relu2", {c2});
  int gap = b.op("GlobalAveragePool", "gap", {r2});
  int fl = b.op("Flatten", "flat", {gap});
  int w = b.g.add_constant("fc.w", c8test::randn_like({4, 8}, 77));
  int bias = b.g.add_constant("fc.b", c8test::randn_like({4}, 78, 0.1f));
  int y = b.val("fc.out");
  b.g.add_node("Gemm", {fl, w, bias}, {y}, "fc");
  b.g.nodes.back().set_i("transB", 1);
  int sm = b.op("Softmax", "softmax", {y});
  b.g.values[size_t(sm)].name = "prob";
  b.g.outputs = {sm};
  return b.g;
}

using c8test::random_source;

TEST(QuantCalibrate, SmallNetQdqStructure) {
  Graph g = prepare_for_calibration(small_net());
  CalibSettings s;
  CalibResult r = calibrate_graph(g, random_source(20, 8, 1), s);
  auto h = r.graph.op_histogram();
  EXPECT_EQ(h["Conv"], 2);
  EXPECT_EQ(h["Softmax"], 1);
  int bias_dq = 0;
  for (const Node& n : r.graph.nodes)
    if (n.op == "DequantizeLinear" && r.graph.is_const(n.inputs[0]) && r.graph.const_of(n.inputs[0]).dtype == DType::I32)
      ++bias_dq;
  EXPECT_GE(bias_dq, 1) << "biases are stored as INT32 behind a DequantizeLinear";
  EXPECT_EQ(h["DequantizeLinear"], h["QuantizeLinear"] + 3 + bias_dq);  // + one per weight and per bias
  EXPECT_EQ(r.graph.opset, 13);
  EXPECT_EQ(r.graph.verify(), "");
  // Weights: INT8 per output channel; first layer 7-bit only without VNNI.
  for (const Node& n : r.graph.nodes) {
    if (n.op != "DequantizeLinear" || !r.graph.is_const(n.inputs[0])) continue;
    const Tensor& q = r.graph.const_of(n.inputs[0]);
    if (q.dtype == DType::I32) {  // bias: scale = input scale x weight scale, per output channel
      const Node* conv = nullptr;
      for (const Node& c : r.graph.nodes)
        if (c.input(2) == n.outputs[0]) conv = &c;
      ASSERT_NE(conv, nullptr);
      const Node& wdq = r.graph.nodes[size_t(r.graph.values[size_t(conv->inputs[1])].producer)];
      const Node& xdq = r.graph.nodes[size_t(r.graph.values[size_t(conv->inputs[0])].producer)];
      float sx = float(r.graph.const_of(xdq.inputs[1]).get_f64(0));
      const Tensor& sw = r.graph.const_of(wdq.inputs[1]);
      const Tensor& sb = r.graph.const_of(n.inputs[1]);
      ASSERT_EQ(sb.numel(), sw.numel());
      for (int64_t c = 0; c < sb.numel(); ++c) EXPECT_FLOAT_EQ(float(sb.get_f64(c)), sx * float(sw.get_f64(c)));
      continue;
    }
    EXPECT_EQ(q.dtype, DType::I8);
    EXPECT_EQ(n.attr_i("axis", 1), 0);
    EXPECT_EQ(r.graph.const_of(n.inputs[1]).numel(), q.shape[0]);
  }
  // relu outputs are uint8 zp 0 in the performance preset; the signed input int8.
  for (const Node& n : r.graph.nodes) {
    if (n.op != "QuantizeLinear") continue;
    const std::string& in = r.graph.values[size_t(n.inputs[0])].name;
    DType zt = r.graph.const_of(n.inputs[2]).dtype;
    if (in == "x") { EXPECT_EQ(zt, DType::I8); }
    if (in == "relu1.out" || in == "pool.out" || in == "flat.out") { EXPECT_EQ(zt, DType::U8) << in; }
    EXPECT_EQ(r.graph.const_of(n.inputs[2]).get_i64(0), 0);
  }
  // Runs (reference Q/DQ kernels) and stays close to FP32, and exports.
  Session fp(g), q8(r.graph);
  Tensor x = c8test::randn_like({4, 3, 8, 8}, 1234, 2.f);
  Tensor a = fp.run({x})[0], b = q8.run({x})[0];
  for (int64_t i = 0; i < a.numel(); ++i) EXPECT_NEAR(a.data<float>()[i], b.data<float>()[i], 0.05);
  std::string bytes = onnx_bytes(r.graph);
  Graph back = load_onnx_bytes(bytes.data(), bytes.size(), "qdq", "");
  EXPECT_EQ(back.op_histogram(), r.graph.op_histogram());
  // Mixed preset: uint8 activations (the signed input gets a zero point).
  s.preset = "mixed";
  CalibResult m = calibrate_graph(g, random_source(20, 8, 1), s);
  for (const Node& n : m.graph.nodes)
    if (n.op == "QuantizeLinear") {
      EXPECT_EQ(m.graph.const_of(n.inputs[2]).dtype, DType::U8);
      if (m.graph.values[size_t(n.inputs[0])].name == "x") { EXPECT_GT(m.graph.const_of(n.inputs[2]).get_i64(0), 100); }
    }
}

TEST(QuantCalibrate, ObserverStateIndependentOfImageCount) {
  Graph g = prepare_for_calibration(small_net());
  for (auto est : {Estimator::MeanMinMax, Estimator::KL}) {
    CalibSettings s;
    s.act_estimator = est;
    s.bias_correction = false;
    CalibResult few = calibrate_graph(g, random_source(4, 2, 1), s);
    CalibResult many = calibrate_graph(g, random_source(200, 2, 1), s);
    EXPECT_EQ(few.stats_state_bytes, many.stats_state_bytes);
    EXPECT_GT(few.stats_state_bytes, 0u);
  }
}

TEST(QuantCalibrate, BiasCorrectionMovesBiases) {
  Graph g = prepare_for_calibration(small_net());
  CalibSettings s;
  s.saturation_fix = "all";  // coarse weights -> visible shifts
  CalibResult r = calibrate_graph(g, random_source(16, 8, 3), s);
  ASSERT_EQ(r.report["bias_correction"].size(), 3u);
  double total = 0;
  for (auto& j : r.report["bias_correction"]) total += j["max_abs_shift"].get<double>();
  EXPECT_GT(total, 0);
  s.bias_correction = false;
  CalibResult n = calibrate_graph(g, random_source(16, 8, 3), s);
  EXPECT_TRUE(n.report["bias_correction"].empty());
}

// The bias correction pass runs on the first bias_images images only: a limit
// at or above the image count changes no byte; a lower one is reported and
// recorded in the file.
TEST(QuantCalibrate, BiasImagesBoundThePass) {
  Graph g = prepare_for_calibration(small_net());
  CalibSettings s;
  s.saturation_fix = "all";
  s.bias_images = 0;
  CalibResult all = calibrate_graph(g, random_source(20, 8, 3), s);
  EXPECT_EQ(all.bias_images, 20u);
  s.bias_images = 20;
  CalibResult same = calibrate_graph(g, random_source(20, 8, 3), s);
  EXPECT_EQ(onnx_bytes(same.graph), onnx_bytes(all.graph));
  EXPECT_EQ(same.graph.metadata.at("calibr8.quantization").find("bias_correction_images"), std::string::npos);
  s.bias_images = 10;  // not a multiple of the batch: part of the second batch
  CalibResult few = calibrate_graph(g, random_source(20, 8, 3), s);
  EXPECT_EQ(few.bias_images, 10u);
  EXPECT_EQ(few.report["bias_correction_images"], 10);
  EXPECT_NE(few.graph.metadata.at("calibr8.quantization").find("\"bias_correction_images\":10"), std::string::npos);
  EXPECT_NE(onnx_bytes(few.graph), onnx_bytes(all.graph)) << "10 images give other mean shifts than 20";
  // Ranges come from every image whatever the limit.
  EXPECT_EQ(few.report["activations"], all.report["activations"]);
}

TEST(QuantCalibrate, RefusesQuantizedModel) {
  Graph g = prepare_for_calibration(small_net());
  CalibResult r = calibrate_graph(g, random_source(8, 8, 1), CalibSettings());
  try {
    refuse_quantized(r.graph, "q.onnx");
    FAIL() << "no error";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("q.onnx: the model is already quantized"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("QuantizeLinear"), std::string::npos);
  }
  EXPECT_NO_THROW(refuse_quantized(g, "fp32.onnx"));
}

TEST(QuantCalibrate, UnknownIgnoreIsAnError) {
  Graph g = prepare_for_calibration(small_net());
  CalibSettings s;
  s.ignore = {"no_such_node"};
  EXPECT_THROW(calibrate_graph(g, random_source(4, 4, 1), s), std::exception);
}

TEST(QuantCalibrate, IndexRanges) {
  EXPECT_EQ(parse_index_range("0:200", 500), std::make_pair(size_t(0), size_t(200)));
  EXPECT_EQ(parse_index_range("200:", 500), std::make_pair(size_t(200), size_t(500)));
  EXPECT_EQ(parse_index_range(":10", 500), std::make_pair(size_t(0), size_t(10)));
  EXPECT_EQ(parse_index_range("300", 500), std::make_pair(size_t(0), size_t(300)));
  EXPECT_THROW(parse_index_range("5:2", 500), std::exception);
  EXPECT_THROW(parse_index_range("a:b", 500), std::exception);
}

// ---- Real models ----

std::string shared(const std::string& rel) { return std::string(C8_SHARED_DIR) + "/" + rel; }

struct AccResult {
  double fp32 = 0, int8 = 0;
};

AccResult accuracy_case(const Graph& model, const std::string& dataset, const Preprocess& p, size_t calib_first,
                        size_t calib_count_or_spec, const std::vector<size_t>& eval_idx, const CalibSettings& s,
                        const Dataset* calib_ds = nullptr, uint64_t seed = 0, std::string* qdq_bytes = nullptr) {
  Graph g = prepare_for_calibration(model);
  auto ds = open_dataset(dataset);
  const Dataset& cds = calib_ds ? *calib_ds : *ds;
  std::vector<size_t> idx;
  if (calib_ds) {
    idx = choose_subset(cds.size(), std::to_string(calib_count_or_spec), seed);
  } else {
    idx.resize(calib_count_or_spec);
    std::iota(idx.begin(), idx.end(), calib_first);
  }
  InputGeometry geo = input_geometry(g, p);
  ImageInput in{geo.channels, geo.height, geo.width, geo.nhwc};
  int batch = geo.batch > 0 ? int(geo.batch) : 32;
  CalibResult r = calibrate_graph(g, dataset_source(cds, idx, p, in, batch, geo.batch > 0), s);
  if (qdq_bytes) *qdq_bytes = onnx_bytes(r.graph);
  AccResult a;
  Session fp(g), q8(r.graph);
  a.fp32 = evaluate_classifier(fp, *ds, eval_idx, p, in, batch, {}, geo.batch > 0).topk.top1() * 100;
  a.int8 = evaluate_classifier(q8, *ds, eval_idx, p, in, batch, {}, geo.batch > 0).topk.top1() * 100;
  std::printf("[accuracy] FP32 %.2f %%  INT8 %.2f %%  drop %.2f pts  (calibration %.1f s)\n", a.fp32, a.int8,
              a.fp32 - a.int8, r.seconds_total);
  return a;
}

std::vector<size_t> range_idx(size_t a, size_t b) {
  std::vector<size_t> v(b - a);
  std::iota(v.begin(), v.end(), a);
  return v;
}

TEST(QuantAccuracy, ResNet8Cifar10) {
  std::string model = shared("models/resnet8_cifar10_mlperftiny.onnx");
  if (!std::filesystem::exists(model)) GTEST_SKIP() << model << " not present";
  Preprocess p;
  p.width = p.height = 32;
  p.mean = {0};
  p.std = {1};
  Graph g = load_onnx(model);
  for (std::string preset : {"performance", "mixed"}) {
    CalibSettings s;
    s.preset = preset;
    AccResult a = accuracy_case(g, shared("data/cifar10-test-2000"), p, 0, 300, range_idx(300, 2000), s);
    EXPECT_NEAR(a.fp32, 77.24, 0.01);  // 76.4 % on all 2000; this is the 1700 held out
    // Target (performance preset): <= 0.5 pts. mixed is reported, with a looser bound.
    EXPECT_LE(a.fp32 - a.int8, preset == "performance" ? 0.5 : 1.0) << preset;
  }
}

TEST(QuantAccuracy, MobileNetV1Imagenet) {
  std::string model = shared("models/mobilenet_v1_0.25_224.onnx");
  if (!std::filesystem::exists(model)) GTEST_SKIP() << model << " not present";
  Preprocess p;
  p.width = p.height = 224;
  p.mean = {127.5f};
  p.std = {127.5f};
  p.label_offset = 1;
  AccResult a = accuracy_case(load_onnx(model), shared("data/imagenet-sample-500"), p, 0, 200, range_idx(200, 500),
                              CalibSettings());
  EXPECT_LE(a.fp32 - a.int8, 0.5);
}

TEST(QuantAccuracy, DefaultFashionModel) {
  LoadedModel m;
  try {
    m = load_model_arg("default");
  } catch (const std::exception& e) {
    GTEST_SKIP() << "default model not trained yet: " << e.what();
  }
  auto train = open_dataset(default_model_dataset(true));
  auto test = open_dataset(default_model_dataset(false));
  std::string qdq;
  AccResult a = accuracy_case(m.graph, default_model_dataset(false), default_model_preprocess(), 0, 300, {},
                              CalibSettings(), train.get(), 0, &qdq);
  EXPECT_LE(a.fp32 - a.int8, 0.3);
  // The whole INT8 model runs on 8-bit kernels: its two float islands (a
  // residual Add followed by HardSwish) are table lookups (calibr8::QLut);
  // only the input's quantization and the classifier's float logits are float.
  Session s(load_onnx_bytes(qdq.data(), qdq.size(), "default_int8.onnx", ""));
  Tensor x(DType::F32, {1, 1, 28, 28});
  for (int64_t i = 0; i < x.numel(); ++i) x.data<float>()[i] = float(i % 13) / 13.f;
  s.run({x});
  int luts = 0;
  for (const KernelRecord& k : s.kernels()) {
    luts += k.impl.rfind("c8:qlut", 0) == 0;
    // kernel_precision is empty for FP32 fall-backs, whose reason text also
    // names u8/s8 ("f32(u8->u8: ...)"); Q / DQ kernels convert by definition.
    const bool conv = k.op == "QConv" || k.op == "QGemm";
    // The one FP32 fall-back allowed: depthwise convs by the per-ISA rule of
    // qconv.cc (FP32 on AVX-512, until kernels are chosen by measurement).
    const bool dw_rule = k.impl.find("f32(") != std::string::npos && k.impl.find("depthwise") != std::string::npos &&
                         cpu_isa_at_least(dnnl::cpu_isa::avx512_core);
    const bool int8 = conv ? !kernel_precision(k.impl, DType::U8).empty() || dw_rule
                           : k.impl.find("u8") != std::string::npos || k.impl.find("s8") != std::string::npos ||
                                 k.impl == "view" || k.impl.rfind("c8:qlut", 0) == 0;
    EXPECT_TRUE(int8) << k.node << " (" << k.op << ") runs " << k.impl;
  }
  EXPECT_EQ(luts, 2);
}

TEST(QuantDeterminism, SameSeedSameBytes) {
  std::string model = shared("models/resnet8_cifar10_mlperftiny.onnx");
  if (!std::filesystem::exists(model)) GTEST_SKIP() << model << " not present";
  Preprocess p;
  p.width = p.height = 32;
  p.mean = {0};
  p.std = {1};
  Graph g = prepare_for_calibration(load_onnx(model));
  auto ds = open_dataset(shared("data/cifar10-test-2000"));
  InputGeometry geo = input_geometry(g, p);
  ImageInput in{geo.channels, geo.height, geo.width, geo.nhwc};
  auto run = [&](uint64_t seed) {
    std::vector<size_t> idx = choose_subset(ds->size(), "40", seed);
    CalibSettings s;
    s.act_estimator = Estimator::KL;
    return onnx_bytes(calibrate_graph(g, dataset_source(*ds, idx, p, in, 1, true), s).graph);
  };
  std::string a = run(7), b = run(7), c = run(8);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
}

std::string slurp(const std::string& f) {
  std::ifstream in(f, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// `calibr8 calibrate MODEL` on 20 CIFAR-10 images, without bias correction
// (fast); the caller adds flags and -o.
std::string resnet8_calibrate(const std::string& model) {
  return std::string(C8_BINARY) + " calibrate " + model + " --dataset " + shared("data/cifar10-test-2000") +
         " --size 32x32 --mean 0 --std 1 --calib-range 0:20 --no-bias-correction ";
}

// The CLI end to end: same seed -> identical files; a QDQ model is refused.
TEST(QuantCli, CalibrateTwiceAndRefuse) {
  std::string model = shared("models/resnet8_cifar10_mlperftiny.onnx");
  if (!std::filesystem::exists(model)) GTEST_SKIP() << model << " not present";
  std::string dir = std::filesystem::temp_directory_path() / ("c8quant_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string base = std::string(C8_BINARY) + " calibrate " + model + " --dataset " + shared("data/cifar10-test-2000") +
                     " --size 32x32 --mean 0 --std 1 --subset 5% --seed 11 ";
  ASSERT_EQ(std::system((base + "-o " + dir + "/a.onnx --report " + dir + "/a.json 2>" + dir + "/err.txt >/dev/null").c_str()), 0);
  ASSERT_EQ(std::system((base + "-o " + dir + "/b.onnx 2>/dev/null >/dev/null").c_str()), 0);
  EXPECT_EQ(slurp(dir + "/a.onnx"), slurp(dir + "/b.onnx"));
  std::string err = slurp(dir + "/err.txt");
  EXPECT_NE(err.find("100 images"), std::string::npos) << err;           // < 300 warning
  EXPECT_NE(err.find("validation images"), std::string::npos) << err;    // same data set warning
  auto rep = nlohmann::json::parse(slurp(dir + "/a.json"));
  EXPECT_EQ(rep["images"]["count"], 100);
  EXPECT_FALSE(rep["activations"].empty());
  int rc = std::system((std::string(C8_BINARY) + " calibrate " + dir + "/a.onnx --dataset " +
                        shared("data/cifar10-test-2000") + " --size 32x32 -o " + dir + "/c.onnx 2>" + dir + "/err2.txt")
                           .c_str());
  EXPECT_NE(rc, 0);
  EXPECT_NE(slurp(dir + "/err2.txt").find("already quantized"), std::string::npos) << slurp(dir + "/err2.txt");
  EXPECT_FALSE(std::filesystem::exists(dir + "/c.onnx"));
  std::filesystem::remove_all(dir);
}

// Saturation fix follows the ISA oneDNN will use, read at run time: capped at
// AVX2 (ONEDNN_MAX_CPU_ISA, as on a CPU without VNNI) every layer gets 7-bit
// weights; on a VNNI CPU without the cap, none does. The cap is real on a VNNI
// machine and a no-op on an AVX2 one; both runs are checked wherever we are.
TEST(QuantCli, SaturationFixFollowsIsaCap) {
  std::string model = shared("models/resnet8_cifar10_mlperftiny.onnx");
  if (!std::filesystem::exists(model)) GTEST_SKIP() << model << " not present";
  std::string dir = std::filesystem::temp_directory_path() / ("c8isa_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string args = resnet8_calibrate(model);
  for (bool capped : {true, false}) {
    std::string tag = capped ? "capped" : "native";
    std::string cmd = std::string(capped ? "ONEDNN_MAX_CPU_ISA=AVX2 " : "") + args + "-o " + dir + "/" + tag +
                      ".onnx --report " + dir + "/" + tag + ".json >/dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    auto rep = nlohmann::json::parse(slurp(dir + "/" + tag + ".json"));
    bool vnni = rep["settings"]["cpu_vnni"];
    if (capped) { EXPECT_FALSE(vnni) << "ONEDNN_MAX_CPU_ISA=AVX2 must hide VNNI"; }
    if (!capped) { EXPECT_EQ(vnni, cpu_has_vnni()); }
    EXPECT_EQ(rep["settings"]["saturation_fix"], vnni ? "none" : "all") << tag;
    ASSERT_FALSE(rep["weights"].empty());
    for (const auto& w : rep["weights"]) EXPECT_EQ(w["range"][1], vnni ? 127 : 63) << tag << " " << w["node"];
  }
  std::filesystem::remove_all(dir);
}


// --target sets the weights for the CPU the model will run on, whatever CPU
// calibrates it (users calibrate on one machine and deploy on another): vnni
// gives 8-bit weights, avx2 and any 7-bit ones; auto follows this CPU's
// effective ISA. info shows the recorded target.
TEST(QuantCli, TargetSetsWeightBitsWhateverTheCpu) {
  std::string model = shared("models/resnet8_cifar10_mlperftiny.onnx");
  ASSERT_TRUE(std::filesystem::exists(model)) << model;
  std::string dir = std::filesystem::temp_directory_path() / ("c8tgt_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string args = resnet8_calibrate(model);
  struct Case {
    const char *env, *target, *want;
    int wmax;
  };
  for (const Case& c : {Case{"", "vnni", "vnni", 127}, Case{"", "avx2", "avx2", 63}, Case{"", "any", "any", 63},
                        Case{"ONEDNN_MAX_CPU_ISA=AVX2 ", "auto", "avx2", 63}, Case{"ONEDNN_MAX_CPU_ISA=AVX2 ", "vnni", "vnni", 127}}) {
    std::string tag = std::string(c.target) + (c.env[0] ? "_capped" : "");
    std::string cmd = std::string(c.env) + args + "--target " + c.target + " -o " + dir + "/" + tag + ".onnx --report " + dir +
                      "/" + tag + ".json >/dev/null 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    auto rep = nlohmann::json::parse(slurp(dir + "/" + tag + ".json"));
    EXPECT_EQ(rep["settings"]["target"], c.want) << tag;
    EXPECT_EQ(rep["settings"]["saturation_fix"], c.wmax == 127 ? "none" : "all") << tag;
    ASSERT_FALSE(rep["weights"].empty());
    for (const auto& w : rep["weights"]) EXPECT_EQ(w["range"][1], c.wmax) << tag << " " << w["node"];
    std::string info = dir + "/" + tag + ".info.json";
    ASSERT_EQ(std::system((std::string(C8_BINARY) + " info " + dir + "/" + tag + ".onnx --json > " + info).c_str()), 0);
    EXPECT_EQ(nlohmann::json::parse(slurp(info))["target"], c.want) << tag;
  }
  int rc = std::system((args + "--target sse -o " + dir + "/x.onnx 2>/dev/null >/dev/null").c_str());
  EXPECT_NE(rc, 0) << "an unknown target is refused";
  EXPECT_FALSE(std::filesystem::exists(dir + "/x.onnx"));
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace c8
