// INT8 3x3 stride-1 QConv by Winograd F(2x2, 3x3) in exact integer arithmetic
// (AVX2), bit-identical to direct INT8 convolution.
//
// Without VNNI, a u8*s8 multiply-accumulate costs oneDNN's direct kernel three
// instructions per 32 MACs (vpmaddubsw, vpmaddwd, vpaddd), so the 3x3 layers
// stay at the speed of FP32 ones. Winograd needs 2.25x fewer MACs. Done in
// integers it is exact:
//   V  = B^T d B          (u8 input tile -> int16, |V| <= 1020)
//   U' = (2G) g (2G)^T = 4 G g G^T   (s8 weights -> int16, |U'| <= 9 * 127)
//   M  = sum_ic V U'      (vpmaddwd: int16 pairs -> int32)
//   acc = (A^T M A) / 4   (exact: A^T M A is 4 x the direct accumulator)
// int32 adds wrap modulo 2^32, and the final value (4 x a direct 3x3 INT8
// accumulator) fits int32, so intermediate wrap-around cannot change it.
//
// F(4x2, 3x3) -- F(4,3) down the rows, F(2,3) along them -- needs 3 GEMM
// MACs per output instead of 4. Its G has fractions (1/4, 1/6, 1/24); with
// rows scaled by (4, -6, -6, 24, 24, 1) it is the integer Gs below, and the
// scaling moves into the output transform, whose integer A'^T = 24 A^T
// diag(1/s) gives exactly 48 x the direct accumulator (checked for all
// tiles in tests/runtime/qconv_winograd_test.cc):
//   V = BT4 d BT2^T: |V| <= 10 * 2 * 255 = 5100;  U' = Gs g (2G)^T: |U'| <=
//   7 * 3 * 127 = 2667 (both int16), acc = (A'^T M A2) / 48.
// The result is exact when 48 x the accumulator cannot leave int32; the
// kernel checks that bound from the layer's weights (255 * max_oc sum|w| *
// 48 < 2^31) and keeps F(2x2) otherwise.
// F(4x3, 3x3) goes one step further along the rows with F(3,3) (points 0,
// +-1, 2, inf; G's rows times 2, -2, -6, 6, 1 give integer Gs3, the output
// transform gives 6x): 2.5 GEMM MACs per output, |V| <= 10 * 6 * 255 =
// 15300, |U'| <= 7 * 7 * 127 = 6223, acc = (A4'^T M A3'^T^T) / 144, exact
// while 144 x the accumulator fits int32 -- true for every 3x3 layer of the
// torchvision models here. The kernel takes the largest exact tile (F(4x3)
// on maps >= 28 wide); C8_WINOGRAD_TILE=4x3 | 4x2 | 2x2 overrides that.
// The epilogue repeats oneDNN's: float(acc) + bias (accumulator units), times
// the per-channel output scale, Relu/Clip, + output zero point, saturate,
// round to nearest even.
//
// Scope: u8 input in NHWC (what oneDNN's INT8 convs produce on AVX2) with
// zero point 0 (performance preset), channels multiples of 8, groups 1, u8/s8
// output, no residual sum, and large enough to pay off (see make_qconv_winograd).
// Else oneDNN's kernel runs. C8_WINOGRAD=0 disables it, =all forces it.
// On an AVX-512 VNNI CPU a second form (":avx512_vnni", its own tuning
// candidate) runs the GEMMs on vpdpwssd (x86/avx512/wino_gemm_vnni.cc) and
// the F(4 x mx) output transform on zmm (x86/avx512/wino_output.cc).
// (Lavin & Gray 2015; integer Winograd as in e.g. "Efficient Winograd
// Convolution via Integer Arithmetic", Meng & Brothers 2019.)
#include <immintrin.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/kernels/x86/avx2/winograd_tiles.h"
#include "runtime/kernels/x86/avx512/wino_gemm_vnni.h"
#include "runtime/kernels/x86/avx512/wino_output.h"

