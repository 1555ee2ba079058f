// 3x3 stride-1 FP32 convolution by Winograd F(2x2, 3x3) on nChw8c tensors
// (AVX2). oneDNN 2.6 has Winograd only for AVX-512, and its direct jit:avx2
// kernel is already near this core's FMA peak, so the only way to go faster on
// the 3x3 layers (half of resnet50's and most of googlenet's time) is to do
// fewer multiplications: F(2x2, 3x3) computes a 2x2 output tile from a 4x4
// input tile with 16 instead of 36 multiplies per channel pair (2.25x fewer).
// Lavin & Gray, "Fast Algorithms for Convolutional Neural Networks" (2015);
// the per-tile-chunk batching of the 16 GEMMs follows the scheme of NNPACK and
// oneDNN's avx512 Winograd (transform a chunk of tiles into cache, 16 GEMMs
// over channels, inverse-transform), written anew for AVX2 here.
//
//   input transform   V[xi][t][ic]  = (B^T d B)[xi]   per 4x4 input tile t
//   weights (once)    U[xi][ic][oc] = (G g G^T)[xi]
//   16 GEMMs          M[xi][t][oc]  = sum_ic V[xi][t][ic] U[xi][ic][oc]
//   output transform  y = A^T M A + bias, then ReLU / Clip, into nChw8c
//
// Numerics: the transforms use only +, - and exact halves (G), so the result
// differs from direct convolution by float rounding only (tested against the
// reference kernel). Taken when the input already arrives as nChw8c (blocked
// layout from a previous conv), channels are multiples of 8, groups = 1, and
// the fused post-ops are at most one Relu/Clip. C8_WINOGRAD=0 disables it.
#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "runtime/kernels/x86/avx2/winograd_tiles.h"

namespace c8::dnnlk {
namespace {


struct WinoConv : Kernel, WinoTiles {
  std::vector<float> U;     // [16][OCp/16][IC][16]
  std::vector<float> bias;  // [OCp]
  float lo = -3.4028235e38f, hi = 3.4028235e38f;
  std::vector<std::vector<float>> scratch;  // per thread: V then M
  std::vector<std::pair<const void*, size_t>> prepared_data() const override {  // packed at load
    return {bytes_of(U), bytes_of(bias)};
  }

  void execute(KernelIO& io) override {
    const float* src = static_cast<const float*>(io.in[0].get_data_handle());
    float* dst = static_cast<float*>(io.out[0].get_data_handle());
    scratch.resize(size_t(std::max(1, omp_get_max_threads())));
    for_chunks([&](int th, int64_t t0, int64_t nt) {
      std::vector<float>& buf = scratch[size_t(th)];
      if (buf.size() < size_t(16 * chunk * (IC + OCp))) buf.resize(size_t(16 * chunk * (IC + OCp)));
      float* V = buf.data();
      float* M = V + 16 * chunk * IC;
      input_transform(src, t0, nt, V);
      wino_gemms(*this, *this, V, U.data(), M, nt);
      output_transform(M, t0, nt, dst);
    });
  }
  std::string impl() const override { return "c8:winograd_f2x3:avx2"; }
  // Differs from direct convolution in float rounding only (reference-kernel tests).
  std::string contract() const override { return "f32"; }


