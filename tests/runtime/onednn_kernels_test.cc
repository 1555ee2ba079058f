// oneDNN fast kernels (src/runtime/kernels/onednn/) against the reference
// kernels (find_op(op)->ref) on seeded random data, with inputs arriving plain,
// NHWC or nChw16c. Tolerance: max|fast - ref| <= 1e-4 * max(1, max|ref|).
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>

#include "ir/graph.h"
#include "runtime/kernel.h"
#include "ops/ref/post_ops.h"
#include "ops/op_registry.h"

using namespace c8;
using md_t = dnnl::memory::desc;
using tag = dnnl::memory::format_tag;

namespace {

enum Layout { Plain = 0, NHWC = 1, Blocked16 = 2 };

md_t layout_md(const Shape& s, int layout) {
  if (layout == Plain || s.size() < 3 || s.size() > 5) return plain_md(DType::F32, s);
  dnnl::memory::dims d(s.begin(), s.end());
  size_t r = s.size();
  if (layout == NHWC) return md_t(d, dnnl::memory::data_type::f32, r == 3 ? tag::acb : r == 4 ? tag::acdb : tag::acdeb);
  return md_t(d, dnnl::memory::data_type::f32, r == 3 ? tag::aBc16b : r == 4 ? tag::aBcd16b : tag::aBcde16b);
}

Tensor rand_tensor(std::mt19937& rng, const Shape& s, float lo = -1.f, float hi = 1.f) {
  Tensor t(DType::F32, s);
  std::uniform_real_distribution<float> u(lo, hi);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = u(rng);
  return t;
}

struct Env {
  dnnl::engine eng{dnnl::engine::kind::cpu, 0};
  dnnl::stream strm{eng};
};
Env& env() {
  static Env e;
  return e;
}

struct Input {
  Tensor t;
  bool constant = false;
  int layout = Plain;
};

struct Result {
  std::string op;
  bool ref_missing = false;
  bool handled = false;
  std::string impl;
  double max_diff = 0, max_ref = 0;
  bool ok() const { return max_diff <= 1e-4 * std::max(1.0, max_ref); }
};

// Builds one node's fast kernel with a hand-made BuildCtx, runs it, reorders
// the output to plain and compares it with the reference kernel.
Result run_case(Node n, const std::vector<Input>& ins, std::unique_ptr<Kernel>* keep = nullptr) {
  Result res;
  res.op = n.op;
  if (n.name.empty()) n.name = "t_" + n.op;
  const OpDef* d = find_op(n.op, n.domain);
  if (!d || !d->ref || !d->infer) {
    res.ref_missing = true;
    return res;
  }
  std::vector<Tensor> in_t;
  std::vector<TypeShape> ts;
  for (auto& i : ins) in_t.push_back(i.t);
  for (size_t k = 0; k < ins.size(); ++k) {
    TypeShape s;
    s.dtype = in_t[k].dtype;
    s.shape = in_t[k].shape;
    s.value = ins[k].constant ? &in_t[k] : nullptr;
    ts.push_back(s);
  }
  // Oracle: the reference op without post-ops (inputs up to the first Sum
  // input), then the shared reference post-op code.
  Node rn = n;
  rn.post_ops.clear();
  size_t nref = ins.size();
  for (auto& p : n.post_ops)
    if (p.kind == PostOp::Sum) nref = std::min(nref, size_t(p.input_index));
  std::vector<Tensor> rin(in_t.begin(), in_t.begin() + long(nref));
  std::vector<TypeShape> rts(ts.begin(), ts.begin() + long(nref));
  rn.inputs.resize(nref);
  auto inferred = d->infer(rn, rts);
  n.outputs.clear();
  for (size_t i = 0; i < inferred.size(); ++i) n.outputs.push_back(i == 0 ? 0 : -1);
  rn.outputs = n.outputs;
  std::vector<Tensor> ref_out(inferred.size());
  d->ref(rn, rin, ref_out);
  apply_post_ops(n, in_t, ref_out[0]);

  BuildCtx ctx;
  ctx.engine = &env().eng;
  ctx.node = &n;
  for (size_t k = 0; k < ins.size(); ++k) {
    ValueInfo v;
    if (in_t[k].defined()) {
      v.dtype = in_t[k].dtype;
      v.shape = in_t[k].shape;
      v.md = ins[k].constant ? plain_md(v.dtype, v.shape) : layout_md(v.shape, ins[k].layout);
      if (v.dtype != DType::F32) v.md = plain_md(v.dtype, v.shape);
      v.constant = ins[k].constant ? &in_t[k] : nullptr;
    }
    ctx.in.push_back(v);
  }
  for (size_t i = 0; i < inferred.size(); ++i) {
    ValueInfo v;
    if (i == 0) {
      v.dtype = inferred[i].dtype;
      v.shape = inferred[i].shape;
      v.md = plain_md(v.dtype, v.shape);
    }
    ctx.out.push_back(v);
  }
  std::unique_ptr<Kernel> k;
  for (const FastKernel* f : fast_kernels_for(n.op)) {
    BuildCtx trial = ctx;
    k = f->make(trial);
    if (k) {
      ctx = std::move(trial);
      break;
    }
  }
  if (!k) return res;
  res.handled = true;
  res.impl = k->impl();

  auto& e = env();
  KernelIO io;
  io.stream = &e.strm;
  std::vector<dnnl::memory> keep_in;
  for (size_t i = 0; i < ins.size(); ++i) {
    if (!in_t[i].defined() || !dnnl_supports(in_t[i].dtype)) {
      io.in.emplace_back();
      io.in_t.push_back(in_t[i]);
      continue;
    }
    dnnl::memory plain(plain_md(in_t[i].dtype, in_t[i].shape), e.eng, in_t[i].raw());
    dnnl::memory m(ctx.in[i].md, e.eng);
    dnnl::reorder(plain, m).execute(e.strm, plain, m);
    io.in.push_back(m);
    io.in_t.push_back(in_t[i]);
  }
  dnnl::memory out(ctx.out[0].md, e.eng);
  std::memset(out.get_data_handle(), 0x7f, ctx.out[0].md.get_size());  // garbage: kernels must overwrite
  io.out.push_back(out);
  io.out_t.push_back(is_plain_md(ctx.out[0].md) ? Tensor::wrap(DType::F32, ctx.out[0].shape, out.get_data_handle())
                                                 : Tensor());
  for (size_t i = 1; i < ctx.out.size(); ++i) {
    io.out.emplace_back();
    io.out_t.emplace_back();
  }
  k->execute(io);
  Tensor got(DType::F32, ctx.out[0].shape);
  dnnl::memory gm(plain_md(DType::F32, got.shape), e.eng, got.raw());
  dnnl::reorder(out, gm).execute(e.strm, out, gm);
  e.strm.wait();
  EXPECT_EQ(shape_str(got.shape), shape_str(ref_out[0].shape)) << n.op;
  if (got.shape != ref_out[0].shape) {
    res.max_diff = 1e30;
    return res;
  }
  auto a = got.to_f32_vector(), b = ref_out[0].to_f32_vector();
  for (size_t i = 0; i < a.size(); ++i) {
    res.max_ref = std::max(res.max_ref, double(std::fabs(b[i])));
    double dd = std::fabs(double(a[i]) - double(b[i]));
    if (!(dd <= res.max_diff)) res.max_diff = std::isnan(dd) ? 1e30 : dd;
  }
  if (keep) *keep = std::move(k);
  return res;
}

Node mk(const std::string& op) {
  Node n;
  n.op = op;
  n.name = "t_" + op;
  return n;
}

#define CHECK_CASE(res, what)                                                                          \
  do {                                                                                                 \
    if ((res).ref_missing) GTEST_SKIP() << "reference kernel not registered";                          \
    ASSERT_TRUE((res).handled) << what;                                                                \
    EXPECT_TRUE((res).ok()) << what << " impl=" << (res).impl << " max_diff=" << (res).max_diff        \
                            << " max_ref=" << (res).max_ref;                                           \
    if ((res).op == "Conv" || (res).op == "Gemm" || (res).op == "MatMul")                              \
      EXPECT_EQ((res).impl.find("ref"), std::string::npos) << what << " impl=" << (res).impl;          \
    else if ((res).impl.find("ref") != std::string::npos)                                              \
      std::printf("[ note ] oneDNN reference implementation (%s) for: %s\n", (res).impl.c_str(),       \
                  (::testing::Message() << what).GetString().c_str());                                 \
  } while (0)

// ---------------------------------------------------------------- Conv

struct ConvCfg {
  int64_t N, C, H, W, M, kh, kw, group, sh, sw, dh, dw, pt, pl, pb, pr;
  bool bias;
  int layout;
  std::vector<PostOp> post;
  bool sum = false;
  int sum_layout = Plain;
};

std::string cfg_str(const ConvCfg& c) {
  char b[256];
  std::snprintf(b, sizeof b, "N%ld C%ld %ldx%ld M%ld k%ldx%ld g%ld s%ld,%ld d%ld,%ld pads %ld,%ld,%ld,%ld bias%d layout%d post%zu sum%d",
                long(c.N), long(c.C), long(c.H), long(c.W), long(c.M), long(c.kh), long(c.kw), long(c.group), long(c.sh),
                long(c.sw), long(c.dh), long(c.dw), long(c.pt), long(c.pl), long(c.pb), long(c.pr), int(c.bias), c.layout,
                c.post.size(), int(c.sum));
  return b;
}

Result run_conv(std::mt19937& rng, const ConvCfg& c) {
  Node n = mk("Conv");
  n.set_ints("kernel_shape", {c.kh, c.kw});
  n.set_ints("strides", {c.sh, c.sw});
  n.set_ints("dilations", {c.dh, c.dw});
  n.set_ints("pads", {c.pt, c.pl, c.pb, c.pr});
  n.set_i("group", c.group);
  std::vector<Input> ins;
  ins.push_back({rand_tensor(rng, {c.N, c.C, c.H, c.W}), false, c.layout});
  ins.push_back({rand_tensor(rng, {c.M, c.C / c.group, c.kh, c.kw}, -0.5f, 0.5f), true, Plain});
  if (c.bias || c.sum) ins.push_back({c.bias ? rand_tensor(rng, {c.M}) : Tensor(), true, Plain});
  for (auto& p : c.post) n.post_ops.push_back(p);
  if (c.sum) {
    int64_t oh = (c.H + c.pt + c.pb - ((c.kh - 1) * c.dh + 1)) / c.sh + 1;
    int64_t ow = (c.W + c.pl + c.pr - ((c.kw - 1) * c.dw + 1)) / c.sw + 1;
    ins.push_back({rand_tensor(rng, {c.N, c.M, oh, ow}), false, c.sum_layout});
    PostOp s;
    s.kind = PostOp::Sum;
    s.input_index = 3;
    n.post_ops.insert(n.post_ops.begin(), s);
  }
  n.inputs.resize(ins.size());
  return run_case(n, ins);
}

PostOp elt(const std::string& op, float a = 0.f, float b = 0.f) {
  PostOp p;
  p.kind = PostOp::Eltwise;
  p.op = op;
  p.alpha = a;
  p.beta = b;
  return p;
}

TEST(DnnlConv, FixedOddCases) {
  std::mt19937 rng(1);
  std::vector<ConvCfg> cfgs = {
      // stem-like: 3 channels, stride 2, asymmetric pads
      {1, 3, 7, 13, 17, 3, 3, 1, 2, 2, 1, 1, 0, 1, 1, 2, true, Plain, {}},
      // depthwise, dilation 2
      {1, 17, 7, 13, 17, 3, 3, 17, 1, 1, 2, 2, 2, 2, 2, 2, true, NHWC, {elt("Relu")}},
      // grouped, groups=4
      {2, 16, 9, 9, 8, 3, 3, 4, 1, 1, 1, 1, 1, 1, 1, 1, false, Blocked16, {elt("Clip", 0.f, 6.f)}},
      // 1x1 with sum post-op then relu, sum input in another layout
      {1, 8, 11, 7, 24, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, true, NHWC, {elt("Relu")}, true, Plain},
      // 1x1 with sum (same layout as dst), no bias
      {1, 32, 5, 6, 32, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, false, NHWC, {}, true, NHWC},
      // 5x5 stride 2, 1x? rectangular kernel via kw
      {1, 5, 13, 7, 6, 5, 3, 1, 2, 1, 1, 2, 2, 0, 1, 3, true, Plain, {elt("LeakyRelu", 0.1f)}},
  };
  for (auto& c : cfgs) {
    auto r = run_conv(rng, c);
    CHECK_CASE(r, cfg_str(c));
  }
}

TEST(DnnlConv, EltwisePostOps) {
  std::mt19937 rng(2);
  std::vector<PostOp> ops = {elt("Relu"),          elt("LeakyRelu", 0.2f), elt("Elu", 0.7f),   elt("Clip", -0.5f, 0.5f),
                             elt("Sigmoid"),       elt("Tanh"),            elt("HardSigmoid", 0.3f, 0.4f),
                             elt("HardSwish"),     elt("SiLU"),            elt("Softplus")};
  for (auto& p : ops) {
    ConvCfg c{1, 16, 10, 10, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true, NHWC, {p}};
    auto r = run_conv(rng, c);
    CHECK_CASE(r, "post-op " + p.op);
  }
  // Two post-ops chained.
  ConvCfg c{1, 16, 10, 10, 16, 3, 3, 1, 1, 1, 1, 1, 1, 1, 1, 1, true, NHWC, {elt("Relu"), elt("Clip", 0.f, 0.3f)}};
  auto r = run_conv(rng, c);
  CHECK_CASE(r, "relu+clip");
}

TEST(DnnlConv, RandomShapes) {
  std::mt19937 rng(1234);
  auto pick = [&](std::vector<int64_t> v) { return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(rng)]; };
  int tested = 0;
  for (int it = 0; it < 40; ++it) {
    ConvCfg c{};
    c.N = pick({1, 2});
    c.C = pick({3, 5, 8, 16, 17, 32});
    c.H = pick({5, 7, 9, 14});
    c.W = pick({6, 7, 13});
    int gk = int(pick({0, 1, 2}));
    c.group = gk == 0 ? 1 : gk == 1 ? c.C : (c.C % 4 == 0 ? 4 : 1);
    c.M = c.group == c.C ? c.C * pick({1, 2}) : pick({4, 8, 17, 24}) * (c.group > 1 ? c.group : 1) / (c.group > 1 ? c.group : 1);
    if (c.M % c.group) c.M = c.group * 2;
    c.kh = pick({1, 3, 5});
    c.kw = pick({1, 3});
    c.sh = pick({1, 2});
    c.sw = pick({1, 2});
    c.dh = pick({1, 2});
    c.dw = pick({1, 2});
    c.pt = std::uniform_int_distribution<int64_t>(0, c.kh - 1)(rng);
    c.pb = std::uniform_int_distribution<int64_t>(0, c.kh - 1)(rng);
    c.pl = std::uniform_int_distribution<int64_t>(0, c.kw - 1)(rng);
    c.pr = std::uniform_int_distribution<int64_t>(0, c.kw - 1)(rng);
    c.bias = pick({0, 1}) != 0;
    c.layout = int(pick({Plain, NHWC, Blocked16}));
    if (pick({0, 1})) c.post.push_back(elt("Relu"));
    c.sum = pick({0, 0, 1}) != 0;
    c.sum_layout = int(pick({Plain, NHWC}));
    if ((c.H + c.pt + c.pb - ((c.kh - 1) * c.dh + 1)) < 0 || (c.W + c.pl + c.pr - ((c.kw - 1) * c.dw + 1)) < 0) continue;
    auto r = run_conv(rng, c);
    if (r.ref_missing) GTEST_SKIP() << "reference kernel not registered";
    ASSERT_TRUE(r.handled) << cfg_str(c);
    EXPECT_TRUE(r.ok()) << cfg_str(c) << " impl=" << r.impl << " diff=" << r.max_diff;
    ++tested;
  }
  EXPECT_GT(tested, 25);
}