namespace c8::dnnlk {
namespace {


struct QWino : Kernel, WinoTiles {
  std::vector<int16_t> U;  // [16][OCp/16][IC/2][16][2]
  std::vector<float> bias, scale;  // [OCp], accumulator units / output scale
  float lo = 0, hi = 255, zy = 0;  // saturation bounds and zero point (output units)
  float act_lo = -3.4028235e38f, act_hi = 3.4028235e38f;  // Relu/Clip in output-scale units
  bool s8_out = false;
  int mx4 = 0;  // F(4 x mx4, 3x3) tiles with mx4 = 2 or 3; 0: F(2x2, 3x3)
  bool vnni = false;  // the GEMMs on AVX-512 VNNI (x86/avx512/wino_gemm_vnni.cc)
  std::string precision;
  std::vector<std::vector<int16_t>> vbuf;
  std::vector<std::vector<int32_t>> mbuf;
  std::vector<std::pair<const void*, size_t>> prepared_data() const override {  // packed at load
    return {bytes_of(U), bytes_of(bias), bytes_of(scale)};
  }

  void execute(KernelIO& io) override {
    const uint8_t* src = static_cast<const uint8_t*>(io.in[0].get_data_handle());
    uint8_t* dst = static_cast<uint8_t*>(io.out[0].get_data_handle());
    size_t threads = size_t(std::max(1, omp_get_max_threads()));
    vbuf.resize(threads);
    mbuf.resize(threads);
    for_chunks([&](int th, int64_t t0, int64_t nt) {
      std::vector<int16_t>& V = vbuf[size_t(th)];
      std::vector<int32_t>& M = mbuf[size_t(th)];
      if (V.size() < size_t(P * chunk * IC)) V.resize(size_t(P * chunk * IC));
      if (M.size() < size_t(P * chunk * OCp)) M.resize(size_t(P * chunk * OCp));
      if (mx4 == 3) input_transform<3>(src, t0, nt, V.data());
      else if (mx4 == 2) input_transform<2>(src, t0, nt, V.data());
      else input_transform<0>(src, t0, nt, V.data());
      if (vnni) {
        const int64_t OB = OCp / kWinoOcb;
        for (int64_t xi = 0; xi < P; ++xi)
          x86::wino_gemm_s16_vnni(V.data() + xi * chunk * IC, IC, nt, U.data() + xi * OB * IC * kWinoOcb, IC * kWinoOcb,
                                  OB, IC / 2, M.data() + xi * chunk * OCp, OCp);
      } else {
        wino_gemms(*this, *this, V.data(), U.data(), M.data(), nt);
      }
      if (vnni && mx4) output_transform4x_avx512(M.data(), t0, nt, dst);
      else if (mx4 == 3) output_transform4x<3>(M.data(), t0, nt, dst);
      else if (mx4 == 2) output_transform4x<2>(M.data(), t0, nt, dst);
      else output_transform(M.data(), t0, nt, dst);
    });
  }
  std::string contract() const override { return "int8-exact"; }  // bit-identical to direct INT8 (QConvWinograd tests, 1x1 maps up)
  std::string impl() const override {
    return std::string(mx4 == 3   ? "c8:winograd_f4x3_3x3_int"
                       : mx4 == 2 ? "c8:winograd_f4x2_3x3_int"
                                  : "c8:winograd_f2x3_int") +
           (vnni ? ":avx512_vnni " : ":avx2 ") + precision;
  }


  // 16 channels per ymm where they fill it, 8 per xmm for the rest.
  struct Lanes16 {
    using T = __m256i;
    static constexpr int kW = 16;
    static T load(const uint8_t* p) { return _mm256_cvtepu8_epi16(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
    static T zero() { return _mm256_setzero_si256(); }
    static T add(T a, T b) { return _mm256_add_epi16(a, b); }
    static T sub(T a, T b) { return _mm256_sub_epi16(a, b); }
    static T shl(T a, int n) { return _mm256_slli_epi16(a, n); }
    static void store(int16_t* p, T v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  };
  struct Lanes8 {
    using T = __m128i;
    static constexpr int kW = 8;
    static T load(const uint8_t* p) { return _mm_cvtepu8_epi16(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p))); }
    static T zero() { return _mm_setzero_si128(); }
    static T add(T a, T b) { return _mm_add_epi16(a, b); }
    static T sub(T a, T b) { return _mm_sub_epi16(a, b); }
    static T shl(T a, int n) { return _mm_slli_epi16(a, n); }
    static void store(int16_t* p, T v) { _mm_storeu_si128(reinterpret_cast<__m128i*>(p), v); }
  };

