// INT8 runtime on standard ONNX QDQ graphs: passes/fuse_qdq.cc +
// kernels/onednn/q*.cc and kernels/x86/*/q*.cc against the same QDQ graph on the reference executor.
// The QDQ graphs are made here by a small helper (min/max calibration,
// per-channel symmetric int8 weights, uint8 asymmetric or int8 symmetric
// activations), not by src/quant.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "eval/image.h"
#include "eval/preprocess.h"
#include "ir/onnx_import.h"
#include "passes/passes.h"
#include "runtime/ref_executor.h"
#include "report/precision.h"
#include "runtime/session.h"

using namespace c8;

namespace {

std::string shared(const std::string& rel) { return std::string(C8_SHARED_DIR) + "/" + rel; }

Tensor random_t(const Shape& s, uint32_t seed, float lo, float hi) {
  Tensor t(DType::F32, s);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
  return t;
}

struct QdqOptions {
  int weight_bits = 7;        // 7: safe for u8s8 without VNNI (vpmaddubsw)
  bool s8_activations = false;  // int8 symmetric instead of uint8 asymmetric
};

struct Range {
  float lo = 0, hi = 0;
};

// Inserts QuantizeLinear/DequantizeLinear the way ONNX Runtime's QDQ
// quantizer does: on every activation read by Conv/Gemm/MatMul/pools/
// Flatten/Reshape/Concat, on one operand of each residual Add (the other one
// is the conv output the Add fuses into), with the pools' / views' outputs
// sharing their input's parameters; weights per output channel.
Graph make_qdq(Graph g, const std::vector<Tensor>& calib, const QdqOptions& o = {}) {
  remove_identity(g);
  fold_constants(g);
  fold_batchnorm(g);
  // Ranges by value name from an unfused FP32 run.
  std::map<std::string, Range> rng;
  auto upd = [&](const std::string& name, const Tensor& t) {
    if (t.dtype != DType::F32) return;
    Range& r = rng[name];
    for (int64_t i = 0; i < t.numel(); ++i) {
      float v = t.data<float>()[i];
      r.lo = std::min(r.lo, v);
      r.hi = std::max(r.hi, v);
    }
  };
  {
    SessionOptions so;
    so.optimize = false;
    Session s(g, so);
    s.observer = [&](int v, const Tensor& t) { upd(s.planned_graph().values[size_t(v)].name, t); };
    for (const Tensor& x : calib) {
      upd(g.values[size_t(g.inputs[0])].name, x);
      s.run({x});
    }
  }
  struct P {
    float s;
    int64_t z;
  };
  std::map<int, P> params;  // value id -> activation params
  auto params_of = [&](int v) {
    Range r = rng[g.values[size_t(v)].name];
    P p;
    if (o.s8_activations) {
      float m = std::max(std::fabs(r.lo), std::fabs(r.hi));
      p.s = m > 0 ? m / 127.f : 1.f;
      p.z = 0;
    } else {
      p.s = r.hi > r.lo ? (r.hi - r.lo) / 255.f : 1.f;
      p.z = std::min<int64_t>(255, std::max<int64_t>(0, int64_t(std::nearbyint(-r.lo / p.s))));
    }
    return p;
  };
  auto cons = g.consumers();
  std::set<int> qset;
  std::map<int, int> inherit;  // output -> input whose params it shares
  auto single_conv = [&](int v) {
    int p = g.values[size_t(v)].producer;
    return p >= 0 && g.nodes[size_t(p)].op == "Conv" && cons[size_t(v)].size() == 1;
  };
  for (int ni : g.topo_order()) {
    const Node& n = g.nodes[size_t(ni)];
    const std::string& op = n.op;
    if (op == "Conv" || op == "Gemm" || op == "MatMul") {
      qset.insert(n.inputs[0]);
    } else if ((op == "Flatten" || op == "Reshape") && [&] {
                 // Views are quantized only when a quantized op reads them
                 // (quantized logits would make top-1 a tie-break).
                 for (int c : cons[size_t(n.outputs[0])])
                   if (g.nodes[size_t(c)].op == "Gemm" || g.nodes[size_t(c)].op == "MatMul") return false;
                 return true;
               }()) {
      continue;
    } else if (op == "MaxPool" || op == "AveragePool" || op == "GlobalAveragePool" || op == "Flatten" || op == "Reshape") {
      qset.insert(n.inputs[0]);
      inherit[n.outputs[0]] = n.inputs[0];
    } else if (op == "Concat") {
      for (int v : n.inputs) qset.insert(v);
    } else if (op == "Add" && n.inputs.size() == 2 && !g.is_const(n.inputs[0]) && !g.is_const(n.inputs[1])) {
      int a = n.inputs[0], b = n.inputs[1];
      int pa = g.values[size_t(a)].producer, pb = g.values[size_t(b)].producer;
      if (single_conv(a) && (!single_conv(b) || pa > pb)) qset.insert(b);
      else if (single_conv(b)) qset.insert(a);
      else {
        qset.insert(a);
        qset.insert(b);
      }
    }
  }
  for (int ni : g.topo_order()) {  // parameters in order so inherited ones exist
    for (int v : g.nodes[size_t(ni)].inputs)
      if (qset.count(v) && !params.count(v) && !g.is_const(v)) params[v] = params_of(v);
    for (int v : g.nodes[size_t(ni)].outputs) {
      auto it = inherit.find(v);
      if (it != inherit.end() && params.count(it->second)) params[v] = params[it->second];
    }
  }
  DType qt = o.s8_activations ? DType::I8 : DType::U8;
  for (auto& [v, p] : params) {
    if (!qset.count(v) || g.is_const(v)) continue;
    std::string nm = g.values[size_t(v)].name;
    int sc = g.add_constant(g.unique_name(nm + "_scale"), Tensor::scalar_f32(p.s));
    Tensor zt(qt, {});
    if (qt == DType::U8) zt.data<uint8_t>()[0] = uint8_t(p.z);
    else zt.data<int8_t>()[0] = int8_t(p.z);
    int zp = g.add_constant(g.unique_name(nm + "_zp"), zt);
    int vq = g.add_value(g.unique_name(nm + "_q"), qt);
    int vd = g.add_value(g.unique_name(nm + "_dq"), DType::F32);
    g.values[size_t(vq)].shape = g.values[size_t(vd)].shape = g.values[size_t(v)].shape;
    g.values[size_t(vq)].has_shape = g.values[size_t(vd)].has_shape = g.values[size_t(v)].has_shape;
    bool was_out = std::count(g.outputs.begin(), g.outputs.end(), v) > 0;
    g.replace_uses(v, vd);
    if (was_out) std::replace(g.outputs.begin(), g.outputs.end(), vd, v);
    g.add_node("QuantizeLinear", {v, sc, zp}, {vq}, nm + "_Q");
    g.add_node("DequantizeLinear", {vq, sc, zp}, {vd}, nm + "_DQ");
  }
  // Weights.
  float qmax = float((1 << (o.weight_bits - 1)) - 1);
  size_t nn = g.nodes.size();
  for (size_t ni = 0; ni < nn; ++ni) {
    Node n = g.nodes[ni];
    if (n.dead || (n.op != "Conv" && n.op != "Gemm" && n.op != "MatMul") || !g.is_const(n.inputs[1])) continue;
    const Tensor W = g.const_of(n.inputs[1]);  // a copy: add_value below reallocates g.values
    if (W.dtype != DType::F32) continue;
    int axis = n.op == "Conv" ? 0 : (n.op == "Gemm" && n.attr_i("transB", 0)) ? 0 : 1;
    if (n.op == "MatMul" && W.rank() != 2) continue;
    int64_t ch = W.shape[size_t(axis)], inner = 1;
    for (size_t i = size_t(axis) + 1; i < W.shape.size(); ++i) inner *= W.shape[i];
    std::vector<float> mx(size_t(ch), 0.f);
    for (int64_t i = 0; i < W.numel(); ++i) {
      int64_t c = (i / inner) % ch;
      mx[size_t(c)] = std::max(mx[size_t(c)], std::fabs(W.data<float>()[i]));
    }
    Tensor s(DType::F32, {ch}), z(DType::I8, {ch}), q(DType::I8, W.shape);
    for (int64_t c = 0; c < ch; ++c) s.data<float>()[c] = mx[size_t(c)] > 0 ? mx[size_t(c)] / qmax : 1.f;
    for (int64_t i = 0; i < W.numel(); ++i) {
      float v = std::nearbyint(W.data<float>()[i] / s.data<float>()[(i / inner) % ch]);
      q.data<int8_t>()[i] = int8_t(std::max(-qmax, std::min(qmax, v)));
    }
    std::string nm = g.values[size_t(n.inputs[1])].name;
    int wq = g.add_constant(g.unique_name(nm + "_q"), q);
    int ws = g.add_constant(g.unique_name(nm + "_scale"), s);
    int wz = g.add_constant(g.unique_name(nm + "_zp"), z);
    int wd = g.add_value(g.unique_name(nm + "_dq"), DType::F32);
    g.values[size_t(wd)].shape = W.shape;
    g.values[size_t(wd)].has_shape = true;
    int dn = g.add_node("DequantizeLinear", {wq, ws, wz}, {wd}, nm + "_DQ");
    g.nodes[size_t(dn)].set_i("axis", axis);
    g.nodes[ni].inputs[1] = wd;
  }
  g.compact();
  std::string err = g.verify();
  if (!err.empty()) throw std::runtime_error("qdq graph invalid: " + err);
  return g;
}

int argmax(const Tensor& t, int64_t off, int64_t n) {
  const float* p = t.data<float>() + off;
  return int(std::max_element(p, p + n) - p);
}

// Every QConv/QGemm ran a oneDNN kernel (never ref); returns "op impl" lines.
std::string kernel_report(const Session& s, int* int8_convs, int* f32_convs, int* ref_kernels) {
  std::ostringstream os;
  *int8_convs = *f32_convs = *ref_kernels = 0;
  for (const KernelRecord& r : s.kernels()) {
    os << "  " << r.op << " " << r.node << ": " << r.impl << "\n";
    if (r.op == "QConv" || r.op == "QGemm") {
      if (!kernel_precision(r.impl, DType::U8).empty()) ++*int8_convs;  // not the FP32 fall-backs "f32(s8->...: why)"
      else ++*f32_convs;
    }
    if (r.impl == "ref" || r.impl.find(":ref") != std::string::npos || r.impl.find("ref_") != std::string::npos) ++*ref_kernels;
  }
  return os.str();
}

// A small seeded network with every pattern: conv+relu, residual add+relu,
// maxpool, depthwise, 1x1, global average pool, flatten, gemm.
Graph synthetic_net(uint32_t seed) {
  Graph g;
  g.name = "synthetic";
  std::mt19937 rng(seed);
  auto w = [&](Shape s, float sd) {
    Tensor t(DType::F32, s);
    std::normal_distribution<float> d(0.f, sd);
    for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = d(rng);
    return t;
  };
  auto val = [&](const std::string& n) { return g.add_value(n, DType::F32); };
  int x = val("x");
  g.values[size_t(x)].shape = {1, 8, 20, 20};
  g.values[size_t(x)].has_shape = true;
  g.inputs = {x};
  auto conv = [&](int in, int64_t cin, int64_t cout, int64_t k, int64_t group, const std::string& nm) {
    int wv = g.add_constant(nm + "_w", w({cout, cin / group, k, k}, std::sqrt(2.f / float(cin / group * k * k))));
    int bv = g.add_constant(nm + "_b", w({cout}, 0.1f));
    int y = val(nm + "_y");
    int n = g.add_node("Conv", {in, wv, bv}, {y}, nm);
    g.nodes[size_t(n)].set_ints("pads", {k / 2, k / 2, k / 2, k / 2});
    g.nodes[size_t(n)].set_i("group", group);
    return y;
  };
  auto unary = [&](const std::string& op, int in, const std::string& nm) {
    int y = val(nm);
    g.add_node(op, {in}, {y}, nm);
    return y;
  };
  int c1 = unary("Relu", conv(x, 8, 16, 3, 1, "c1"), "r1");
  int c2 = unary("Relu", conv(c1, 16, 16, 3, 1, "c2"), "r2");
  int c3 = conv(c2, 16, 16, 3, 1, "c3");
  int add = val("add");
  g.add_node("Add", {c3, c1}, {add}, "add");
  int r3 = unary("Relu", add, "r3");
  int mp = val("mp");
  int pn = g.add_node("MaxPool", {r3}, {mp}, "mp");
  g.nodes[size_t(pn)].set_ints("kernel_shape", {2, 2});
  g.nodes[size_t(pn)].set_ints("strides", {2, 2});
  int dw = unary("Relu", conv(mp, 16, 16, 3, 16, "dw"), "r4");
  int pw = unary("Relu", conv(dw, 16, 24, 1, 1, "pw"), "r5");
  int gap = unary("GlobalAveragePool", pw, "gap");
  int fl = unary("Flatten", gap, "flat");
  int fw = g.add_constant("fc_w", w({10, 24}, 0.3f));
  int fb = g.add_constant("fc_b", w({10}, 0.1f));
  int y = val("logits");
  int gn = g.add_node("Gemm", {fl, fw, fb}, {y}, "fc");
  g.nodes[size_t(gn)].set_i("transB", 1);
  g.outputs = {y};
  return g;
}

struct Diff {
  double max_abs = 0, frac_gt1lsb = 0;
};

Diff compare(const Tensor& a, const Tensor& b, double lsb) {
  Diff d;
  int64_t bad = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    double e = std::fabs(double(a.data<float>()[i]) - double(b.data<float>()[i]));
    d.max_abs = std::max(d.max_abs, e);
    bad += e > lsb * 1.01;
  }
  d.frac_gt1lsb = double(bad) / double(std::max<int64_t>(1, a.numel()));
  return d;
}