TEST(DnnlConv, AutoPadAnd1D) {
  std::mt19937 rng(3);
  {
    Node n = mk("Conv");
    n.set_s("auto_pad", "SAME_UPPER");
    n.set_ints("strides", {2, 2});
    n.inputs.resize(2);
    auto r = run_case(n, {{rand_tensor(rng, {1, 6, 9, 8}), false, NHWC}, {rand_tensor(rng, {10, 6, 3, 3}), true, Plain}});
    CHECK_CASE(r, "SAME_UPPER");
  }
  {
    Node n = mk("Conv");
    n.set_s("auto_pad", "SAME_LOWER");
    n.inputs.resize(2);
    auto r = run_case(n, {{rand_tensor(rng, {1, 6, 9, 8}), false, Plain}, {rand_tensor(rng, {10, 6, 2, 2}), true, Plain}});
    CHECK_CASE(r, "SAME_LOWER");
  }
  {
    Node n = mk("Conv");
    n.set_ints("pads", {1, 2});
    n.inputs.resize(3);
    auto r = run_case(n, {{rand_tensor(rng, {2, 5, 19}), false, Plain},
                          {rand_tensor(rng, {7, 5, 3}), true, Plain},
                          {rand_tensor(rng, {7}), true, Plain}});
    CHECK_CASE(r, "conv1d");
  }
  {  // run-time (non-constant) weights and bias
    Node n = mk("Conv");
    n.set_ints("pads", {1, 1, 1, 1});
    n.set_i("group", 2);
    n.inputs.resize(3);
    auto r = run_case(n, {{rand_tensor(rng, {1, 6, 7, 7}), false, NHWC},
                          {rand_tensor(rng, {4, 3, 3, 3}), false, Plain},
                          {rand_tensor(rng, {4}), false, Plain}});
    CHECK_CASE(r, "runtime weights");
  }
}

