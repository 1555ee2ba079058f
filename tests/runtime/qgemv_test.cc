// QGemm with few rows runs on calibr8's u8s8 dot-product kernel; it must agree
// with the QDQ graph on the reference kernels: float outputs to float
// rounding, 8-bit outputs to 1 LSB at rounding ties. Input zero point != 0,
// per-column weight scales, bias, Relu, K not a multiple of 32, transB both ways.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "ir/graph.h"
#include "qdq_build.h"
#include "runtime/kernel.h"
#include "runtime/session.h"

namespace c8 {
namespace {

using c8test::dequantize;
using c8test::quantize;

struct Case {
  int64_t M, K, N;
  bool transB, relu, quant_out;
  bool saturating = false;  // 8-bit weights near +-127 and inputs near 255: vpmaddubsw pair sums overflow int16
};

void run_case(const Case& c, uint32_t seed) {
  std::mt19937 rng(seed);
  Graph g;
  g.opset = 13;
  int x = g.add_value("x", DType::F32);
  g.values[size_t(x)].shape = {c.M, c.K};
  g.values[size_t(x)].has_shape = true;
  g.inputs = {x};
  int xd = dequantize(g, quantize(g, x, "xq", 0.03f, DType::U8, 7), "xdq", 0.03f, DType::U8, 7);
  Shape ws = c.transB ? Shape{c.N, c.K} : Shape{c.K, c.N};
  Tensor w(DType::I8, ws), sc(DType::F32, {c.N}), zp(DType::I8, {c.N}), b(DType::F32, {c.N});
  std::uniform_int_distribution<int> u(-63, 63), big(110, 127);
  for (int64_t i = 0; i < w.numel(); ++i) {
    // Saturating case: one sign per output column (no cancellation, so float
    // rounding stays small against the sum), magnitudes near 127.
    const int64_t col = c.transB ? i / c.K : i % c.N;
    w.data<int8_t>()[i] = int8_t(c.saturating ? (col % 2 ? -big(rng) : big(rng)) : u(rng));
  }
  for (int64_t n = 0; n < c.N; ++n) {
    sc.data<float>()[n] = 0.004f + 0.0003f * float(n % 5);
    b.data<float>()[n] = 0.05f * float(int(n % 7) - 3);
  }
  int wd = g.add_value("w", DType::F32);
  int wn = g.add_node("DequantizeLinear", {g.add_constant("wq", w), g.add_constant("ws", sc), g.add_constant("wz", zp)}, {wd}, "wDQ");
  g.nodes[size_t(wn)].set_i("axis", c.transB ? 0 : 1);
  int y = g.add_value("y", DType::F32);
  int gn = g.add_node("Gemm", {xd, wd, g.add_constant("b", b)}, {y}, "fc");
  g.nodes[size_t(gn)].set_i("transB", c.transB ? 1 : 0);
  int z = y;
  if (c.relu) {
    z = g.add_value("z", DType::F32);
    g.add_node("Relu", {y}, {z}, "relu");
  }
  g.outputs = {c.quant_out ? dequantize(g, quantize(g, z, "yq", 0.05f, DType::U8, c.relu ? 0 : 100), "ydq", 0.05f, DType::U8,
                                        c.relu ? 0 : 100)
                           : z};

  Tensor in(DType::F32, {c.M, c.K});
  // 0.03 * (255 - 7) = 7.44 is the top of the input grid.
  std::uniform_real_distribution<float> ux(c.saturating ? 7.1f : -0.2f, c.saturating ? 7.44f : 5.f);
  for (int64_t i = 0; i < in.numel(); ++i) in.data<float>()[i] = ux(rng);
  Session fast(g);
  Tensor a = fast.run({in})[0];
  bool gemv = false, gemv_avx2 = false;
  std::string impls;
  for (const KernelRecord& k : fast.kernels()) {
    gemv |= k.impl.rfind("c8:qgemv", 0) == 0;
    gemv_avx2 |= k.impl.rfind("c8:qgemv_avx2", 0) == 0;
    impls += k.impl + "; ";
  }
  if (!c.saturating || cpu_has_avx512_vnni()) {
    EXPECT_TRUE(gemv) << "QGemm did not run on the dot-product kernel: " << impls;
  }
  if (cpu_has_avx512_vnni()) {
    EXPECT_FALSE(gemv_avx2) << "VNNI CPU (effective ISA) but the AVX2 path ran: " << impls;
  }
  if (c.saturating) {  // vpmaddubsw would saturate on these weights whatever the CPU
    EXPECT_FALSE(gemv_avx2) << "saturating weights on the vpmaddubsw path: " << impls;
  }
  SessionOptions ro;
  ro.fast = false;
  ro.optimize = false;
  Session ref(g, ro);
  Tensor r = ref.run({in})[0];
  int64_t off1 = 0, worse = 0;
  for (int64_t i = 0; i < a.numel(); ++i) {
    double d = std::fabs(double(a.data<float>()[i]) - double(r.data<float>()[i]));
    if (c.quant_out) {
      off1 += d > 1e-6 && d <= 0.05 * 1.001;
      worse += d > 0.05 * 1.001;
    } else {
      worse += d > 1e-5 * (1 + std::fabs(double(r.data<float>()[i])));
    }
  }
  EXPECT_EQ(worse, 0) << "M" << c.M << " K" << c.K << " N" << c.N;
  EXPECT_LE(off1, a.numel() / 100 + 1);
}

TEST(QGemv, AgreesWithQdqReference) {
  run_case({1, 1280, 1000, true, false, false}, 1);
  run_case({3, 77, 19, true, true, true}, 2);
  run_case({2, 40, 9, false, false, true}, 3);
  run_case({8, 33, 5, false, true, false}, 4);
}

// 8-bit weights as calibrate writes them for a VNNI target: the old kernel
// skipped its saturation check on VNNI CPUs while still using vpmaddubsw, and
// gave sums clipped at int16 pairs here. With ONEDNN_MAX_CPU_ISA=AVX2 the
// layer must leave the vpmaddubsw path (qgemm.cc: exact FP32); with VNNI it
// runs the vpdpbusd path. Either way the result is the QDQ reference's.
TEST(QGemv, SaturatingWeightsStayExact) {
  run_case({1, 1280, 64, true, false, false, true}, 5);
  run_case({2, 96, 24, false, true, false, true}, 6);
}

}  // namespace
}  // namespace c8