  void input_transform(const float* src, int64_t t0, int64_t nt, float* V) const {
    const int64_t CB = IC / 8, plane = IH * IW * 8;
    const __m256 z = _mm256_setzero_ps();
    for (int64_t i = 0; i < nt; ++i) {
      int64_t n, ty, tx;
      tile_pos(t0 + i, n, ty, tx);
      const int64_t y0 = 2 * ty - pt, x0 = 2 * tx - pl;
      const bool inside = y0 >= 0 && x0 >= 0 && y0 + 4 <= IH && x0 + 4 <= IW;
      for (int64_t cb = 0; cb < CB; ++cb) {
        const float* s = src + (n * CB + cb) * plane;
        __m256 d[4][4];
        #pragma GCC unroll 16
        for (int r = 0; r < 4; ++r)
          #pragma GCC unroll 16
          for (int q = 0; q < 4; ++q) {
            int64_t y = y0 + r, x = x0 + q;
            d[r][q] = (inside || (y >= 0 && y < IH && x >= 0 && x < IW)) ? _mm256_loadu_ps(s + (y * IW + x) * 8) : z;
          }
        // B^T d: rows
        __m256 t[4][4];
        #pragma GCC unroll 16
        for (int q = 0; q < 4; ++q) {
          t[0][q] = _mm256_sub_ps(d[0][q], d[2][q]);
          t[1][q] = _mm256_add_ps(d[1][q], d[2][q]);
          t[2][q] = _mm256_sub_ps(d[2][q], d[1][q]);
          t[3][q] = _mm256_sub_ps(d[1][q], d[3][q]);
        }
        // (B^T d) B: columns
        float* v = V + i * IC + cb * 8;
        const int64_t xs = chunk * IC;  // stride between the 16 xi planes
        #pragma GCC unroll 16
        for (int r = 0; r < 4; ++r) {
          _mm256_storeu_ps(v + (r * 4 + 0) * xs, _mm256_sub_ps(t[r][0], t[r][2]));
          _mm256_storeu_ps(v + (r * 4 + 1) * xs, _mm256_add_ps(t[r][1], t[r][2]));
          _mm256_storeu_ps(v + (r * 4 + 2) * xs, _mm256_sub_ps(t[r][2], t[r][1]));
          _mm256_storeu_ps(v + (r * 4 + 3) * xs, _mm256_sub_ps(t[r][1], t[r][3]));
        }
      }
    }
  }

  // rows x 16 block of M[xi] = V[xi] (rows x IC) * U[xi][ob] (IC x 16).
  template <int R>
  void micro(const float* a, const float* b, float* c) const {
    // One base pointer per row, indexed by k: the broadcasts then need no
    // address arithmetic (with one base and r * IC offsets the loop was
    // front-end bound: a lea per broadcast).
    const int64_t K = IC, ldc = OCp;
    const float* ar[R];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) ar[r] = a + r * K;
    __m256 acc[R][2];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
#pragma GCC unroll 4
    for (int64_t k = 0; k < K; ++k) {
      __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
      b += kWinoOcb;
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        __m256 x = _mm256_broadcast_ss(ar[r] + k);
        acc[r][0] = _mm256_fmadd_ps(x, b0, acc[r][0]);
        acc[r][1] = _mm256_fmadd_ps(x, b1, acc[r][1]);
      }
    }
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      _mm256_storeu_ps(c + r * ldc, acc[r][0]);
      _mm256_storeu_ps(c + r * ldc + 8, acc[r][1]);
    }
  }


  void output_transform(const float* M, int64_t t0, int64_t nt, float* dst) const {
    const int64_t CB = OC / 8, plane = OH * OW * 8, xs = chunk * OCp;
    const __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    for (int64_t i = 0; i < nt; ++i) {
      int64_t n, ty, tx;
      tile_pos(t0 + i, n, ty, tx);
      for (int64_t cb = 0; cb < CB; ++cb) {
        const float* m = M + i * OCp + cb * 8;
        __m256 v[16];
        #pragma GCC unroll 16
        for (int xi = 0; xi < 16; ++xi) v[xi] = _mm256_loadu_ps(m + xi * xs);
        // A^T m: rows (A^T = [1 1 1 0; 0 1 -1 -1])
        __m256 t[2][4];
        #pragma GCC unroll 16
        for (int q = 0; q < 4; ++q) {
          t[0][q] = _mm256_add_ps(_mm256_add_ps(v[0 * 4 + q], v[1 * 4 + q]), v[2 * 4 + q]);
          t[1][q] = _mm256_sub_ps(_mm256_sub_ps(v[1 * 4 + q], v[2 * 4 + q]), v[3 * 4 + q]);
        }
        const __m256 b = _mm256_loadu_ps(bias.data() + cb * 8);
        float* d = dst + (n * CB + cb) * plane;
        #pragma GCC unroll 16
        for (int r = 0; r < 2; ++r) {
          int64_t y = 2 * ty + r;
          if (y >= OH) break;
          __m256 y0 = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(t[r][0], t[r][1]), t[r][2]), b);
          __m256 y1 = _mm256_add_ps(_mm256_sub_ps(_mm256_sub_ps(t[r][1], t[r][2]), t[r][3]), b);
          y0 = _mm256_min_ps(vhi, _mm256_max_ps(vlo, y0));
          y1 = _mm256_min_ps(vhi, _mm256_max_ps(vlo, y1));
          _mm256_storeu_ps(d + (y * OW + 2 * tx) * 8, y0);
          if (2 * tx + 1 < OW) _mm256_storeu_ps(d + (y * OW + 2 * tx + 1) * 8, y1);
        }
      }
    }
  }
};