// ---------------------------------------------------------------- Gemm / MatMul

TEST(DnnlGemm, GemmVariants) {
  std::mt19937 rng(10);
  struct G { int64_t M, K, N; int ta, tb; float alpha, beta; int cshape; bool cconst; std::vector<PostOp> post; };
  std::vector<G> gs = {
      {1, 2048, 1000, 0, 1, 1.f, 1.f, 1, true, {}},
      {3, 17, 5, 0, 0, 0.5f, 2.f, 2, true, {elt("Relu")}},
      {4, 9, 7, 1, 1, 1.f, 1.f, 3, true, {}},
      {5, 8, 6, 0, 1, 1.f, 1.f, 3, false, {elt("Sigmoid")}},
      {2, 8, 6, 0, 0, 1.f, 0.f, 0, true, {}},
      {6, 3, 4, 0, 1, 1.f, 1.f, 4, true, {}},
  };
  for (auto& g : gs) {
    Node n = mk("Gemm");
    n.set_i("transA", g.ta);
    n.set_i("transB", g.tb);
    n.set_f("alpha", g.alpha);
    n.set_f("beta", g.beta);
    n.post_ops = g.post;
    std::vector<Input> ins;
    ins.push_back({rand_tensor(rng, g.ta ? Shape{g.K, g.M} : Shape{g.M, g.K}), false, Plain});
    ins.push_back({rand_tensor(rng, g.tb ? Shape{g.N, g.K} : Shape{g.K, g.N}), true, Plain});
    Shape cs = g.cshape == 1 ? Shape{g.N} : g.cshape == 2 ? Shape{1, g.N} : g.cshape == 3 ? Shape{g.M, g.N} : Shape{g.M, 1};
    if (g.cshape) ins.push_back({rand_tensor(rng, cs), g.cconst, Plain});
    n.inputs.resize(ins.size());
    auto r = run_case(n, ins);
    CHECK_CASE(r, "gemm M" << g.M << " K" << g.K << " N" << g.N << " tA" << g.ta << " tB" << g.tb);
  }
}