  // V = B^T d B for one tile and channels [c, c + L::kW).
  template <class L>
  void transform_group(const uint8_t* img, int64_t y0, int64_t x0, int64_t c, int16_t* v) const {
    const int64_t xs = chunk * IC;  // stride between the 16 xi planes
    typename L::T d[4][4], t[4][4];
#pragma GCC unroll 4
    for (int r = 0; r < 4; ++r)
#pragma GCC unroll 4
      for (int q = 0; q < 4; ++q) {
        int64_t y = y0 + r, x = x0 + q;
        d[r][q] = (y >= 0 && y < IH && x >= 0 && x < IW) ? L::load(img + (y * IW + x) * IC + c) : L::zero();
      }
#pragma GCC unroll 4
    for (int q = 0; q < 4; ++q) {
      t[0][q] = L::sub(d[0][q], d[2][q]);
      t[1][q] = L::add(d[1][q], d[2][q]);
      t[2][q] = L::sub(d[2][q], d[1][q]);
      t[3][q] = L::sub(d[1][q], d[3][q]);
    }
#pragma GCC unroll 4
    for (int r = 0; r < 4; ++r) {
      L::store(v + (r * 4 + 0) * xs, L::sub(t[r][0], t[r][2]));
      L::store(v + (r * 4 + 1) * xs, L::add(t[r][1], t[r][2]));
      L::store(v + (r * 4 + 2) * xs, L::sub(t[r][2], t[r][1]));
      L::store(v + (r * 4 + 3) * xs, L::sub(t[r][1], t[r][3]));
    }
  }

  // F(4 x MX): V = BT4 d BTx^T for one 6 x (MX+2) tile and channels
  // [c, c + L::kW); BTx is F(2,3)'s B^T (MX = 2) or F(3,3)'s (MX = 3).
  template <class L, int MX>
  void transform_group4x(const uint8_t* img, int64_t y0, int64_t x0, int64_t c, int16_t* v) const {
    constexpr int TX = MX + 2;
    const int64_t xs = chunk * IC;  // stride between the position planes
    typename L::T d[6][TX], t[6][TX];
#pragma GCC unroll 6
    for (int r = 0; r < 6; ++r)
#pragma GCC unroll 5
      for (int q = 0; q < TX; ++q) {
        int64_t y = y0 + r, x = x0 + q;
        d[r][q] = (y >= 0 && y < IH && x >= 0 && x < IW) ? L::load(img + (y * IW + x) * IC + c) : L::zero();
      }
    // BT4 rows: [4 0 -5 0 1 0] [0 -4 -4 1 1 0] [0 4 -4 -1 1 0] [0 -2 -1 2 1 0]
    //           [0 2 -1 -2 1 0] [0 4 0 -5 0 1]
#pragma GCC unroll 5
    for (int q = 0; q < TX; ++q) {
      auto d12 = L::add(d[1][q], d[2][q]), d34 = L::add(d[3][q], d[4][q]);
      auto m12 = L::sub(d[1][q], d[2][q]), m43 = L::sub(d[4][q], d[3][q]);
      auto m42 = L::sub(d[4][q], d[2][q]), m31 = L::sub(d[3][q], d[1][q]);
      t[0][q] = L::add(L::sub(L::shl(d[0][q], 2), L::add(L::shl(d[2][q], 2), d[2][q])), d[4][q]);
      t[1][q] = L::sub(d34, L::shl(d12, 2));
      t[2][q] = L::add(m43, L::shl(m12, 2));
      t[3][q] = L::add(m42, L::shl(m31, 1));
      t[4][q] = L::sub(m42, L::shl(m31, 1));
      t[5][q] = L::add(L::sub(L::shl(d[1][q], 2), L::add(L::shl(d[3][q], 2), d[3][q])), d[5][q]);
    }
#pragma GCC unroll 6
    for (int r = 0; r < 6; ++r) {
      int16_t* o = v + r * TX * xs;
      if constexpr (MX == 2) {  // [1 0 -1 0] [0 1 1 0] [0 -1 1 0] [0 1 0 -1]
        L::store(o + 0 * xs, L::sub(t[r][0], t[r][2]));
        L::store(o + 1 * xs, L::add(t[r][1], t[r][2]));
        L::store(o + 2 * xs, L::sub(t[r][2], t[r][1]));
        L::store(o + 3 * xs, L::sub(t[r][1], t[r][3]));
      } else {  // [2 -1 -2 1 0] [0 -2 -1 1 0] [0 2 -3 1 0] [0 -1 0 1 0] [0 2 -1 -2 1]
        auto t3m1 = L::sub(t[r][3], t[r][1]);
        auto t1x2 = L::shl(t[r][1], 1), t2x2 = L::shl(t[r][2], 1);
        L::store(o + 0 * xs, L::add(L::sub(L::shl(t[r][0], 1), t2x2), t3m1));
        L::store(o + 1 * xs, L::sub(L::sub(t[r][3], t[r][2]), t1x2));
        L::store(o + 2 * xs, L::add(L::sub(t1x2, L::add(t2x2, t[r][2])), t[r][3]));
        L::store(o + 3 * xs, t3m1);
        L::store(o + 4 * xs, L::add(L::sub(L::sub(t1x2, t[r][2]), L::shl(t[r][3], 1)), t[r][4]));
      }
    }
  }