void check_synthetic(const QdqOptions& o, bool expect_all_int8) {
  Graph f = synthetic_net(3);
  std::vector<Tensor> calib{random_t({1, 8, 20, 20}, 11, -1, 1), random_t({1, 8, 20, 20}, 12, -1, 1)};
  Graph q = make_qdq(f, calib, o);
  Session s(q);
  auto h = s.graph().op_histogram();
  EXPECT_EQ(h["QConv"], 5) << "every conv fused";
  EXPECT_EQ(h["QGemm"], 1);
  EXPECT_EQ(h["QGlobalAveragePool"], 1);
  EXPECT_EQ(h.count("Add"), 0u) << "residual add fused as sum post-op";
  EXPECT_EQ(h.count("Relu"), 0u);
  double worst_logit = 0;
  int64_t total = 0, off1 = 0, off_more = 0;
  for (uint32_t seed = 100; seed < 108; ++seed) {
    Tensor x = random_t({1, 8, 20, 20}, seed, -1, 1);
    // Every quantized tensor of the fused run against the same-named one of
    // the QDQ graph on the reference kernels, in LSBs.
    std::map<std::string, Tensor> rq;
    RefExecutor re(q);
    re.observer = [&](int v, const Tensor& t) {
      if (t.dtype == DType::U8 || t.dtype == DType::I8) rq[q.values[size_t(v)].name] = t.clone();
    };
    auto ref = re.run({x});
    s.observer = [&](int v, const Tensor& t) {
      auto it = rq.find(s.planned_graph().values[size_t(v)].name);
      if (it == rq.end()) return;
      // int8 activations run as uint8 with zero point + 128 (fuse_qdq.cc step 0).
      int64_t shift = t.dtype == DType::U8 && it->second.dtype == DType::I8 ? 128 : 0;
      for (int64_t i = 0; i < t.numel(); ++i) {
        int64_t d = std::llabs(t.get_i64(i) - shift - it->second.get_i64(i));
        ++total;
        off1 += d == 1;
        off_more += d > 1;
      }
    };
    auto out = s.run({x});
    s.observer = nullptr;
    Diff dl = compare(ref[0], out[0], 1e-9);
    worst_logit = std::max(worst_logit, dl.max_abs);
    EXPECT_EQ(argmax(ref[0], 0, 10), argmax(out[0], 0, 10)) << "seed " << seed;
  }
  EXPECT_GT(total, 8 * 1000);
  EXPECT_LE(double(off1), 0.02 * double(total)) << "quantized tensors: elements off by 1 LSB";
  EXPECT_LE(double(off_more), 0.001 * double(total)) << "quantized tensors: elements off by more than 1 LSB";
  std::printf("synthetic (w%d bits, %s): %lld quantized elements compared, %lld off by 1 LSB, %lld by more; max |logit diff| %.4g\n",
              o.weight_bits, o.s8_activations ? "s8 act" : "u8 act", (long long)total, (long long)off1, (long long)off_more,
              worst_logit);
  int n8, nf, nref;
  std::string rep = kernel_report(s, &n8, &nf, &nref);
  std::printf("%s", rep.c_str());
  EXPECT_EQ(nref, 0) << rep;
  if (expect_all_int8) { EXPECT_GE(n8, 4) << rep; }  // the depthwise one may run FP32 by measured speed
}

}  // namespace