TEST(DnnlGemm, MatMulVariants) {
  std::mt19937 rng(11);
  struct C { Shape a, b; bool bconst; int alayout; };
  std::vector<C> cs = {
      {{5, 7}, {7, 3}, true, Plain},
      {{2, 5, 7}, {2, 7, 3}, false, Plain},
      {{2, 3, 5, 7}, {7, 9}, true, Plain},
      {{1, 4, 6, 8}, {1, 4, 8, 6}, false, NHWC},
      {{3, 7}, {7}, true, Plain},
      {{7}, {2, 7, 4}, false, Plain},
      {{2, 1, 5, 7}, {3, 7, 2}, false, Plain},
  };
  for (auto& c : cs) {
    Node n = mk("MatMul");
    n.inputs.resize(2);
    auto r = run_case(n, {{rand_tensor(rng, c.a), false, c.alayout}, {rand_tensor(rng, c.b), c.bconst, Plain}});
    CHECK_CASE(r, "matmul " << shape_str(c.a) << " x " << shape_str(c.b));
  }
}

// ---------------------------------------------------------------- Pool

TEST(DnnlPool, Variants) {
  std::mt19937 rng(20);
  struct P { std::string op; Shape x; std::vector<int64_t> k, s, pads, dil; int ceil, incl, layout; };
  std::vector<P> ps = {
      {"MaxPool", {1, 17, 7, 13}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {}, 0, 0, NHWC},
      {"MaxPool", {1, 17, 7, 13}, {3, 3}, {2, 2}, {0, 1, 1, 0}, {}, 1, 0, Plain},
      {"MaxPool", {2, 16, 9, 11}, {2, 3}, {1, 2}, {0, 0, 0, 0}, {2, 2}, 0, 0, Blocked16},
      {"AveragePool", {1, 3, 7, 13}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {}, 0, 0, Plain},
      {"AveragePool", {1, 17, 7, 13}, {3, 3}, {2, 2}, {1, 0, 1, 1}, {}, 0, 1, NHWC},
      {"AveragePool", {1, 17, 8, 13}, {3, 2}, {2, 2}, {0, 0, 0, 0}, {}, 1, 0, NHWC},
      {"GlobalAveragePool", {2, 17, 7, 13}, {}, {}, {}, {}, 0, 0, NHWC},
      {"GlobalMaxPool", {1, 32, 5, 3}, {}, {}, {}, {}, 0, 0, Blocked16},
      {"GlobalAveragePool", {1, 17, 7, 13}, {}, {}, {}, {}, 0, 0, Plain},
  };
  for (auto& p : ps) {
    Node n = mk(p.op);
    if (!p.k.empty()) {
      n.set_ints("kernel_shape", p.k);
      n.set_ints("strides", p.s);
      n.set_ints("pads", p.pads);
      if (!p.dil.empty()) n.set_ints("dilations", p.dil);
      n.set_i("ceil_mode", p.ceil);
      if (p.op == "AveragePool") n.set_i("count_include_pad", p.incl);
    }
    n.inputs.resize(1);
    auto r = run_case(n, {{rand_tensor(rng, p.x), false, p.layout}});
    CHECK_CASE(r, p.op << " " << shape_str(p.x) << " ceil" << p.ceil << " incl" << p.incl << " layout" << p.layout);
  }
}