  // MX4 = 2 or 3: F(4 x MX4) tiles; 0: F(2x2).
  template <int MX4>
  void input_transform(const uint8_t* src, int64_t t0, int64_t nt, int16_t* V) const {
    for (int64_t i = 0; i < nt; ++i) {
      int64_t n, ty, tx;
      tile_pos(t0 + i, n, ty, tx);
      const int64_t y0 = MY * ty - pt, x0 = MX * tx - pl;
      const uint8_t* img = src + n * IH * IW * IC;
      int64_t c = 0;
      if constexpr (MX4 != 0) {
        for (; c + 16 <= IC; c += 16) transform_group4x<Lanes16, MX4>(img, y0, x0, c, V + i * IC + c);
        for (; c < IC; c += 8) transform_group4x<Lanes8, MX4>(img, y0, x0, c, V + i * IC + c);
      } else {
        for (; c + 16 <= IC; c += 16) transform_group<Lanes16>(img, y0, x0, c, V + i * IC + c);
        for (; c < IC; c += 8) transform_group<Lanes8>(img, y0, x0, c, V + i * IC + c);
      }
    }
  }

  // R rows x 16 output channels of M[xi] = V[xi] (R x IC, int16) U'[xi][ob].
  template <int R>
  void micro(const int16_t* a, const int16_t* b, int32_t* c) const {
    const int64_t K2 = IC / 2, ldc = OCp;
    const int32_t* ar[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) ar[r] = reinterpret_cast<const int32_t*>(a + r * IC);
    __m256i acc[R][2];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
#pragma GCC unroll 2
    for (int64_t k = 0; k < K2; ++k) {
      __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b));
      __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + 16));
      b += 2 * kWinoOcb;
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        __m256i x = _mm256_set1_epi32(ar[r][k]);  // one (ic, ic+1) pair of this tile
        acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(x, b0));
        acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(x, b1));
      }
    }
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + r * ldc), acc[r][0]);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(c + r * ldc + 8), acc[r][1]);
    }
  }


  // 8 int32 accumulators -> 8 saturated u8/s8, as oneDNN's epilogue does it.
  inline void store8(__m256i acc, int64_t c, uint8_t* out) const {
    __m256 v = _mm256_cvtepi32_ps(acc);
    v = _mm256_add_ps(v, _mm256_loadu_ps(bias.data() + c));
    v = _mm256_mul_ps(v, _mm256_loadu_ps(scale.data() + c));
    v = _mm256_min_ps(_mm256_set1_ps(act_hi), _mm256_max_ps(_mm256_set1_ps(act_lo), v));
    v = _mm256_add_ps(v, _mm256_set1_ps(zy));
    v = _mm256_min_ps(_mm256_set1_ps(hi), _mm256_max_ps(_mm256_set1_ps(lo), v));
    __m256i q = _mm256_cvtps_epi32(v);  // round to nearest even (MXCSR default)
    __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    __m128i b = s8_out ? _mm_packs_epi16(w, w) : _mm_packus_epi16(w, w);
    _mm_storel_epi64(reinterpret_cast<__m128i*>(out), b);
  }

  void output_transform(const int32_t* M, int64_t t0, int64_t nt, uint8_t* dst) const {
    const int64_t xs = chunk * OCp;
    for (int64_t i = 0; i < nt; ++i) {
      int64_t n, ty, tx;
      tile_pos(t0 + i, n, ty, tx);
      uint8_t* img = dst + n * OH * OW * OC;
      for (int64_t c = 0; c < OC; c += 8) {
        const int32_t* m = M + i * OCp + c;
        __m256i v[16];
#pragma GCC unroll 16
        for (int xi = 0; xi < 16; ++xi) v[xi] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(m + xi * xs));
        __m256i t[2][4];
#pragma GCC unroll 4
        for (int q = 0; q < 4; ++q) {
          t[0][q] = _mm256_add_epi32(_mm256_add_epi32(v[q], v[4 + q]), v[8 + q]);
          t[1][q] = _mm256_sub_epi32(_mm256_sub_epi32(v[4 + q], v[8 + q]), v[12 + q]);
        }
#pragma GCC unroll 2
        for (int r = 0; r < 2; ++r) {
          int64_t y = 2 * ty + r;
          if (y >= OH) break;
          // A^T M A is exactly 4x the direct accumulator: shift it back.
          __m256i y0 = _mm256_srai_epi32(_mm256_add_epi32(_mm256_add_epi32(t[r][0], t[r][1]), t[r][2]), 2);
          __m256i y1 = _mm256_srai_epi32(_mm256_sub_epi32(_mm256_sub_epi32(t[r][1], t[r][2]), t[r][3]), 2);
          store8(y0, c, img + (y * OW + 2 * tx) * OC + c);
          if (2 * tx + 1 < OW) store8(y1, c, img + (y * OW + 2 * tx + 1) * OC + c);
        }
      }
    }
  }
  // output_transform4x on zmm (x86/avx512/wino_output.cc): 16 channels an
  // instruction; the same operations, so the same bytes.
  void output_transform4x_avx512(const int32_t* M, int64_t t0, int64_t nt, uint8_t* dst) const {
    x86::WinoEpilogue e;
    e.bias = bias.data();
    e.scale = scale.data();
    e.act_lo = act_lo, e.act_hi = act_hi, e.zy = zy, e.lo = lo, e.hi = hi, e.s8_out = s8_out;
    for (int64_t i = 0; i < nt; ++i) {
      int64_t n, ty, tx;
      tile_pos(t0 + i, n, ty, tx);
      const int rows = int(std::min<int64_t>(4, OH - 4 * ty)), cols = int(std::min<int64_t>(mx4, OW - mx4 * tx));
      uint8_t* out = dst + ((n * OH + 4 * ty) * OW + mx4 * tx) * OC;
      x86::wino_output_tile4x_avx512(M + i * OCp, chunk * OCp, mx4, OC, rows, cols, out, OW * OC, e);
    }
  }
  // F(4 x MX): acc = (A4'^T M Ax'^T^T) / S. Along the rows Ax' is F(2,3)'s
  // A^T = [1 1 1 0; 0 1 -1 -1] (MX = 2, factor 2) or the integer
  // A3' = 6 A^T diag(1/s3) = [3 -3 -1 1 0; 0 -3 1 2 0; 0 -3 -1 4 6] (MX = 3,
  // factor 6); down them A4' = [6 -4 -4 1 1 0; 0 -4 4 2 -2 0; 0 -4 -4 4 4 0;
  // 0 -4 4 8 -8 24] (factor 24). The sum is exactly S = 48 or 144 times the
  // accumulator: >> 4, then the exact division by 3 or 9 is a multiplication
  // by its inverse modulo 2^32.
  template <int MX>
  void output_transform4x(const int32_t* M, int64_t t0, int64_t nt, uint8_t* dst) const {
    constexpr int TX = MX + 2;
    const int64_t xs = chunk * OCp;
    const __m256i inv = _mm256_set1_epi32(int32_t(MX == 2 ? 0xAAAAAAABu : 0x38E38E39u));  // 1/3, 1/9 mod 2^32
    auto divide = [&](__m256i v) { return _mm256_mullo_epi32(_mm256_srai_epi32(v, 4), inv); };
    for (int64_t i = 0; i < nt; ++i) {
      int64_t n, ty, tx;
      tile_pos(t0 + i, n, ty, tx);
      uint8_t* img = dst + n * OH * OW * OC;
      for (int64_t c = 0; c < OC; c += 8) {
        const int32_t* m = M + i * OCp + c;
        __m256i s[6][MX];
#pragma GCC unroll 6
        for (int r = 0; r < 6; ++r) {
          __m256i v[TX];
#pragma GCC unroll 5
          for (int q = 0; q < TX; ++q) v[q] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(m + (r * TX + q) * xs));
          if constexpr (MX == 2) {
            s[r][0] = _mm256_add_epi32(_mm256_add_epi32(v[0], v[1]), v[2]);
            s[r][1] = _mm256_sub_epi32(_mm256_sub_epi32(v[1], v[2]), v[3]);
          } else {
            __m256i v1x3 = _mm256_add_epi32(_mm256_slli_epi32(v[1], 1), v[1]);
            s[r][0] = _mm256_add_epi32(_mm256_sub_epi32(_mm256_add_epi32(_mm256_slli_epi32(v[0], 1), v[0]), v1x3),
                                       _mm256_sub_epi32(v[3], v[2]));
            s[r][1] = _mm256_add_epi32(_mm256_sub_epi32(v[2], v1x3), _mm256_slli_epi32(v[3], 1));
            s[r][2] = _mm256_add_epi32(_mm256_sub_epi32(_mm256_slli_epi32(v[3], 2), _mm256_add_epi32(v1x3, v[2])),
                                       _mm256_add_epi32(_mm256_slli_epi32(v[4], 2), _mm256_slli_epi32(v[4], 1)));
          }
        }
#pragma GCC unroll 3
        for (int q = 0; q < MX; ++q) {
          const int64_t x = MX * tx + q;
          if (x >= OW) break;
          __m256i p12 = _mm256_add_epi32(s[1][q], s[2][q]), m12 = _mm256_sub_epi32(s[1][q], s[2][q]);
          __m256i p34 = _mm256_add_epi32(s[3][q], s[4][q]), m34 = _mm256_sub_epi32(s[3][q], s[4][q]);
          __m256i six0 = _mm256_add_epi32(_mm256_slli_epi32(s[0][q], 2), _mm256_slli_epi32(s[0][q], 1));
          __m256i y[4];
          y[0] = _mm256_add_epi32(_mm256_sub_epi32(six0, _mm256_slli_epi32(p12, 2)), p34);
          y[1] = _mm256_sub_epi32(_mm256_slli_epi32(m34, 1), _mm256_slli_epi32(m12, 2));
          y[2] = _mm256_slli_epi32(_mm256_sub_epi32(p34, p12), 2);
          __m256i s5x24 = _mm256_add_epi32(_mm256_slli_epi32(s[5][q], 4), _mm256_slli_epi32(s[5][q], 3));
          y[3] = _mm256_add_epi32(_mm256_sub_epi32(_mm256_slli_epi32(m34, 3), _mm256_slli_epi32(m12, 2)), s5x24);
#pragma GCC unroll 4
          for (int r = 0; r < 4; ++r) {
            const int64_t yy = 4 * ty + r;
            if (yy >= OH) break;
            store8(divide(y[r]), c, img + (yy * OW + x) * OC + c);
          }
        }
      }
    }
  }
};

