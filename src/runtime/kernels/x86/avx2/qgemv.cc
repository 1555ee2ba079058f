// calibr8::QGemm with a few rows (the classifier of a batch-1 network) as
// u8s8 dot products (AVX2). oneDNN 2.6's int8 matmul takes ~0.4 ms for a
// 1x1280 by 1280x1000 product here (it re-packs the weights on every call);
// this kernel keeps the s8 weights row-major along K, padded to 32, and runs
// at the speed of reading them once (~0.1 ms). Exact int32 sums, then
// float(acc - zx * sum(w)) + bias in accumulator units, times the output
// scale, Relu/Clip, and for an 8-bit output + zero point, saturated, rounded
// half to even. Two dot-product paths:
// - VNNI (x86/avx512/qgemv_vnni.cc: vpdpbusd on zmm, u8*s8 products summed
//   in 32 bits, never saturates), when the effective ISA has AVX-512 VNNI
//   (ONEDNN_MAX_CPU_ISA caps it); rows padded to 64 bytes;
// - AVX2 vpmaddubsw pair sums, which saturate at int16: only for weights whose
//   pairs cannot (|w0| + |w1| <= 128, as calibr8's 7-bit weights), on every
//   CPU; other weights are left to qgemm.cc.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "runtime/kernels/onednn/common.h"
#include "runtime/kernels/x86/avx512/qgemv_vnni.h"

namespace c8::dnnlk {
namespace {

constexpr int64_t kMaxRows = 8;  // above this, oneDNN's packed GEMM wins

static inline int32_t hsum(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
  return _mm_cvtsi128_si32(s);
}

// Dot products of x (Kp bytes, Kp % 32 == 0) with nb <= 4 weight rows of Kp
// bytes. The usual nb == 4 case is unrolled so the four sums stay in registers.
#define C8_QGEMV_DOT4(STEP)                                                                     \
  __m256i acc[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(),    \
                    _mm256_setzero_si256()};                                                    \
  if (nb == 4) {                                                                                \
    for (int64_t k = 0; k < Kp; k += 32) {                                                      \
      const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + k));          \
      _Pragma("GCC unroll 4") for (int j = 0; j < 4; ++j) {                                     \
        const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w0 + j * Kp + k)); \
        acc[j] = STEP(acc[j], xv, wv);                                                          \
      }                                                                                         \
    }                                                                                           \
  } else {                                                                                      \
    for (int64_t k = 0; k < Kp; k += 32) {                                                      \
      const __m256i xv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + k));          \
      for (int64_t j = 0; j < nb; ++j) {                                                        \
        const __m256i wv = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w0 + j * Kp + k)); \
        acc[j] = STEP(acc[j], xv, wv);                                                          \
      }                                                                                         \
    }                                                                                           \
  }                                                                                             \
  for (int64_t j = 0; j < nb; ++j) sums[j] = hsum(acc[j]);

// vpmaddubsw: pairs of u8*s8 products summed with int16 saturation.
static inline __m256i step_avx2(__m256i acc, __m256i xv, __m256i wv) {
  return _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(xv, wv), _mm256_set1_epi16(1)));
}
static void dot4_avx2(const uint8_t* x, const int8_t* w0, int64_t Kp, int64_t nb, int32_t* sums) {
  C8_QGEMV_DOT4(step_avx2)
}

#undef C8_QGEMV_DOT4

struct QGemv : Kernel {
  int64_t M = 0, K = 0, Kp = 0, N = 0;
  std::vector<int8_t> w;       // [N][Kp]
  std::vector<int32_t> wsum;   // per column, for the input zero point
  std::vector<float> bias, scale;
  int32_t zx = 0;
  float zy = 0, act_lo = -3.4028235e38f, act_hi = 3.4028235e38f, lo = 0, hi = 0;
  DType yt = DType::F32;
  bool vnni = false;
  std::vector<std::pair<const void*, size_t>> prepared_data() const override {  // packed at load
    return {bytes_of(w), bytes_of(wsum), bytes_of(bias), bytes_of(scale)};
  }
  std::vector<uint8_t> xbuf;  // one input row, zero-padded to Kp
  LayoutAdapter a_ad;