// ---------------------------------------------------------------- Eltwise

TEST(DnnlEltwise, AllOps) {
  std::mt19937 rng(30);
  struct E { std::string op; float lo, hi; std::vector<std::pair<std::string, float>> attrs; };
  std::vector<E> es = {
      {"Relu", -2, 2, {}},       {"LeakyRelu", -2, 2, {{"alpha", 0.3f}}}, {"Sigmoid", -6, 6, {}},
      {"Tanh", -3, 3, {}},       {"Elu", -3, 3, {{"alpha", 0.5f}}},       {"HardSigmoid", -5, 5, {}},
      {"HardSwish", -5, 5, {}},  {"Exp", -3, 3, {}},                      {"Log", 0.05f, 5, {}},
      {"Sqrt", 0, 5, {}},        {"Abs", -2, 2, {}},                      {"Softplus", -6, 6, {}},
      {"Neg", -2, 2, {}},        {"Round", -5, 5, {}},                    {"HardSigmoid", -5, 5, {{"alpha", 0.1f}, {"beta", 0.3f}}},
  };
  int layout = Plain;
  for (auto& e : es) {
    Node n = mk(e.op);
    for (auto& [k, v] : e.attrs) n.set_f(k, v);
    n.inputs.resize(1);
    layout = (layout + 1) % 3;
    auto r = run_case(n, {{rand_tensor(rng, {1, 17, 7, 13}, e.lo, e.hi), false, layout}});
    CHECK_CASE(r, e.op << " layout" << layout);
  }
  // Clip with constant min/max inputs (opset 11+), and a missing max.
  {
    Node n = mk("Clip");
    n.inputs.resize(3);
    auto r = run_case(n, {{rand_tensor(rng, {2, 3, 5, 5}, -2, 2), false, NHWC},
                          {Tensor::scalar_f32(-0.5f), true, Plain},
                          {Tensor::scalar_f32(0.7f), true, Plain}});
    CHECK_CASE(r, "Clip(min,max)");
    Node m = mk("Clip");
    m.inputs.resize(2);
    r = run_case(m, {{rand_tensor(rng, {2, 3, 5, 5}, -2, 2), false, Plain}, {Tensor::scalar_f32(0.1f), true, Plain}});
    CHECK_CASE(r, "Clip(min)");
  }
  // Rounding ties: ONNX Round is half-to-even.
  {
    Node n = mk("Round");
    n.inputs.resize(1);
    auto r = run_case(n, {{Tensor::from_f32({8}, {-2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f, 3.49f, -3.51f}), false, Plain}});
    CHECK_CASE(r, "Round ties");
  }
}