// U' = (2G) g (2G)^T with 2G = [2 0 0; 1 1 1; 1 -1 1; 0 0 2], packed for
// vpmaddwd: [xi][oc block][ic pair][16 oc][2 ic].
void transform_weights(const int8_t* w, QWino& k) {
  const int64_t OB = k.OCp / kWinoOcb;
  k.U.assign(size_t(16 * OB * k.IC * kWinoOcb), 0);
  for (int64_t oc = 0; oc < k.OC; ++oc)
    for (int64_t ic = 0; ic < k.IC; ++ic) {
      const int8_t* g = w + (oc * k.IC + ic) * 9;
      int tg[4][3];
      for (int c = 0; c < 3; ++c) {
        tg[0][c] = 2 * g[c];
        tg[1][c] = g[c] + g[3 + c] + g[6 + c];
        tg[2][c] = g[c] - g[3 + c] + g[6 + c];
        tg[3][c] = 2 * g[6 + c];
      }
      for (int r = 0; r < 4; ++r) {
        int u[4] = {2 * tg[r][0], tg[r][0] + tg[r][1] + tg[r][2], tg[r][0] - tg[r][1] + tg[r][2], 2 * tg[r][2]};
        for (int q = 0; q < 4; ++q) {
          size_t at = (((size_t(r * 4 + q) * size_t(OB) + size_t(oc / kWinoOcb)) * size_t(k.IC / 2) + size_t(ic / 2)) * kWinoOcb +
                       size_t(oc % kWinoOcb)) * 2 + size_t(ic % 2);
          k.U[at] = int16_t(u[q]);
        }
      }
    }
}

