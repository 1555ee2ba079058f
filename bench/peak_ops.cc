// Single-core peaks of the instruction sequences our kernels are made of:
//   fp32  vfmadd231ps                         16 flop per instruction
//   u8s8  vpmaddubsw + vpmaddwd + vpaddd      (AVX2 INT8 without VNNI: oneDNN's
//                                             jit_uni_int8:avx2) 64 ops per triple
//   s16   vpmaddwd + vpaddd                   (calibr8's integer Winograd) 32 ops per pair
//   fp32_zmm     vfmadd231ps on zmm              32 flop per instruction (AVX-512F)
//   vnni         vpdpbusd (zmm with AVX512-VNNI, ymm with AVX-VNNI)  128 / 64 ops
//   bf16         vdpbf16ps on zmm                64 flop per instruction (AVX512-BF16)
// (each probed only when the CPU has the instructions; null otherwise)
// Each runs 12 independent accumulator chains, enough to cover latency x
// pipes. Prints GOPS per kind; the u8s8/fp32 ratio bounds what INT8 can gain
// over FP32 on this CPU for the same (direct) algorithm.
//   g++ -O2 -march=x86-64-v3 bench/peak_ops.cc -o build/peak_ops && build/peak_ops
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

using clk = std::chrono::steady_clock;

template <class F>
double best_of(int reps, F f) {
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    auto t0 = clk::now();
    f();
    best = std::min(best, std::chrono::duration<double>(clk::now() - t0).count());
  }
  return best;
}

static const long kIters = 50'000'000;

double fp32_gflops() {
  volatile float sink = 0;
  double s = best_of(5, [&] {
    __m256 a0 = _mm256_set1_ps(0.1f), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0, a9 = a0,
           a10 = a0, a11 = a0;
    const __m256 b = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    for (long i = 0; i < kIters; ++i) {
      a0 = _mm256_fmadd_ps(a0, b, c); a1 = _mm256_fmadd_ps(a1, b, c); a2 = _mm256_fmadd_ps(a2, b, c);
      a3 = _mm256_fmadd_ps(a3, b, c); a4 = _mm256_fmadd_ps(a4, b, c); a5 = _mm256_fmadd_ps(a5, b, c);
      a6 = _mm256_fmadd_ps(a6, b, c); a7 = _mm256_fmadd_ps(a7, b, c); a8 = _mm256_fmadd_ps(a8, b, c);
      a9 = _mm256_fmadd_ps(a9, b, c); a10 = _mm256_fmadd_ps(a10, b, c); a11 = _mm256_fmadd_ps(a11, b, c);
    }
    __m256 t = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
    t = _mm256_add_ps(t, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
    sink = _mm256_cvtss_f32(t);
  });
  return double(kIters) * 12 * 16 / s * 1e-9;
}

// 6 accumulator chains, each with its own weights so no two products are the
// same expression (the compiler would share them); 14 ymm registers in all.
double u8s8_gops() {
  volatile int sink = 0;
  double s = best_of(5, [&] {
    const __m256i one = _mm256_set1_epi16(1);
    __m256i w0 = _mm256_set1_epi8(-2), w1 = _mm256_set1_epi8(3), w2 = _mm256_set1_epi8(-4), w3 = _mm256_set1_epi8(5),
            w4 = _mm256_set1_epi8(-6), w5 = _mm256_set1_epi8(7);
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
    __m256i xx = _mm256_set1_epi8(3);
    for (long i = 0; i < kIters; ++i) {
      asm volatile("" : "+x"(xx));  // a new input every iteration: nothing hoisted
#define T(a, w) a = _mm256_add_epi32(a, _mm256_madd_epi16(_mm256_maddubs_epi16(xx, w), one));
      T(a0, w0) T(a1, w1) T(a2, w2) T(a3, w3) T(a4, w4) T(a5, w5)
#undef T
    }
    __m256i t = _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(a0, a1), _mm256_add_epi32(a2, a3)),
                                 _mm256_add_epi32(a4, a5));
    sink = _mm256_extract_epi32(t, 0);
  });
  return double(kIters) * 6 * 64 / s * 1e-9;
}

double s16_gops() {
  volatile int sink = 0;
  double s = best_of(5, [&] {
    __m256i w0 = _mm256_set1_epi16(-2), w1 = _mm256_set1_epi16(3), w2 = _mm256_set1_epi16(-4), w3 = _mm256_set1_epi16(5),
            w4 = _mm256_set1_epi16(-6), w5 = _mm256_set1_epi16(7);
    __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
    __m256i xx = _mm256_set1_epi16(3);
    for (long i = 0; i < kIters; ++i) {
      asm volatile("" : "+x"(xx));
#define T(a, w) a = _mm256_add_epi32(a, _mm256_madd_epi16(xx, w));
      T(a0, w0) T(a1, w1) T(a2, w2) T(a3, w3) T(a4, w4) T(a5, w5)
#undef T
    }
    __m256i t = _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(a0, a1), _mm256_add_epi32(a2, a3)),
                                 _mm256_add_epi32(a4, a5));
    sink = _mm256_extract_epi32(t, 0);
  });
  return double(kIters) * 6 * 32 / s * 1e-9;
}