// ---------------------------------------------------------------- Binary

TEST(DnnlBinary, BroadcastAndLayouts) {
  std::mt19937 rng(40);
  struct B { std::string op; Shape a, b; int la, lb; bool expect_handled; };
  std::vector<B> bs = {
      {"Add", {1, 17, 7, 13}, {1, 17, 7, 13}, NHWC, Plain, true},
      {"Add", {2, 16, 5, 6}, {2, 16, 5, 6}, Blocked16, Blocked16, true},
      {"Mul", {1, 17, 7, 13}, {1, 17, 1, 1}, NHWC, Plain, true},
      {"Sub", {1, 17, 7, 13}, {17, 1, 1}, Plain, Plain, true},
      {"Div", {1, 17, 7, 13}, {1}, NHWC, Plain, true},
      {"Max", {3, 4}, {4}, Plain, Plain, true},
      {"Min", {2, 3, 4}, {2, 1, 4}, Plain, Plain, true},
      {"Sub", {1, 1, 1, 13}, {1, 17, 7, 13}, Plain, NHWC, true},  // swapped + negated
      {"Mul", {17, 1, 1}, {1, 17, 7, 13}, Plain, NHWC, true},     // swapped
      {"Div", {1, 17, 1, 1}, {1, 17, 7, 13}, Plain, Plain, false},
      {"Add", {1, 17, 1, 13}, {1, 1, 7, 1}, Plain, Plain, false},  // both broadcast
  };
  for (auto& b : bs) {
    Node n = mk(b.op);
    n.inputs.resize(2);
    float lo = b.op == "Div" ? 0.5f : -1.f;
    auto r = run_case(n, {{rand_tensor(rng, b.a), false, b.la}, {rand_tensor(rng, b.b, lo, 2.f), false, b.lb}});
    if (r.ref_missing) GTEST_SKIP() << "reference kernel not registered";
    std::string what = b.op + " " + shape_str(b.a) + " " + shape_str(b.b);
    EXPECT_EQ(r.handled, b.expect_handled) << what;
    if (r.handled) { EXPECT_TRUE(r.ok()) << what << " impl=" << r.impl << " diff=" << r.max_diff; }
  }
  // Fused post-ops on Add: Relu.
  Node n = mk("Add");
  n.inputs.resize(2);
  n.post_ops.push_back(elt("Relu"));
  auto r = run_case(n, {{rand_tensor(rng, {1, 17, 7, 13}), false, NHWC}, {rand_tensor(rng, {1, 17, 7, 13}), false, NHWC}});
  CHECK_CASE(r, "Add+Relu");
}

