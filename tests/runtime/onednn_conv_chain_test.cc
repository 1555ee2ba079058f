// Conv -> Relu-fused conv -> conv chain built by hand, the way the planner
// does it: each conv receives the md its producer chose. Checks no `ref`
// implementation is chosen, no reorder runs between the convs (ONEDNN
// verbose), and the result equals the reference kernels. Also prints the
// speed of a resnet50-like 3x3 64->64 conv at 56x56 (not an assertion).
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>
#include <set>

#include "ir/graph.h"
#include "runtime/kernel.h"
#include "ops/op_registry.h"

using namespace c8;

namespace {

Tensor rand_tensor(std::mt19937& rng, const Shape& s, float lo = -1.f, float hi = 1.f) {
  Tensor t(DType::F32, s);
  std::uniform_real_distribution<float> u(lo, hi);
  for (int64_t i = 0; i < t.numel(); ++i) t.data<float>()[i] = u(rng);
  return t;
}

Node conv_node(const std::string& name, int64_t k, int64_t pad, bool relu) {
  Node n;
  n.op = "Conv";
  n.name = name;
  n.set_ints("kernel_shape", {k, k});
  n.set_ints("pads", {pad, pad, pad, pad});
  n.inputs = {0, 1, 2};
  n.outputs = {3};
  if (relu) {
    PostOp p;
    p.op = "Relu";
    n.post_ops.push_back(p);
  }
  return n;
}

// The planner's BuildCtx for conv node n: input x, constant weights and bias, plain FP32 output.
BuildCtx conv_ctx(const dnnl::engine& eng, const Node& n, const ValueInfo& x, const Tensor& w, const Tensor& b,
                  const Shape& out_shape) {
  BuildCtx ctx;
  ctx.engine = &eng;
  ctx.node = &n;
  ValueInfo wi, bi, yi;
  wi.dtype = bi.dtype = yi.dtype = DType::F32;
  wi.shape = w.shape;
  wi.md = plain_md(DType::F32, w.shape);
  wi.constant = &w;
  bi.shape = b.shape;
  bi.md = plain_md(DType::F32, b.shape);
  bi.constant = &b;
  yi.shape = out_shape;
  yi.md = plain_md(DType::F32, out_shape);
  ctx.in = {x, wi, bi};
  ctx.out = {yi};
  return ctx;
}

std::unique_ptr<Kernel> build(const dnnl::engine& eng, const Node& n, const ValueInfo& x, const Tensor& w, const Tensor& b,
                              const Shape& out_shape, dnnl::memory::desc* out_md) {
  const BuildCtx ctx = conv_ctx(eng, n, x, w, b, out_shape);
  std::unique_ptr<Kernel> k;
  for (const FastKernel* f : fast_kernels_for("Conv")) {
    BuildCtx trial = ctx;
    if ((k = f->make(trial))) {
      *out_md = trial.out[0].md;
      break;
    }
  }
  return k;
}

int count(const std::string& s, const std::string& what) {
  int c = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++c;
  return c;
}

TEST(DnnlConvChain, NoRefNoReorderBetweenConvs) {
  std::mt19937 rng(7);
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream strm(eng);
  Shape xs{1, 3, 32, 32}, s1{1, 32, 32, 32}, s2{1, 32, 32, 32}, s3{1, 64, 32, 32};
  Tensor x = rand_tensor(rng, xs);
  Tensor w1 = rand_tensor(rng, {32, 3, 3, 3}, -0.3f, 0.3f), b1 = rand_tensor(rng, {32});
  Tensor w2 = rand_tensor(rng, {32, 32, 3, 3}, -0.1f, 0.1f), b2 = rand_tensor(rng, {32});
  Tensor w3 = rand_tensor(rng, {64, 32, 1, 1}, -0.2f, 0.2f), b3 = rand_tensor(rng, {64});
  Node n1 = conv_node("c1", 3, 1, false), n2 = conv_node("c2", 3, 1, true), n3 = conv_node("c3", 1, 0, false);

  ValueInfo xi;
  xi.dtype = DType::F32;
  xi.shape = xs;
  xi.md = plain_md(DType::F32, xs);
  dnnl::memory::desc m1, m2, m3;
  auto k1 = build(eng, n1, xi, w1, b1, s1, &m1);
  ASSERT_TRUE(k1);
  ValueInfo v1 = xi;
  v1.shape = s1;
  v1.md = m1;
  auto k2 = build(eng, n2, v1, w2, b2, s2, &m2);
  ASSERT_TRUE(k2);
  ValueInfo v2 = v1;
  v2.shape = s2;
  v2.md = m2;
  auto k3 = build(eng, n3, v2, w3, b3, s3, &m3);
  ASSERT_TRUE(k3);
  for (auto* k : {k1.get(), k2.get(), k3.get()}) {
    std::printf("[ chain ] %s\n", k->impl().c_str());
    EXPECT_EQ(k->impl().find("ref"), std::string::npos) << k->impl();
  }
  // The next conv takes each conv's output as it is.
  EXPECT_TRUE(m1 == m2) << "conv2 output layout differs from conv1's";
  EXPECT_FALSE(is_plain_md(m1)) << "expected a non-plain (NHWC/blocked) activation layout";

  dnnl::memory xm(plain_md(DType::F32, xs), eng, x.raw());
  dnnl::memory y1(m1, eng), y2(m2, eng), y3(m3, eng);
  auto io_of = [&](dnnl::memory in, dnnl::memory out) {
    KernelIO io;
    io.stream = &strm;
    io.in = {in, dnnl::memory(), dnnl::memory()};
    io.in_t = {Tensor(), Tensor(), Tensor()};
    io.out = {out};
    io.out_t = {Tensor()};
    return io;
  };
  KernelIO io1 = io_of(xm, y1), io2 = io_of(y1, y2), io3 = io_of(y2, y3);
  k1->execute(io1);
  strm.wait();
  dnnl_set_verbose(2);
  testing::internal::CaptureStdout();
  k2->execute(io2);
  k3->execute(io3);
  strm.wait();
  std::string log = testing::internal::GetCapturedStdout();
  dnnl_set_verbose(0);
  int execs = count(log, "exec,cpu,");
  std::printf("[ chain ] verbose lines for conv2+conv3: %d exec, %d convolution, %d reorder\n", execs,
              count(log, "exec,cpu,convolution"), count(log, "exec,cpu,reorder"));
  if (execs > 0) {  // verbose available in this build
    EXPECT_EQ(count(log, "exec,cpu,reorder"), 0) << log;
    // conv2 (3x3, 32 channels in nChw8c) may run on calibr8's own Winograd
    // kernel, which oneDNN's verbose log does not list.
    int dnnl_convs = 0;
    for (auto* k : {k2.get(), k3.get()}) dnnl_convs += k->impl().rfind("dnnl:", 0) == 0;
    EXPECT_EQ(count(log, "exec,cpu,convolution"), dnnl_convs) << log;
    EXPECT_EQ(count(log, ",ref"), 0) << log;
  }

  // Compare with the reference kernels.
  const OpDef* d = find_op("Conv");
  if (!d || !d->ref) GTEST_SKIP() << "reference Conv not registered";
  std::vector<Tensor> r1(1), r2(1), r3(1);
  d->ref(n1, {x, w1, b1}, r1);
  d->ref(n2, {r1[0], w2, b2}, r2);
  d->ref(n3, {r2[0], w3, b3}, r3);
  Tensor got(DType::F32, s3);
  dnnl::memory gm(plain_md(DType::F32, s3), eng, got.raw());
  dnnl::reorder(y3, gm).execute(strm, y3, gm);
  strm.wait();
  double md = 0, mr = 0;
  for (int64_t i = 0; i < got.numel(); ++i) {
    md = std::max(md, double(std::fabs(got.data<float>()[i] - r3[0].data<float>()[i])));
    mr = std::max(mr, double(std::fabs(r3[0].data<float>()[i])));
  }
  EXPECT_LE(md, 1e-4 * std::max(1.0, mr));
}

TEST(DnnlConvChain, Resnet3x3TimingPrint) {
  std::mt19937 rng(8);
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream strm(eng);
  Shape xs{1, 64, 56, 56};
  Tensor w = rand_tensor(rng, {64, 64, 3, 3}, -0.05f, 0.05f), b = rand_tensor(rng, {64});
  Node n = conv_node("r3x3", 3, 1, true);
  ValueInfo xi;
  xi.dtype = DType::F32;
  xi.shape = xs;
  xi.md = plain_md(DType::F32, xs);
  dnnl::memory::desc om;
  auto k0 = build(eng, n, xi, w, b, xs, &om);
  ASSERT_TRUE(k0);
  xi.md = om;  // as it arrives from a previous conv
  auto k = build(eng, n, xi, w, b, xs, &om);
  ASSERT_TRUE(k);
  dnnl::memory x(xi.md, eng), y(om, eng);
  std::uniform_real_distribution<float> u(-1, 1);
  for (size_t i = 0; i < xi.md.get_size() / 4; ++i) static_cast<float*>(x.get_data_handle())[i] = u(rng);
  KernelIO io;
  io.stream = &strm;
  io.in = {x, dnnl::memory(), dnnl::memory()};
  io.in_t = {Tensor(), Tensor(), Tensor()};
  io.out = {y};
  io.out_t = {Tensor()};
  for (int i = 0; i < 5; ++i) k->execute(io);
  strm.wait();
  // Best of 5 batches: the machine is shared, so the mean is noisy.
  double ms = 1e30;
  for (int rep = 0; rep < 5; ++rep) {
    int iters = 8;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < iters; ++i) k->execute(io);
    strm.wait();
    ms = std::min(ms, std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() / iters);
  }
  double gflop = 2.0 * 64 * 64 * 9 * 56 * 56 * 1e-9;
  std::printf("[ timing ] conv 3x3 64->64 56x56 +relu: %.3f ms, %.1f GFLOPS (%s; 1-core FP32 peak ~117)\n", ms,
              gflop / (ms * 1e-3), k->impl().c_str());
}