TEST(Int8Qdq, SyntheticU8MatchesReference) { check_synthetic({7, false}, true); }
TEST(Int8Qdq, SyntheticS8MatchesReference) { check_synthetic({7, true}, false); }
TEST(Int8Qdq, Synthetic8BitWeightsStillCorrect) { check_synthetic({8, false}, false); }

// The calibr8-domain reference kernels are exactly the QDQ graph they replace.
TEST(Int8Qdq, RefQopsEqualQdqGraph) {
  Graph f = synthetic_net(5);
  std::vector<Tensor> calib{random_t({1, 8, 20, 20}, 21, -1, 1)};
  Graph q = make_qdq(f, calib);
  Graph fused = q;
  EXPECT_GT(fuse_qdq(fused), 0);
  auto h = fused.op_histogram();
  EXPECT_EQ(h["QConv"], 5);
  EXPECT_EQ(h.count("QuantizeLinear"), 1u) << "only the model input is quantized at run time";
  EXPECT_EQ(h.count("DequantizeLinear"), 0u);
  EXPECT_EQ(h.count("Add"), 0u);
  Tensor x = random_t({1, 8, 20, 20}, 22, -1, 1);
  auto a = RefExecutor(q).run({x});
  auto b = RefExecutor(fused).run({x});
  for (size_t k = 0; k < a.size(); ++k)
    for (int64_t i = 0; i < a[k].numel(); ++i) ASSERT_EQ(a[k].data<float>()[i], b[k].data<float>()[i]) << k << " " << i;
}