// ---------------------------------------------------------------- Concat

TEST(DnnlConcat, Axes) {
  std::mt19937 rng(50);
  struct C { int axis; std::vector<Shape> xs; std::vector<int> ls; };
  std::vector<C> cs = {
      {1, {{1, 17, 7, 13}, {1, 3, 7, 13}}, {NHWC, NHWC}},
      {1, {{1, 16, 7, 13}, {1, 32, 7, 13}, {1, 5, 7, 13}}, {Blocked16, NHWC, Plain}},
      {2, {{2, 3, 4, 5}, {2, 3, 1, 5}}, {Plain, Plain}},
      {-1, {{2, 3, 4}, {2, 3, 7}}, {Plain, NHWC}},
      {0, {{1, 8, 3, 3}, {2, 8, 3, 3}}, {NHWC, NHWC}},
  };
  for (auto& c : cs) {
    Node n = mk("Concat");
    n.set_i("axis", c.axis);
    std::vector<Input> ins;
    for (size_t i = 0; i < c.xs.size(); ++i) ins.push_back({rand_tensor(rng, c.xs[i]), false, c.ls[i]});
    n.inputs.resize(ins.size());
    auto r = run_case(n, ins);
    CHECK_CASE(r, "concat axis " << c.axis);
  }
}

// Channels-last inputs concatenated along C take the per-pixel copy (the
// layout INT8 layers hand over); other layouts must not.
TEST(DnnlConcat, ChannelsLastPixelCopy) {
  std::mt19937 rng(51);
  struct C { std::vector<Shape> xs; std::vector<int> ls; bool pixel_copy; };
  std::vector<C> cs = {
      {{{2, 17, 7, 13}, {2, 3, 7, 13}, {2, 64, 7, 13}}, {NHWC, NHWC, NHWC}, true},
      {{{1, 5, 1, 1}, {1, 7, 1, 1}}, {NHWC, NHWC}, false},      // also NCHW-dense: one memcpy per image
      {{{1, 16, 6, 5}, {1, 9, 6, 5}}, {NHWC, Blocked16}, true},  // the blocked one is reordered first
      {{{1, 4, 3, 6, 5}, {1, 2, 3, 6, 5}}, {NHWC, NHWC}, true},  // 3-D spatial
      {{{1, 16, 6, 5}, {1, 16, 6, 5}}, {Plain, Plain}, false},
  };
  for (auto& c : cs) {
    Node n = mk("Concat");
    n.set_i("axis", 1);
    std::vector<Input> ins;
    for (size_t i = 0; i < c.xs.size(); ++i) ins.push_back({rand_tensor(rng, c.xs[i]), false, c.ls[i]});
    n.inputs.resize(ins.size());
    auto r = run_case(n, ins);
    CHECK_CASE(r, "concat " << shape_str(c.xs[0]));
    EXPECT_EQ(r.impl.find("c8:pixel_concat") != std::string::npos, c.pixel_copy) << r.impl;
  }
}

// ---------------------------------------------------------------- Softmax

TEST(DnnlSoftmax, AxesAndOpsets) {
  std::mt19937 rng(60);
  struct S { std::string op; Shape x; int64_t axis; int opset; int layout; };
  std::vector<S> ss = {
      {"Softmax", {2, 1000}, -1, 13, Plain},
      {"Softmax", {1, 17, 7, 13}, 1, 13, NHWC},
      {"LogSoftmax", {1, 17, 7, 13}, 3, 13, Blocked16},
      {"Softmax", {2, 3, 4, 5}, 1, 11, Plain},   // coerced 2-D
      {"LogSoftmax", {2, 3, 4, 5}, 2, 11, NHWC}, // coerced 2-D from NHWC
      {"Softmax", {2, 3, 4, 5}, 3, 11, NHWC},
  };
  for (auto& s : ss) {
    Node n = mk(s.op);
    n.set_i("axis", s.axis);
    n.set_i("_opset", s.opset);
    n.inputs.resize(1);
    auto r = run_case(n, {{rand_tensor(rng, s.x, -4, 4), false, s.layout}});
    CHECK_CASE(r, s.op << " " << shape_str(s.x) << " axis " << s.axis << " opset " << s.opset);
  }
}

// ---------------------------------------------------------------- LRN

TEST(DnnlLrn, AlphaScaling) {
  std::mt19937 rng(70);
  for (int64_t size : {3, 5}) {
    for (int layout : {Plain, NHWC, Blocked16}) {
      Node n = mk("LRN");
      n.set_i("size", size);
      n.set_f("alpha", 0.5f);  // large, so alpha vs alpha/size is visible
      n.set_f("beta", 0.75f);
      n.set_f("bias", 2.f);
      n.inputs.resize(1);
      auto r = run_case(n, {{rand_tensor(rng, {1, 17, 7, 13}, -2, 2), false, layout}});
      CHECK_CASE(r, "LRN size " << size << " layout " << layout);
    }
  }
  Node n = mk("LRN");
  n.set_i("size", 4);
  n.inputs.resize(1);
  auto r = run_case(n, {{rand_tensor(rng, {1, 8, 3, 3}), false, Plain}});
  if (!r.ref_missing) { EXPECT_FALSE(r.handled) << "even LRN size must go to the reference kernel"; }
}

