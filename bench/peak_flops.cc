// Single-core FP32 FMA peak: independent 256-bit FMA chains (AVX2), enough
// of them to cover FMA latency x pipes. Prints GFLOP/s and the implied
// flops/cycle at the measured clock (clock from a dependent-add chain).
// Build: g++ -O2 -mavx2 -mfma bench/peak_flops.cc -o /tmp/peak_flops
#include <immintrin.h>
#include <algorithm>
#include <chrono>
#include <cstdio>

int main() {
  using clk = std::chrono::steady_clock;
  const long iters = 200000000;
  // 1) clock estimate: a chain of dependent integer adds runs at 1/cycle.
  double best_ghz = 0;
  for (int rep = 0; rep < 5; ++rep) {
    long x = 0;
    auto t0 = clk::now();
    for (long i = 0; i < iters; ++i) asm volatile("add $1, %0" : "+r"(x));
    double s = std::chrono::duration<double>(clk::now() - t0).count();
    best_ghz = std::max(best_ghz, iters / s * 1e-9);
  }
  // 2) FMA throughput: 12 independent accumulators.
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    __m256 a[12];
    for (int k = 0; k < 12; ++k) a[k] = _mm256_set1_ps(float(k) * 1e-3f);
    const __m256 b = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
    const long n = 20000000;
    auto t0 = clk::now();
    for (long i = 0; i < n; ++i) {
#define F(k) a[k] = _mm256_fmadd_ps(a[k], b, c);
      F(0) F(1) F(2) F(3) F(4) F(5) F(6) F(7) F(8) F(9) F(10) F(11)
      asm volatile("" : "+x"(a[0]), "+x"(a[1]), "+x"(a[2]), "+x"(a[3]), "+x"(a[4]), "+x"(a[5]), "+x"(a[6]),
                   "+x"(a[7]), "+x"(a[8]), "+x"(a[9]), "+x"(a[10]), "+x"(a[11]));
    }
    double s = std::chrono::duration<double>(clk::now() - t0).count();
    float sink = 0;
    for (int k = 0; k < 12; ++k) sink += _mm256_cvtss_f32(a[k]);
    if (sink == 12345.f) std::puts("");
    best = std::max(best, double(n) * 12 * 8 * 2 / s * 1e-9);
  }
  std::printf("{\"clock_ghz\": %.3f, \"fma_gflops_1core\": %.2f, \"flops_per_cycle\": %.2f}\n", best_ghz, best,
              best / best_ghz);
  return 0;
}