namespace {

struct ImageSet {
  std::vector<std::string> files;
  std::vector<int> labels;
};

ImageSet read_labels(const std::string& dir, size_t limit) {
  ImageSet s;
  std::ifstream f(dir + "/labels.txt");
  std::string p;
  int l;
  while (f >> p >> l && s.files.size() < limit) {
    s.files.push_back(dir + "/" + p);
    s.labels.push_back(l);
  }
  return s;
}

Tensor image_tensor(const std::string& file, int size, float mean, float stdv) {
  Image img = load_image(file);
  Preprocess pp;
  pp.width = pp.height = size;
  pp.mean = {mean};
  pp.std = {stdv};
  Tensor t(DType::F32, {1, 3, size, size});
  preprocess_into(img, pp, 3, size, size, t.data<float>());
  return t;
}

void check_real_model(const std::string& model, const std::string& data, size_t n_calib, size_t n_eval, int size,
                      float mean, float stdv, double min_agree, bool chain_lsb_bound) {
  if (!std::filesystem::exists(shared(model))) GTEST_SKIP() << "missing " << model;
  Graph f = load_onnx(shared(model));
  ImageSet imgs = read_labels(shared(data), n_calib + n_eval);
  ASSERT_GE(imgs.files.size(), n_calib + n_eval);
  std::vector<Tensor> calib;
  for (size_t i = 0; i < n_calib; ++i) calib.push_back(image_tensor(imgs.files[i], size, mean, stdv));
  Graph q = make_qdq(f, calib);
  Session s(q);
  Session fp(f);
  RefExecutor ref(q);
  int agree = 0, agree_fp = 0, top1_int8 = 0, top1_fp = 0, n = 0;
  int64_t lsb_total = 0, lsb_off1 = 0, lsb_more = 0;
  for (size_t i = n_calib; i < n_calib + n_eval; ++i) {
    Tensor x = image_tensor(imgs.files[i], size, mean, stdv);
    std::map<std::string, Tensor> rq;
    bool lsb = i < n_calib + 3;  // per-tensor LSB comparison on a few images
    ref.observer = [&](int v, const Tensor& t) {
      if (lsb && (t.dtype == DType::U8 || t.dtype == DType::I8)) rq[q.values[size_t(v)].name] = t.clone();
    };
    auto r = ref.run({x});
    s.observer = [&](int v, const Tensor& t) {
      auto it = rq.find(s.planned_graph().values[size_t(v)].name);
      if (it == rq.end()) return;
      int64_t bad = 0, one = 0;
      for (int64_t e = 0; e < t.numel(); ++e) {
        int64_t d = std::llabs(t.get_i64(e) - it->second.get_i64(e));
        bad += d > 1;
        one += d == 1;
        ++lsb_total;
        lsb_off1 += d == 1;
        lsb_more += d > 1;
      }
      if (std::getenv("C8_INT8_DEBUG") && (bad || one))
        std::printf("  %s: %lld/%lld off by > 1 LSB, %lld by 1\n", it->first.c_str(), (long long)bad, (long long)t.numel(),
                    (long long)one);
    };
    auto o = s.run({x});
    s.observer = nullptr;
    auto p = fp.run({x});
    int64_t k = o[0].numel();
    int a = argmax(r[0], 0, k), b = argmax(o[0], 0, k), c = argmax(p[0], 0, k);
    agree += a == b;
    agree_fp += b == c;
    top1_int8 += b == imgs.labels[i] + (k == 1001 ? 1 : 0);
    top1_fp += c == imgs.labels[i] + (k == 1001 ? 1 : 0);
    ++n;
  }
  int n8, nf, nref;
  std::string rep = kernel_report(s, &n8, &nf, &nref);
  std::printf("%s: fused INT8 vs QDQ reference top-1 agreement %d/%d; INT8 vs FP32 %d/%d; label top-1 INT8 %d FP32 %d\n"
              "  QConv/QGemm int8 %d, f32 %d\n%s",
              model.c_str(), agree, n, agree_fp, n, top1_int8, top1_fp, n8, nf, rep.c_str());
  std::printf("  quantized tensors (3 images): %lld elements, %lld off by 1 LSB, %lld by more\n", (long long)lsb_total,
              (long long)lsb_off1, (long long)lsb_more);
  // Whole-chain LSB counts compound: one 1-LSB difference in an early layer
  // (oneDNN adds the FP32 bias in accumulator units in float32; the reference
  // sums in double) spreads through later layers. Each fused conv is held to
  // 1 LSB on identical inputs by the OneConv* tests; the chain bound is
  // asserted where no such compounding occurs (resnet8) and reported otherwise.
  if (chain_lsb_bound) { EXPECT_LE(double(lsb_more), 0.001 * double(lsb_total)); }
  EXPECT_GE(double(agree) / n, min_agree);
  EXPECT_EQ(nref, 0) << rep;
  for (const KernelRecord& r : s.kernels())
    if (r.op == "QConv" && r.impl.find("depthwise") == std::string::npos) {
      EXPECT_NE(r.impl.find("s8->"), std::string::npos) << r.node << " " << r.impl;
    }
}

}  // namespace