// ---------------------------------------------------------------- Resize

TEST(DnnlResize, ModesMatchedOrRejected) {
  std::mt19937 rng(80);
  struct R { std::string mode, ctm, nm; Shape x; std::vector<float> scales; Shape sizes; int layout; int expect; };
  // expect: 1 must be handled, 0 must be rejected, -1 either (checked when handled)
  std::vector<R> rs = {
      {"linear", "half_pixel", "", {1, 17, 7, 13}, {1, 1, 2, 2}, {}, NHWC, 1},
      {"linear", "pytorch_half_pixel", "", {1, 3, 7, 13}, {}, {1, 3, 10, 20}, Plain, 1},
      {"linear", "half_pixel", "", {1, 16, 8, 8}, {}, {1, 16, 4, 3}, Blocked16, 1},
      {"nearest", "asymmetric", "floor", {1, 17, 7, 13}, {1, 1, 2, 2}, {}, NHWC, 1},
      {"nearest", "half_pixel", "round_prefer_floor", {1, 17, 7, 13}, {1, 1, 3, 3}, {}, Plain, 1},
      {"nearest", "asymmetric", "floor", {1, 4, 7, 13}, {}, {1, 4, 10, 20}, Plain, -1},
      {"nearest", "asymmetric", "round_prefer_floor", {1, 4, 7, 13}, {1, 1, 2, 2}, {}, Plain, -1},
      {"linear", "align_corners", "", {1, 4, 7, 13}, {1, 1, 2, 2}, {}, Plain, -1},
      {"linear", "half_pixel", "", {1, 4, 7, 13}, {1, 1, 1.5f, 1.5f}, {}, Plain, -1},
      {"linear", "asymmetric", "", {1, 4, 7, 13}, {1, 1, 2, 2}, {}, Plain, 0},
  };
  for (auto& x : rs) {
    Node n = mk("Resize");
    n.set_s("mode", x.mode);
    n.set_s("coordinate_transformation_mode", x.ctm);
    if (!x.nm.empty()) n.set_s("nearest_mode", x.nm);
    std::vector<Input> ins;
    ins.push_back({rand_tensor(rng, x.x), false, x.layout});
    ins.push_back({Tensor(), false, Plain});
    if (!x.scales.empty()) ins.push_back({Tensor::from_f32({int64_t(x.scales.size())}, x.scales), true, Plain});
    else {
      ins.push_back({Tensor(), false, Plain});
      ins.push_back({Tensor::from_i64({int64_t(x.sizes.size())}, x.sizes), true, Plain});
    }
    n.inputs.resize(ins.size());
    auto r = run_case(n, ins);
    if (r.ref_missing) GTEST_SKIP() << "reference kernel not registered";
    std::string what = x.mode + "/" + x.ctm + "/" + x.nm + " " + shape_str(x.x);
    if (x.expect == 1) { EXPECT_TRUE(r.handled) << what; }
    if (x.expect == 0) { EXPECT_FALSE(r.handled) << what; }
    std::printf("[ resize ] %-60s %s\n", what.c_str(), r.handled ? r.impl.c_str() : "-> reference");
    if (r.handled) { EXPECT_TRUE(r.ok()) << what << " impl=" << r.impl << " diff=" << r.max_diff; }
  }
}

// ---------------------------------------------------------------- BatchNormalization

TEST(DnnlBatchNorm, Inference) {
  std::mt19937 rng(90);
  for (int layout : {Plain, NHWC, Blocked16}) {
    for (int post : {0, 1, 2}) {
      Node n = mk("BatchNormalization");
      n.set_f("epsilon", 1e-3f);
      if (post == 1) n.post_ops.push_back(elt("Relu"));
      if (post == 2) n.post_ops.push_back(elt("Clip", 0.f, 0.5f));
      n.inputs.resize(5);
      int64_t C = 17;
      auto r = run_case(n, {{rand_tensor(rng, {2, C, 7, 13}, -2, 2), false, layout},
                            {rand_tensor(rng, {C}), true, Plain},
                            {rand_tensor(rng, {C}), true, Plain},
                            {rand_tensor(rng, {C}), post != 2, Plain},
                            {rand_tensor(rng, {C}, 0.1f, 2.f), true, Plain}});
      CHECK_CASE(r, "BN layout " << layout << " post " << post);
    }
  }
}

}  // namespace