  void execute(KernelIO& io) override {
    dnnl::memory am = a_ad.convert(*io.stream, io.in[0]);
    if (a_ad.needed()) io.stream->wait();
    const uint8_t* a = static_cast<const uint8_t*>(am.get_data_handle());
    void* out = io.out[0].get_data_handle();
    xbuf.assign(size_t(Kp), 0);
    for (int64_t m = 0; m < M; ++m) {
      std::memcpy(xbuf.data(), a + m * K, size_t(K));
      const uint8_t* x = xbuf.data();
      // Output columns split over the threads (each column's sum is computed
      // by one thread the same way: results do not depend on the count).
#pragma omp parallel for schedule(static) if (N * Kp >= (1 << 18))
      for (int64_t n0 = 0; n0 < N; n0 += 4) {
        const int64_t nb = std::min<int64_t>(4, N - n0);
        int32_t sums[4];
        if (vnni) x86::qgemv_dot4_vnni(x, w.data() + n0 * Kp, Kp, nb, sums);
        else dot4_avx2(x, w.data() + n0 * Kp, Kp, nb, sums);
        for (int64_t j = 0; j < nb; ++j) {
          int64_t n = n0 + j;
          float v = (float(sums[j] - zx * wsum[size_t(n)]) + bias[size_t(n)]) * scale[size_t(n)];
          v = v < act_lo ? act_lo : (v > act_hi ? act_hi : v);
          if (yt == DType::F32) {
            static_cast<float*>(out)[m * N + n] = v;
            continue;
          }
          float q = std::nearbyint(std::min(hi, std::max(lo, v + zy)));
          if (yt == DType::U8) static_cast<uint8_t*>(out)[m * N + n] = uint8_t(q);
          else static_cast<int8_t*>(out)[m * N + n] = int8_t(q);
        }
      }
    }
  }
  std::string impl() const override {
    return std::string(vnni ? "c8:qgemv_vnni u8s8->" : "c8:qgemv_avx2 u8s8->") + (yt == DType::F32 ? "f32" : yt == DType::U8 ? "u8" : "s8");
  }
};

std::unique_ptr<Kernel> make_qgemv(BuildCtx& ctx) {
  const Node& nd = *ctx.node;
  if (ctx.in.size() < 2 || ctx.out.empty() || !ctx.in[1].constant || ctx.in[1].dtype != DType::I8) return nullptr;
  DType xt = ctx.in[0].dtype, yt = ctx.out[0].dtype;
  if (xt != DType::U8 || (yt != DType::U8 && yt != DType::I8 && yt != DType::F32)) return nullptr;
  const Shape& as = ctx.in[0].shape;
  const Tensor& W = *ctx.in[1].constant;
  if (as.size() != 2 || W.rank() != 2 || as[0] > kMaxRows) return nullptr;
  bool tb = nd.attr_i("transB", 0) != 0;
  int64_t M = as[0], K = as[1], N = tb ? W.shape[0] : W.shape[1];
  if ((tb ? W.shape[1] : W.shape[0]) != K || ctx.out[0].shape != Shape{M, N}) return nullptr;
  bool has_bias = ctx.in.size() > 2 && ctx.in[2].present();
  if (has_bias && (!ctx.in[2].constant || !is_f32(ctx.in[2]) || shape_numel(ctx.in[2].shape) != N)) return nullptr;
  auto k = std::make_unique<QGemv>();
  const float sx = nd.attr_f("x_scale", 1.f), sy = nd.attr_f("y_scale", 1.f);
  const bool qout = yt != DType::F32;
  const float inv = qout ? 1.f / sy : 1.f;  // post-op bounds as qgemm.cc scales them
  if (!relu_clip_bounds(nd, inv, k->act_lo, k->act_hi)) return nullptr;
  auto wsa = nd.attr_floats("w_scales");
  if (wsa.size() != 1 && int64_t(wsa.size()) != N) return nullptr;
  k->M = M;
  k->K = K;
  k->vnni = cpu_has_avx512_vnni();
  k->Kp = k->vnni ? (K + 63) / 64 * 64 : (K + 31) / 32 * 32;
  k->N = N;
  k->yt = yt;
  k->zx = int32_t(nd.attr_i("x_zero_point", 0));
  k->zy = float(nd.attr_i("y_zero_point", 0));
  k->lo = yt == DType::I8 ? -128.f : 0.f;
  k->hi = yt == DType::I8 ? 127.f : 255.f;
  k->w.assign(size_t(N * k->Kp), 0);
  k->wsum.assign(size_t(N), 0);
  const int8_t* wp = W.data<int8_t>();
  for (int64_t n = 0; n < N; ++n)
    for (int64_t kk = 0; kk < K; ++kk) {
      int8_t v = tb ? wp[n * K + kk] : wp[kk * N + n];
      k->w[size_t(n * k->Kp + kk)] = v;
      k->wsum[size_t(n)] += v;
    }
  // vpmaddubsw saturates whatever the CPU: without the VNNI path, weights whose
  // pair sums could saturate go to qgemm.cc.
  if (!k->vnni && u8s8_pairs_may_saturate(k->w.data(), N, k->Kp, k->Kp, 1, 1)) return nullptr;
  k->bias.assign(size_t(N), 0.f);
  k->scale.assign(size_t(N), 0.f);
  for (int64_t n = 0; n < N; ++n) {
    float ws = wsa.size() == 1 ? wsa[0] : wsa[size_t(n)];
    k->scale[size_t(n)] = sx * ws / (qout ? sy : 1.f);  // as qgemm.cc's output scales
    if (has_bias) k->bias[size_t(n)] = ctx.in[2].constant->data<float>()[n] / (sx * ws);
  }
  try {
    k->a_ad = LayoutAdapter(*ctx.engine, ctx.in[0].md, plain_md(xt, as));
  } catch (const dnnl::error&) {
    return nullptr;
  }
  ctx.out[0].md = plain_md(yt, ctx.out[0].shape);
  return k;
}

C8_REGISTER_FAST_KERNEL("QGemm", 110, make_qgemv);

}  // namespace
}  // namespace c8::dnnlk