// F(4 x mx): U' = Gs4 g Gx^T with Gs4 = [1 0 0; 1 1 1; 1 -1 1; 1 2 4;
// 1 -2 4; 0 0 1] (F(4,3)'s G, rows times 4, -6, -6, 24, 24, 1) and Gx = 2G of
// F(2,3) or Gs3 = [1 0 0; 1 1 1; 1 -1 1; 1 2 4; 0 0 1] (F(3,3)'s G, rows
// times 2, -2, -6, 6, 1); packed as transform_weights.
void transform_weights4x(const int8_t* w, QWino& k) {
  static const int Gs4[6][3] = {{1, 0, 0}, {1, 1, 1}, {1, -1, 1}, {1, 2, 4}, {1, -2, 4}, {0, 0, 1}};
  static const int G2[4][3] = {{2, 0, 0}, {1, 1, 1}, {1, -1, 1}, {0, 0, 2}};
  static const int Gs3[5][3] = {{1, 0, 0}, {1, 1, 1}, {1, -1, 1}, {1, 2, 4}, {0, 0, 1}};
  const int TX = int(k.mx4) + 2;
  const int(*Gx)[3] = k.mx4 == 3 ? Gs3 : G2;
  const int64_t OB = k.OCp / kWinoOcb;
  k.U.assign(size_t(6 * TX * OB * k.IC * kWinoOcb), 0);
  for (int64_t oc = 0; oc < k.OC; ++oc)
    for (int64_t ic = 0; ic < k.IC; ++ic) {
      const int8_t* g = w + (oc * k.IC + ic) * 9;
      int tg[6][3];  // Gs4 g
      for (int r = 0; r < 6; ++r)
        for (int c = 0; c < 3; ++c) tg[r][c] = Gs4[r][0] * g[c] + Gs4[r][1] * g[3 + c] + Gs4[r][2] * g[6 + c];
      for (int r = 0; r < 6; ++r)
        for (int q = 0; q < TX; ++q) {
          int u = tg[r][0] * Gx[q][0] + tg[r][1] * Gx[q][1] + tg[r][2] * Gx[q][2];
          size_t at = (((size_t(r * TX + q) * size_t(OB) + size_t(oc / kWinoOcb)) * size_t(k.IC / 2) + size_t(ic / 2)) * kWinoOcb +
                       size_t(oc % kWinoOcb)) * 2 + size_t(ic % 2);
          k.U[at] = int16_t(u);
        }
    }
}