// U = G g G^T per (oc, ic), G = [1 0 0; .5 .5 .5; .5 -.5 .5; 0 0 1].
void transform_weights(const float* w, WinoConv& k) {
  const int64_t OB = k.OCp / kWinoOcb;
  k.U.assign(size_t(16 * OB * k.IC * kWinoOcb), 0.f);
  for (int64_t oc = 0; oc < k.OC; ++oc)
    for (int64_t ic = 0; ic < k.IC; ++ic) {
      const float* g = w + (oc * k.IC + ic) * 9;
      float tg[4][3];  // G g
      for (int c = 0; c < 3; ++c) {
        tg[0][c] = g[0 * 3 + c];
        tg[1][c] = 0.5f * (g[0 * 3 + c] + g[1 * 3 + c] + g[2 * 3 + c]);
        tg[2][c] = 0.5f * (g[0 * 3 + c] - g[1 * 3 + c] + g[2 * 3 + c]);
        tg[3][c] = g[2 * 3 + c];
      }
      #pragma GCC unroll 16
      for (int r = 0; r < 4; ++r) {
        float u[4] = {tg[r][0], 0.5f * (tg[r][0] + tg[r][1] + tg[r][2]), 0.5f * (tg[r][0] - tg[r][1] + tg[r][2]),
                      tg[r][2]};
        #pragma GCC unroll 16
        for (int q = 0; q < 4; ++q) {
          int xi = r * 4 + q;
          size_t at = ((size_t(xi) * size_t(OB) + size_t(oc / kWinoOcb)) * size_t(k.IC) + size_t(ic)) * kWinoOcb + size_t(oc % kWinoOcb);
          k.U[at] = u[q];
        }
      }
    }
}


std::unique_ptr<Kernel> make_winograd_conv(BuildCtx& ctx) {
  if (winograd_mode() == "0") return nullptr;
  if (ctx.in.size() < 2 || ctx.out.empty() || !is_f32(ctx.in[0]) || !is_f32(ctx.in[1]) || !is_f32(ctx.out[0]))
    return nullptr;
  if (!ctx.in[1].constant) return nullptr;
  bool has_bias = ctx.in.size() > 2 && ctx.in[2].present();
  if (has_bias && (!is_f32(ctx.in[2]) || !ctx.in[2].constant)) return nullptr;
  ConvGeom g;
  if (!conv_geom(ctx, g)) return nullptr;
  if (g.sp != 2 || g.group != 1 || g.wei.size() != 4 || g.wei[2] != 3 || g.wei[3] != 3) return nullptr;
  if (g.strides[0] != 1 || g.strides[1] != 1 || g.dil[0] != 0 || g.dil[1] != 0) return nullptr;
  if (g.C % 8 || g.M % 8 || g.C < 16) return nullptr;
  int64_t blk = 0;
  if (!is_nc_dense(ctx.in[0].md, &blk) || blk != 8) return nullptr;
  const Node& n = *ctx.node;
  float lo, hi;
  if (!relu_clip_bounds(n, 1.f, lo, hi)) return nullptr;
  auto k = std::make_unique<WinoConv>();
  k->init(g, sizeof(float), sizeof(float));
  k->lo = lo;
  k->hi = hi;
  Tensor w = ctx.in[1].constant->cast(DType::F32);
  transform_weights(w.data<float>(), *k);
  k->bias.assign(size_t(k->OCp), 0.f);
  if (has_bias) {
    Tensor b = ctx.in[2].constant->cast(DType::F32);
    std::copy(b.data<float>(), b.data<float>() + k->OC, k->bias.begin());
  }
  ctx.out[0].md = md_t(g.dst, dt::f32, tag::nChw8c);
  return k;
}

C8_REGISTER_FAST_KERNEL("Conv", 110, make_winograd_conv);

}  // namespace
}  // namespace c8::dnnlk