// The AVX-512 probes are compiled for their ISA alone (target attributes):
// the file builds with -march=x86-64-v3 and runs them only where the CPU has them.
// 12 chains of one zmm instruction each; `op` is the instruction's work in flop/ops.
#define C8_ZMM_PROBE(name, isa, type, zero, step, op, as_int)                                    \
  __attribute__((target(isa))) static int name##_run() {                                   \
    type a0 = zero, a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0, a8 = a0,   \
         a9 = a0, a10 = a0, a11 = a0;                                                      \
    for (long i = 0; i < kIters; ++i) {                                                    \
      step(a0) step(a1) step(a2) step(a3) step(a4) step(a5) step(a6) step(a7) step(a8)     \
      step(a9) step(a10) step(a11)                                                         \
      /* opaque accumulators: the compiler cannot merge the 12 identical chains */        \
      asm volatile("" : "+v"(a0), "+v"(a1), "+v"(a2), "+v"(a3), "+v"(a4), "+v"(a5), "+v"(a6),  \
                   "+v"(a7), "+v"(a8), "+v"(a9), "+v"(a10), "+v"(a11));                    \
    }                                                                                      \
    /* every chain feeds the result (none is dropped); no address taken (that spills them) */ \
    __m512i t = _mm512_xor_si512(as_int(a0), as_int(a1));                                  \
    for (__m512i v : {as_int(a2), as_int(a3), as_int(a4), as_int(a5), as_int(a6), as_int(a7),  \
                      as_int(a8), as_int(a9), as_int(a10), as_int(a11)})                   \
      t = _mm512_xor_si512(t, v);                                                          \
    int r = _mm_cvtsi128_si32(_mm512_castsi512_si128(t));                                  \
    return r;                                                                              \
  }                                                                                        \
  double name() {                                                                          \
    volatile int sink = 0;                                                                 \
    double s = best_of(5, [&] { sink = name##_run(); });                                   \
    return double(kIters) * 12 * (op) / s * 1e-9;                                          \
  }

#define FMA_ZMM(a) a = _mm512_fmadd_ps(a, _mm512_set1_ps(0.999999f), _mm512_set1_ps(1e-7f));
C8_ZMM_PROBE(fp32_zmm_gflops, "avx512f", __m512, _mm512_set1_ps(0.1f), FMA_ZMM, 32, _mm512_castps_si512)
#define VNNI_ZMM(a) a = _mm512_dpbusd_epi32(a, _mm512_set1_epi8(3), _mm512_set1_epi8(-2));
C8_ZMM_PROBE(vnni_zmm_gops, "avx512f,avx512vnni", __m512i, _mm512_setzero_si512(), VNNI_ZMM, 128, )
// int16 pairs (vpdpwssd): the GEMM of the exact INT8 Winograd kernels, 2 MACs a lane.
#define S16_ZMM(a) a = _mm512_dpwssd_epi32(a, _mm512_set1_epi16(3), _mm512_set1_epi16(-2));
C8_ZMM_PROBE(s16_vnni_zmm_gops, "avx512f,avx512vnni", __m512i, _mm512_setzero_si512(), S16_ZMM, 64, )
#define BF16_ZMM(a) a = _mm512_dpbf16_ps(a, (__m512bh)_mm512_set1_epi16(0x3f80), (__m512bh)_mm512_set1_epi16(0x3f80));
C8_ZMM_PROBE(bf16_zmm_gflops, "avx512f,avx512bf16", __m512, _mm512_setzero_ps(), BF16_ZMM, 64, _mm512_castps_si512)

int main() {
  double f = fp32_gflops(), q = u8s8_gops(), h = s16_gops();
  const bool avx512 = __builtin_cpu_supports("avx512f");
  const bool vnni512 = avx512 && __builtin_cpu_supports("avx512vnni");
  const bool bf16 = avx512 && __builtin_cpu_supports("avx512bf16");
  auto num = [](bool have, double (*probe)()) {
    char b[32];
    if (!have) return std::string("null");
    std::snprintf(b, sizeof b, "%.1f", probe());
    return std::string(b);
  };
  const std::string fz = num(avx512, fp32_zmm_gflops), vz = num(vnni512, vnni_zmm_gops),
                    sz = num(vnni512, s16_vnni_zmm_gops), bz = num(bf16, bf16_zmm_gflops);
  // The INT8 peak a u8s8 convolution can reach here: VNNI where there is one, else the AVX2 triple.
  const std::string int8_peak = vnni512 ? vz : num(true, [] { return u8s8_gops(); });
  std::printf("{\"fp32_gflops\": %.1f, \"u8s8_avx2_gops\": %.1f, \"s16_madd_gops\": %.1f, \"vnni\": %s, "
              "\"u8s8_over_fp32\": %.2f, \"fp32_zmm_gflops\": %s, \"vnni_zmm_gops\": %s, \"s16_vnni_zmm_gops\": %s, \"bf16_zmm_gflops\": %s, "
              "\"int8_peak_gops\": %s}\n",
              f, q, h, vnni512 ? "true" : "false", q / f, fz.c_str(), vz.c_str(), sz.c_str(), bz.c_str(), int8_peak.c_str());
  return 0;
}