// F(4 x mx) is exact while S x every accumulator fits int32 (S = 48 for
// mx = 2, 144 for mx = 3): |acc| <= 255 x sum|w| for u8 input with zero point 0.
bool f4x_exact(const int8_t* w, int64_t OC, int64_t IC, int64_t S) {
  for (int64_t oc = 0; oc < OC; ++oc) {
    int64_t s = 0;
    for (int64_t i = 0; i < IC * 9; ++i) s += std::abs(int(w[oc * IC * 9 + i]));
    if (255 * s * S >= (int64_t(1) << 31)) return false;
  }
  return true;
}

std::unique_ptr<Kernel> make_qwino(BuildCtx& ctx, bool vnni) {
  const std::string mode = winograd_mode();
  if (mode == "0") return nullptr;
  const Node& n = *ctx.node;
  if (ctx.in.size() < 2 || ctx.out.empty() || !ctx.in[1].constant || ctx.in[1].dtype != DType::I8) return nullptr;
  if (ctx.in[0].dtype != DType::U8 || (ctx.out[0].dtype != DType::U8 && ctx.out[0].dtype != DType::I8)) return nullptr;
  if (n.attr_i("x_zero_point", 0) != 0) return nullptr;
  ConvGeom g;
  if (!conv_geom(ctx, g)) return nullptr;
  if (g.sp != 2 || g.group != 1 || g.wei[2] != 3 || g.wei[3] != 3) return nullptr;
  if (g.strides[0] != 1 || g.strides[1] != 1 || g.dil[0] != 0 || g.dil[1] != 0) return nullptr;
  if (g.C % 8 || g.M % 8) return nullptr;
  // vpmaddwd does 16 MACs per instruction against the direct kernel's 32 per
  // 1.5 (vpmaddubsw + vpmaddwd + vpaddd), so the 2.25x fewer MACs only pay
  // for the transforms on larger layers. Measured per layer on googlenet
  // (C8_WINOGRAD=0 vs default): 15-25 % faster from 64 input channels on
  // 14x14 maps up; slower below 64 channels or on 7x7 maps.
  if (mode != "all" && !ctx.tuning && (g.C < 64 || g.dst[2] * g.dst[3] < 14 * 14)) return nullptr;
  if (ctx.in[0].md != md_t(g.src, dt::u8, tag::nhwc)) return nullptr;
  bool has_bias = ctx.in.size() > 2 && ctx.in[2].present();
  if (has_bias && (!ctx.in[2].constant || !is_f32(ctx.in[2]) || shape_numel(ctx.in[2].shape) != g.M)) return nullptr;
  auto k = std::make_unique<QWino>();
  k->vnni = vnni;
  const float sx = n.attr_f("x_scale", 1.f), sy = n.attr_f("y_scale", 1.f);
  const float zy = float(n.attr_i("y_zero_point", 0));
  // Residual sums (and other post-ops) stay with oneDNN's kernel.
  if (!relu_clip_bounds(n, 1.f / sy, k->act_lo, k->act_hi)) return nullptr;
  auto ws = n.attr_floats("w_scales");
  if (ws.size() != 1 && int64_t(ws.size()) != g.M) return nullptr;
  const int8_t* w = ctx.in[1].constant->data<int8_t>();
  const char* tile_env = std::getenv("C8_WINOGRAD_TILE");
  // The largest exact tile: F(4x3), else F(4x2), else F(2x2). F(4x3) only on
  // maps at least 28 wide: its 3-wide tiles waste a column on 14 (and 7),
  // where F(4x2) measured faster (resnet50 layer3: +2 % with F(4x3); layers
  // 1-2, 56 and 28 wide: -7 %, interleaved runs). C8_WINOGRAD_TILE = 4x3 (F(4x3)
  // wherever exact) | 4x2 | 2x2 caps it (A/B runs, tests).
  const std::string tile = tile_env ? tile_env : "";
  const bool try43 = tile == "4x3" || (tile.empty() && g.dst[3] >= 28);
  if (try43 && f4x_exact(w, g.M, g.C, 144)) k->mx4 = 3;
  else if (tile != "2x2" && f4x_exact(w, g.M, g.C, 48)) k->mx4 = 2;
  k->init(g, sizeof(int16_t), sizeof(int32_t), k->mx4 ? 4 : 2, k->mx4 ? k->mx4 : 2);
  k->s8_out = ctx.out[0].dtype == DType::I8;
  k->lo = k->s8_out ? -128.f : 0.f;
  k->hi = k->s8_out ? 127.f : 255.f;
  k->zy = zy;
  k->bias.assign(size_t(k->OCp), 0.f);
  k->scale.assign(size_t(k->OCp), 0.f);
  for (int64_t o = 0; o < g.M; ++o) {
    float w = ws.size() == 1 ? ws[0] : ws[size_t(o)];
    // Same float expressions as the oneDNN path (qconv.cc) for bit-identical results.
    k->scale[size_t(o)] = sx * w / sy;
    if (has_bias) k->bias[size_t(o)] = ctx.in[2].constant->data<float>()[o] / (sx * w);
  }
  if (k->mx4) transform_weights4x(w, *k);
  else transform_weights(w, *k);
  k->precision = std::string("u8s8->") + (k->s8_out ? "s8" : "u8");
  ctx.out[0].md = md_t(g.dst, k->s8_out ? dt::s8 : dt::u8, tag::nhwc);
  return k;
}

std::unique_ptr<Kernel> make_qconv_winograd(BuildCtx& ctx) { return make_qwino(ctx, false); }

// The same kernel with its GEMMs (about three quarters of its time on
// googlenet, perf; the output transform is most of the rest) on vpdpwssd: 16 lanes x 2 MACs an instruction against
// vpmaddwd + vpaddd on 8 lanes. Peaks measured by bench/peak_ops on Zen 4:
// 234 GOPS against 193 for the AVX2 pair. A tuning candidate of its own, so
// the measurement decides between it, the AVX2 form and oneDNN's direct
// convolution on each CPU; C8_WINOGRAD_VNNI=0 leaves it out.
std::unique_ptr<Kernel> make_qconv_winograd_vnni(BuildCtx& ctx) {
  const char* e = std::getenv("C8_WINOGRAD_VNNI");
  if ((e && std::string(e) == "0") || !cpu_has_avx512_vnni()) return nullptr;
  return make_qwino(ctx, true);
}

C8_REGISTER_FAST_KERNEL("QConv", 111, make_qconv_winograd_vnni);
C8_REGISTER_FAST_KERNEL("QConv", 110, make_qconv_winograd);

}  // namespace
}  // namespace c8::dnnlk
