// Single-core peaks of the instruction sequences our kernels are made of:
//   fp32  vfmadd231ps                         16 flop per instruction
//   u8s8  vpmaddubsw + vpmaddwd + vpaddd      (AVX2 INT8 without VNNI: oneDNN's
//                                             jit_uni_int8:avx2) 64 ops per triple
//   s16   vpmaddwd + vpaddd                   (calibr8's integer Winograd) 32 ops per pair
//   vnni  vpdpbusd (only if the CPU has AVX-VNNI/AVX512-VNNI; skipped otherwise)
// Each runs 12 independent accumulator chains, enough to cover latency x
// pipes. Prints GOPS per kind; the u8s8/fp32 ratio bounds what INT8 can gain
// over FP32 on this CPU for the same (direct) algorithm.
//   g++ -O2 -march=x86-64-v3 bench/peak_ops.cc -o build/peak_ops && build/peak_ops
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>

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

int main() {
  double f = fp32_gflops(), q = u8s8_gops(), h = s16_gops();
  bool vnni = __builtin_cpu_supports("avx512vnni") || __builtin_cpu_supports("avxvnni");
  std::printf("{\"fp32_gflops\": %.1f, \"u8s8_avx2_gops\": %.1f, \"s16_madd_gops\": %.1f, \"vnni\": %s, "
              "\"u8s8_over_fp32\": %.2f}\n",
              f, q, h, vnni ? "true" : "false", q / f);
  return 0;
}
