// Unit tests of src/report: similarity, precision detection, report rendering, atomic writes.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>

#include "../eval/eval_test_util.h"
#include "report/compare.h"
#include "report/precision.h"
#include "report/report.h"
#include "base/error.h"

namespace {

using namespace c8;

TEST(ReportTest, Similarity) {
  float a[] = {1, 2, 3, 4}, b[] = {1, 2, 3, 4}, c[] = {1.1f, 2, 3, 4}, z[] = {0, 0, 0, 0}, n[] = {-1, -2, -3, -4};
  double cos, nmse, mx;
  similarity(a, b, 4, cos, nmse, mx);
  EXPECT_EQ(cos, 1.0);
  EXPECT_EQ(nmse, 0.0);
  EXPECT_EQ(mx, 0.0);
  similarity(a, c, 4, cos, nmse, mx);
  EXPECT_LT(cos, 1.0);
  EXPECT_GT(cos, 0.999);
  EXPECT_NEAR(nmse, 0.01 / 30.0, 1e-8);
  EXPECT_NEAR(mx, 0.1, 1e-6);
  similarity(a, n, 4, cos, nmse, mx);
  EXPECT_NEAR(cos, -1.0, 1e-12);
  EXPECT_NEAR(nmse, 4.0, 1e-12);
  similarity(z, z, 4, cos, nmse, mx);
  EXPECT_EQ(cos, 1.0);
  EXPECT_EQ(nmse, 0.0);
  similarity(z, a, 4, cos, nmse, mx);
  EXPECT_EQ(cos, 0.0);
  EXPECT_GT(nmse, 1e20);
}

TEST(ReportTest, KernelPrecision) {
  EXPECT_EQ(kernel_precision("dnnl:brgconv:avx2 u8s8", DType::F32), "U8");
  EXPECT_EQ(kernel_precision("dnnl:brg:avx2 u8s8->u8", DType::U8), "U8");
  EXPECT_EQ(kernel_precision("dnnl:gemm:jit s8s8->f32", DType::I8), "I8");
  // Float fallbacks of the INT8 kernels: the parenthesis describes tensors, not arithmetic.
  EXPECT_EQ(kernel_precision("dnnl:jit:avx2 f32(u8->f32: 8-bit weight pairs would saturate u8s8 without VNNI)", DType::U8), "");
  EXPECT_EQ(kernel_precision("dnnl:jit:avx2 f32(u8->u8: depthwise int8 0.21ms > f32 0.12ms)", DType::U8), "");
  EXPECT_EQ(kernel_precision("dnnl:jit:avx512_core_vnni S8S8", DType::F32), "I8");
  EXPECT_EQ(kernel_precision("int8 gemm", DType::I8), "I8");
  EXPECT_EQ(kernel_precision("int8 gemm", DType::U8), "U8");
  EXPECT_EQ(kernel_precision("dnnl:jit:avx2", DType::F32), "");
  EXPECT_EQ(kernel_precision("ref", DType::F32), "");
  EXPECT_EQ(kernel_precision("dnnl:gemm:jit", DType::F32), "");
  EXPECT_EQ(kernel_precision("view+reorder", DType::F32), "");
}

// x(u8) -> DQ -> Conv <- DQ(w int8 per-tensor); Gemm on the float result.
Graph tiny_qdq(bool per_channel, DType act) {
  Graph g;
  int x = g.add_value("x", DType::F32);
  g.values[size_t(x)].shape = {1, 2, 4, 4};
  g.values[size_t(x)].has_shape = true;
  g.inputs.push_back(x);
  Tensor zp(act, {});
  int s = g.add_constant("s", Tensor::scalar_f32(0.1f));
  int z = g.add_constant("z", zp);
  int q = g.add_value("xq", DType::Undefined);  // dtype unknown: derived from the zero point
  int dq = g.add_value("xdq", DType::F32);
  g.add_node("QuantizeLinear", {x, s, z}, {q}, "q");
  g.add_node("DequantizeLinear", {q, s, z}, {dq}, "dq");
  int w = g.add_constant("w", Tensor(DType::I8, {3, 2, 1, 1}));
  int ws = g.add_constant("ws", per_channel ? Tensor::from_f32({3}, {0.1f, 0.2f, 0.3f}) : Tensor::scalar_f32(0.1f));
  int wdq = g.add_value("wdq", DType::F32);
  int dn = g.add_node("DequantizeLinear", {w, ws}, {wdq}, "wdq");
  if (per_channel) g.nodes[size_t(dn)].set_i("axis", 0);
  int y = g.add_value("y", DType::F32);
  g.add_node("Conv", {dq, wdq}, {y}, "conv");
  int f = g.add_value("f", DType::F32);
  g.add_node("Flatten", {y}, {f}, "flatten");
  int gw = g.add_constant("gw", Tensor(DType::F32, {48, 5}));
  int o = g.add_value("out", DType::F32);
  g.add_node("Gemm", {f, gw}, {o}, "gemm");
  g.outputs.push_back(o);
  return g;
}

TEST(ReportTest, StaticPrecision) {
  for (bool pc : {false, true})
    for (DType act : {DType::U8, DType::I8}) {
      Graph g = tiny_qdq(pc, act);
      const Node* conv = nullptr;
      const Node* gemm = nullptr;
      for (const Node& n : g.nodes) {
        if (n.op == "Conv") conv = &n;
        if (n.op == "Gemm") gemm = &n;
      }
      ASSERT_TRUE(conv && gemm);
      EXPECT_TRUE(is_layer_op(*conv));
      LayerPrecision lp = static_precision(g, *conv);
      EXPECT_EQ(lp.input, act == DType::U8 ? "U8" : "I8");
      EXPECT_EQ(lp.weights, "I8");
      EXPECT_EQ(lp.weight_quant, pc ? "per-channel" : "per-tensor");
      EXPECT_EQ(lp.weight_axis, pc ? 0 : -1);
      LayerPrecision lg = static_precision(g, *gemm);
      EXPECT_EQ(lg.input, "FP32");
      EXPECT_EQ(lg.weights, "FP32");
      EXPECT_EQ(lg.weight_quant, "");
    }
  Node qconv;
  qconv.op = "QConv";
  qconv.domain = "calibr8";
  EXPECT_TRUE(is_layer_op(qconv));
  Node relu;
  relu.op = "Relu";
  EXPECT_FALSE(is_layer_op(relu));
}

// Precision and kernel of the tiny QDQ graph as the fast session runs it.
TEST(ReportTest, AssignPrecisionFromSession) {
  Graph g = tiny_qdq(true, DType::U8);
  Session s(g);
  s.run({Tensor(DType::F32, {1, 2, 4, 4})});
  std::vector<LayerRow> rows(2);
  rows[0].name = "y";
  rows[1].name = "out";
  assign_layer_precision(rows, g, s);
  EXPECT_EQ(rows[0].precision, "U8");  // simulated (reference Q/DQ) or a real INT8 kernel
  EXPECT_EQ(rows[0].weights, "I8 per-channel");
  EXPECT_EQ(rows[1].precision, "FP32");
  EXPECT_FALSE(rows[1].int8_kernel);
}

CompareResult synthetic() {
  CompareResult r;
  r.config.path_a = "a<fp32>.onnx";
  r.config.path_b = "b.onnx";
  r.b.kernels[std::string(600, 'k') + "_end"] = 1;  // longer than any fixed buffer
  r.config.dataset = "/data/x";
  r.a.path = r.config.path_a;
  r.b.path = r.config.path_b;
  r.a.file_bytes = 4000;
  r.b.file_bytes = 1000;
  r.a.top1 = 0.9, r.b.top1 = 0.88, r.a.top5 = 0.99, r.b.top5 = 0.99;
  r.images = 100, r.agree = 97, r.agreement = 0.97;
  r.annotated = r.has_task = true;
  r.task = {Task::Classify, "topk", "annotations: class labels (labels.txt)"};
  r.metric = "top1";
  r.a.metrics = {{"top1", 0.9}, {"top5", 0.99}};
  r.b.metrics = {{"top1", 0.88}, {"top5", 0.99}};
  r.agreement_json = {{"images", 100}, {"task", "classify"}, {"top1_agreement", 0.97}, {"agree_images", 97},
                      {"outputs", {{{"name", "prob"}, {"images", 100}, {"cosine", 0.998}, {"nmse", 4e-3}, {"max_abs", 0.2}}}}};
  r.a.latency.ms = {2, 2.1, 2.2};
  r.b.latency.ms = {1, 1.1, 1.2};
  r.a.latency.finish(1);
  r.b.latency.finish(1);
  r.speedup = 2.1 / 1.1;
  r.rounds = 3;
  r.layer_images = 2;
  LayerRow l1;
  l1.name = "conv<script>";
  l1.op = "Conv";
  l1.precision = "U8";
  l1.weights = "I8 per-channel";
  l1.matched = true;
  l1.cosine = 0.999;
  l1.nmse = 2e-3;
  l1.nmse_max = 3e-3;
  l1.images = 2;
  LayerRow l2 = l1;
  l2.name = "gemm";
  l2.precision = "FP32";
  l2.nmse = 1e-6;
  LayerRow l3 = l1;
  l3.name = "extra";
  l3.matched = false;
  l3.note = "no value of this name in A";
  r.layers = {l1, l2, l3};
  return r;
}

TEST(ReportTest, JsonTextHtml) {
  CompareResult r = synthetic();
  EXPECT_DOUBLE_EQ(r.a.latency.median_ms, 2.1);
  EXPECT_NEAR(r.b.latency.throughput_ips, 3 / 3.3e-3, 1e-6);
  nlohmann::json calib = {{"settings", {{"method", "percentile"}, {"percentile", 99.99}}},
                          {"timings", {{"total_s", 12.5}}},
                          {"layers", nlohmann::json::array({{{"name", "c1"}, {"scale", 0.5}}})}};
  nlohmann::json j = report_json(r, calib);
  nlohmann::json back = nlohmann::json::parse(j.dump());  // round-trips (no NaN)
  EXPECT_EQ(back["a"]["top1"], 0.9);
  EXPECT_NEAR(back["accuracy"]["top1_drop"].get<double>(), 0.02, 1e-12);
  EXPECT_EQ(back["layers"]["rows"].size(), 3u);
  EXPECT_TRUE(back["layers"]["rows"][2]["nmse"].is_null());
  EXPECT_EQ(back["calibration"]["settings"]["method"], "percentile");
  std::string text = report_text(j);
  EXPECT_NE(text.find("97.00 % (97/100"), std::string::npos) << text;
  EXPECT_NE(text.find("1.91x"), std::string::npos) << text;
  EXPECT_NE(text.find("percentile"), std::string::npos);
  EXPECT_NE(text.find("k_end x1\n"), std::string::npos);
  std::string html = report_html(j);
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  EXPECT_EQ(html.find("conv<script>"), std::string::npos);  // escaped
  EXPECT_NE(html.find("conv&lt;script&gt;"), std::string::npos);
  EXPECT_NE(html.find("a&lt;fp32&gt;.onnx"), std::string::npos);
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("1e-6"), std::string::npos);  // log axis ticks
  EXPECT_NE(html.find("total_s"), std::string::npos);
  EXPECT_NE(html.find("percentile"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("<script src"), std::string::npos);
  // Tags balance for the structural ones.
  auto count = [&](const std::string& s) {
    size_t n = 0;
    for (size_t p = html.find(s); p != std::string::npos; p = html.find(s, p + 1)) ++n;
    return n;
  };
  EXPECT_EQ(count("<table"), count("</table>"));
  EXPECT_EQ(count("<tr>") + count("<tr "), count("</tr>"));
  EXPECT_EQ(count("<svg"), count("</svg>"));
  EXPECT_EQ(html.substr(html.size() - 8), "</html>\n");
}

TEST(ReportTest, IdenticalLayersChart) {
  CompareResult r = synthetic();
  for (auto& l : r.layers) l.nmse = 0;
  std::string html = report_html(report_json(r));
  EXPECT_NE(html.find("identical"), std::string::npos);
  EXPECT_NE(html.find("<svg"), std::string::npos);
}

TEST(ReportTest, ImageRange) {
  EXPECT_EQ(parse_image_range("200:", 500), std::make_pair(size_t(200), size_t(500)));
  EXPECT_EQ(parse_image_range(":10", 500), std::make_pair(size_t(0), size_t(10)));
  EXPECT_EQ(parse_image_range("10", 500), std::make_pair(size_t(0), size_t(10)));
  EXPECT_EQ(parse_image_range("5:1000", 50), std::make_pair(size_t(5), size_t(50)));
  EXPECT_NE(c8test::error_of([] { parse_image_range("60:", 50); }).find("selects no images"), std::string::npos);
  EXPECT_NE(c8test::error_of([] { parse_image_range("a:b", 50); }).find("--range 'a:b'"), std::string::npos);
}

TEST(ReportTest, AtomicWrite) {
  c8test::TempDir t;
  std::string p = t.sub("r.json");
  write_file_atomic(p, "first");
  write_file_atomic(p, "second");
  EXPECT_EQ(c8test::read_file(p), "second");
  size_t files = 0;
  for (auto& e : std::filesystem::directory_iterator(t.path)) (void)e, ++files;
  EXPECT_EQ(files, 1u);  // no temp files left behind
  std::string err = c8test::error_of([&] { write_file_atomic(t.sub("nope/r.json"), "x"); });
  EXPECT_NE(err.find(t.sub("nope/r.json")), std::string::npos) << err;
  EXPECT_NE(c8test::error_of([&] { read_json_file(t.sub("missing.json")); }).find("missing.json"), std::string::npos);
  t.write("bad.json", "{nope");
  EXPECT_NE(c8test::error_of([&] { read_json_file(t.sub("bad.json")); }).find("invalid JSON"), std::string::npos);
}

}  // namespace