TEST(Int8Qdq, ResNet8Cifar) {
  check_real_model("models/resnet8_cifar10_mlperftiny.onnx", "data/cifar10-test-2000", 16, 500, 32, 0.f, 1.f, 0.99, true);
}

TEST(Int8Qdq, MobileNetV1Imagenet) {
  check_real_model("models/mobilenet_v1_0.25_224.onnx", "data/imagenet-sample-500", 8, 100, 224, 127.5f, 127.5f, 0.99, false);
}

// INT8 speed lives in bench/int8_vs_ort.sh (calibr8 vs ONNX Runtime on the same QDQ file).

namespace {

// One Conv [-> Clip(0,6)] on an input in [lo,hi] (uint8 zero point ~128 for
// [-1,1]) through make_qdq: the fused QConv's quantized output against the
// same QDQ graph on the reference executor, element by element in LSBs.
struct OneConv {
  int64_t cin = 3, cout = 8, k = 3, stride = 2, group = 1, hw = 16;  // even: the right pad is read
  std::vector<int64_t> pads{0, 0, 1, 1};
  bool clip = true;
  float lo = -1, hi = 1;
  // Inputs on the 8-bit image grid (p - 127.5) / 127.5, p in 0..255, the
  // calibration covering exactly [-1, 1]: scale 2/255, zero point 127 (odd;
  // 1 / (2/255) rounds below 127.5 in float), every x / scale an exact .5 tie.
  bool image_grid = false;
};

Tensor grid_t(const Shape& s, uint32_t seed, bool ends) {
  Tensor t(DType::F32, s);
  std::mt19937 rng(seed);
  std::uniform_int_distribution<int> u(0, 255);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = (float(u(rng)) - 127.5f) / 127.5f;
  if (ends) t.data<float>()[0] = -1.f, t.data<float>()[1] = 1.f;
  return t;
}

void check_one_conv(const OneConv& c, int64_t* off1_out = nullptr) {
  Graph g;
  g.name = "one_conv";
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.f, std::sqrt(2.f / float(c.cin / c.group * c.k * c.k)));
  Tensor W(DType::F32, {c.cout, c.cin / c.group, c.k, c.k}), B(DType::F32, {c.cout});
  for (int64_t i = 0; i < W.numel(); ++i) W.data<float>()[i] = nd(rng);
  for (int64_t i = 0; i < B.numel(); ++i) B.data<float>()[i] = 0.1f * nd(rng);
  int x = g.add_value("x", DType::F32);
  g.values[size_t(x)].shape = {1, c.cin, c.hw, c.hw};
  g.values[size_t(x)].has_shape = true;
  g.inputs = {x};
  int wv = g.add_constant("w", W), bv = g.add_constant("b", B);
  int y = g.add_value("y", DType::F32);
  int cn = g.add_node("Conv", {x, wv, bv}, {y}, "conv");
  g.nodes[size_t(cn)].set_ints("pads", c.pads);
  g.nodes[size_t(cn)].set_ints("strides", {c.stride, c.stride});
  g.nodes[size_t(cn)].set_ints("kernel_shape", {c.k, c.k});
  g.nodes[size_t(cn)].set_i("group", c.group);
  int out = y;
  if (c.clip) {
    int lo = g.add_constant("clip_lo", Tensor::scalar_f32(0.f)), hi = g.add_constant("clip_hi", Tensor::scalar_f32(6.f));
    out = g.add_value("r", DType::F32);
    g.add_node("Clip", {y, lo, hi}, {out}, "clip");
  }
  // A second conv reads the output so that it gets quantized.
  int w2 = g.add_constant("w2", random_t({4, c.cout, 1, 1}, 5, -0.5f, 0.5f));
  int z = g.add_value("z", DType::F32);
  g.add_node("Conv", {out, w2}, {z}, "conv2");
  g.outputs = {z};
  auto input = [&](uint32_t seed) {
    Shape sh{1, c.cin, c.hw, c.hw};
    return c.image_grid ? grid_t(sh, seed, seed < 40) : random_t(sh, seed, c.lo, c.hi);
  };
  std::vector<Tensor> calib{input(31), input(32)};
  Graph q = make_qdq(g, calib);
  if (c.image_grid)
    for (const Node& n : q.nodes)
      if (n.op == "QuantizeLinear" && n.inputs[0] == x) {
        ASSERT_EQ(q.const_of(n.inputs[1]).get_f64(0), double(2.f / 255.f));
        ASSERT_EQ(q.const_of(n.inputs[2]).get_i64(0), 127) << "the odd zero point this test is about";
      }
  Session s(q);
  ASSERT_EQ(s.graph().op_histogram()["QConv"], 2);
  int64_t total = 0, off1 = 0, more = 0, input_off = 0;
  for (uint32_t seed = 40; seed < 44; ++seed) {
    Tensor xin = input(seed);
    std::map<std::string, Tensor> rq;
    RefExecutor re(q);
    re.observer = [&](int v, const Tensor& t) {
      if (t.dtype == DType::U8 || t.dtype == DType::I8) rq[q.values[size_t(v)].name] = t.clone();
    };
    re.run({xin});
    s.observer = [&](int v, const Tensor& t) {
      auto it = rq.find(s.planned_graph().values[size_t(v)].name);
      if (it == rq.end()) return;
      ASSERT_EQ(t.numel(), it->second.numel());
      const Shape& sh = t.shape;
      for (int64_t i = 0; i < t.numel(); ++i) {
        int64_t d = std::llabs(t.get_i64(i) - it->second.get_i64(i));
        if (it->first == "x_q") input_off += d != 0;
        ++total;
        off1 += d == 1;
        more += d > 1;
        if (d > 1 && more <= 5 && sh.size() == 4)
          ADD_FAILURE() << it->first << " at c=" << (i / (sh[2] * sh[3])) % sh[1] << " h=" << (i / sh[3]) % sh[2]
                        << " w=" << i % sh[3] << ": fused " << t.get_i64(i) << " ref " << it->second.get_i64(i);
      }
    };
    s.run({xin});
    s.observer = nullptr;
  }
  int n8, nf, nref;
  std::string rep = kernel_report(s, &n8, &nf, &nref);
  std::printf("one conv cin %lld cout %lld k %lld s %lld g %lld pads %lld,%lld,%lld,%lld: %lld compared, %lld off by 1, %lld more\n%s",
              (long long)c.cin, (long long)c.cout, (long long)c.k, (long long)c.stride, (long long)c.group,
              (long long)c.pads[0], (long long)c.pads[1], (long long)c.pads[2], (long long)c.pads[3], (long long)total,
              (long long)off1, (long long)more, rep.c_str());
  EXPECT_GT(total, 0);
  EXPECT_EQ(more, 0) << "every quantized output within 1 LSB of the QDQ reference";
  EXPECT_EQ(input_off, 0) << "QuantizeLinear of the input is bit-exact (ONNX: round(x / s) + zp)";
  if (off1_out) *off1_out = off1;
}

}  // namespace

TEST(Int8Qdq, OneConvZp128AsymPadsStride2) { check_one_conv({}); }
TEST(Int8Qdq, OneConvZp128SymPads) {
  OneConv c;
  c.pads = {1, 1, 1, 1};
  c.stride = 1;
  check_one_conv(c);
}
TEST(Int8Qdq, OneConvZp128DepthwiseAsymPads) {
  OneConv c;
  c.cin = c.cout = c.group = 16;
  check_one_conv(c);
}
TEST(Int8Qdq, OneConvZp128NoPad) {
  OneConv c;
  c.pads = {0, 0, 0, 0};
  check_one_conv(c);
}
TEST(Int8Qdq, OneConvZp128Stem224) {
  OneConv c;
  c.hw = 224;
  check_one_conv(c);
}
TEST(Int8Qdq, OneConvImageGridOddZpAsymPadsStride2) {
  OneConv c;
  c.image_grid = true;
  check_one_conv(c);
}
TEST(Int8Qdq, OneConvImageGridOddZpStem224) {
  OneConv c;
  c.image_grid = true;
  c.hw = 224;
  check_one_conv(c);
}