// The tuner flushes what a kernel prepared at load (Kernel::prepared_data)
// before every timed call, so that kernels with large packed weights are not
// timed with them warm in L2 (runtime/tuning.cc). Every Conv kernel holds a
// packed copy of the weights (oneDNN's reordered one, the Winograd kernels'
// transformed one): each must report at least the weights' bytes, inside
// memory it owns.
TEST(DnnlConvChain, EveryConvKernelReportsItsPreparedWeights) {
  std::mt19937 rng(3);
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  const Shape xs{1, 64, 28, 28}, ys{1, 64, 28, 28};
  const Tensor w = rand_tensor(rng, {64, 64, 3, 3}, -0.1f, 0.1f), b = rand_tensor(rng, {64});
  const Node n = conv_node("c", 3, 1, true);
  int built = 0;
  std::set<std::string> names;
  for (const dnnl::memory::format_tag tag : {dnnl::memory::format_tag::nchw, dnnl::memory::format_tag::nhwc,
                                             dnnl::memory::format_tag::nChw16c, dnnl::memory::format_tag::nChw8c}) {
    ValueInfo xi;
    xi.dtype = DType::F32;
    xi.shape = xs;
    xi.md = dnnl::memory::desc({1, 64, 28, 28}, dnnl::memory::data_type::f32, tag);
    BuildCtx ctx = conv_ctx(eng, n, xi, w, b, ys);
    ctx.tuning = true;  // every candidate the planner would time
    for (const FastKernel* f : fast_kernels_for("Conv")) {
      BuildCtx trial = ctx;
      std::unique_ptr<Kernel> k = f->make(trial);
      if (!k) continue;
      ++built;
      names.insert(f->name);
      size_t bytes = 0;
      for (const auto& [p, len] : k->prepared_data()) {
        EXPECT_NE(p, nullptr) << f->name;
        EXPECT_NE(p, static_cast<const void*>(w.raw())) << f->name << ": reports the graph's tensor, not its own copy";
        bytes += len;
      }
      EXPECT_GE(bytes, size_t(w.numel()) * sizeof(float)) << f->name << " (" << k->impl() << ")";
    }
  }
  EXPECT_GE(built, 2);
  // calibr8's own Winograd (nChw8c input) among them where its ISA is there
  if (cpu_isa_at_least(dnnl::cpu_isa::avx2)) {
    EXPECT_TRUE(names.count("make_winograd_conv")) << built;
  }
}

}  // namespace
