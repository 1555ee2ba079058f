// INT8 QConv for few input channels (the 3-channel stem of image models) as
// im2col + a u8s8 GEMM (AVX2), bit-identical to oneDNN's direct INT8 conv.
//
// oneDNN 2.6's AVX2 INT8 direct kernel vectorises over input channels, so
// with C = 3 most of each vector is padding: resnet50's 7x7/2 stem ran at
// ~85 GOPS (half this core's u8s8 peak) and googlenet's at ~60 (it has a
// source zero point). Here each output pixel's receptive field
// (C x kh x kw = 147 bytes for the stem) becomes one GEMM row, so the
// reduction runs over all 147 values at full vector width -- the layout
// ONNX Runtime's MLAS also uses for such convs (im2col + QGEMM).
//
// Arithmetic, per output pixel p and output channel o:
//   acc = sum_k x[p, k] * w[o, k]  -  zx * sum_k w[o, k]      (int32, exact;
//         padding reads as zx, so it adds nothing -- ONNX pads with real 0)
// then oneDNN's epilogue: float(acc) + bias (accumulator units), times the
// per-channel output scale, Relu/Clip, + output zero point, saturate, round
// half to even. The GEMM uses vpmaddubsw (u8*s8 pairs summed in int16), which
// saturates when |w0| + |w1| > 128 for a pair; such weights are left to
// qconv.cc (calibration gives the first layer 7-bit weights on CPUs without
// VNNI, see quant/). On AVX-512 VNNI the GEMM is x86/avx512/qconv_rows_vnni.cc
// instead (vpdpbusd: exact for any int8 weights, 64 channels a tile): there
// oneDNN 2.6's VNNI direct kernel runs resnet50's stem at ~440 GOPS, half
// the core's peak, for the same reason.
//
// Scope: 2-D, groups 1, C < 8, u8 input in plain NCHW (transposed to NHWC
// first, ~0.05 ms for a 224x224 image) or NHWC, u8/s8 output (NHWC),
// Relu/Clip or nothing after it, receptive field C*kh*kw >= 64 (see
// make_qconv_im2col). C8_IM2COL=0 disables it, =all lifts the size rule (tests).
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "runtime/kernels/onednn/common.h"
#include "runtime/kernels/x86/avx512/qconv_rows_vnni.h"

namespace c8::dnnlk {
namespace {

constexpr int kOcb = 16;   // output channels per GEMM block (two ymm of int32)
constexpr int kRows = 6;   // pixels per micro-kernel call (12 accumulators; 4 measured 5-10 % slower)
constexpr int kChunk = 60; // pixels per im2col buffer (L1-sized, a multiple of kRows)
constexpr int kSlack = 32; // bytes a run copy may write past its end
// A row's bytes K..Kp-1 (reduction padding) are never cleared: whatever a
// copy's spill leaves there meets zero weights, adds 0 and cannot saturate a
// vpmaddubsw pair (its partner product is the only one).

struct Run {
  int64_t src;  // offset from the pixel's top-left input element
  int dst, len; // position in the GEMM row, length in bytes
  // One kernel row's consecutive columns kx0, kx0 + 1, ..., all C channels
  // each (NHWC without horizontal dilation): border pixels copy the part
  // inside the image in one piece. ky < 0: not of that form.
  int ky = -1, kx0 = 0;
};

struct QIm2col : Kernel {
  // geometry
  int64_t N = 0, C = 0, IH = 0, IW = 0, OC = 0, OCp = 0, OH = 0, OW = 0;
  int64_t KH = 0, KW = 0, sh = 1, sw = 1, dh = 1, dw = 1, pt = 0, pl = 0;
  int64_t sC = 0, sH = 0, sW = 0, img = 0;  // input strides (elements) and image size
  int64_t K = 0, Kp = 0;                    // reduction length, padded to a multiple of 4
  std::vector<int64_t> koff;                // per GEMM column: input offset
  std::vector<int> kky, kkx;                // per GEMM column: kernel row / column
  std::vector<Run> runs;                    // contiguous pieces of an interior row
  int64_t max_read = 0;                     // furthest byte an interior row copy touches
  uint8_t zx = 0;
  // packed weights [OCp/16][Kp/4][16 oc][4 k], per-channel compensation and epilogue
  std::vector<int8_t> B;
  std::vector<int32_t> comp;
  std::vector<float> bias, scale;
  float hi = 255, zy = 0;  // saturation (the low one is the packs') and output zero point
  float act_lo = -3.4028235e38f, act_hi = 3.4028235e38f;
  bool s8_out = false;
  bool vnni = false;             // the GEMM runs qconv_rows_vnni
  // VNNI: each run is padded to whole 4-byte groups (pad columns meet zero
  // weights, so whatever bytes they read add 0), so an interior pixel's GEMM
  // row can be read straight from the image, no copy: group g at
  // koff_direct[g] from the pixel's top-left input element (or at
  // koff_buf[g] = 4g in an im2col row, for border pixels).
  std::vector<int32_t> koff_direct, koff_buf;
  int64_t max_read_direct = 0;   // furthest byte a direct row reads
  int64_t ox_lo = 0, ox_hi = 0;  // output columns inside the image horizontally: [ox_lo, ox_hi)
  bool nchw_in = false;          // transposed to NHWC first (C > 1)
  std::vector<uint8_t> nhwc;     // that copy
  std::string precision;
  std::vector<std::vector<uint8_t>> abuf;
  std::vector<std::pair<const void*, size_t>> prepared_data() const override {  // packed at load
    return {bytes_of(B), bytes_of(comp), bytes_of(bias), bytes_of(scale)};
  }

  // 16 pixels at a time of three planes -> RGBRGB...: each 16-byte output
  // piece gathers its bytes from the three planes with one pshufb each.
  // Returns the pixels done (a multiple of 16).
  static int64_t interleave3(const uint8_t* p0, const uint8_t* p1, const uint8_t* p2, int64_t n, uint8_t* out) {
    alignas(16) static const auto masks = [] {
      std::array<std::array<std::array<int8_t, 16>, 3>, 3> m{};  // [piece][plane][byte]
      for (int piece = 0; piece < 3; ++piece)
        for (int plane = 0; plane < 3; ++plane)
          for (int i = 0; i < 16; ++i) {
            const int pos = piece * 16 + i;
            m[size_t(piece)][size_t(plane)][size_t(i)] = pos % 3 == plane ? int8_t(pos / 3) : int8_t(-128);
          }
      return m;
    }();
    int64_t x = 0;
    for (; x + 16 <= n; x += 16) {
      const __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p0 + x));
      const __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p1 + x));
      const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p2 + x));
      for (int piece = 0; piece < 3; ++piece) {
        const auto& m = masks[size_t(piece)];
        const __m128i v = _mm_or_si128(
            _mm_or_si128(_mm_shuffle_epi8(a, _mm_loadu_si128(reinterpret_cast<const __m128i*>(m[0].data()))),
                         _mm_shuffle_epi8(b, _mm_loadu_si128(reinterpret_cast<const __m128i*>(m[1].data())))),
            _mm_shuffle_epi8(c, _mm_loadu_si128(reinterpret_cast<const __m128i*>(m[2].data()))));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + x * 3 + piece * 16), v);
      }
    }
    return x;
  }

  // NCHW -> NHWC, so a kernel row's C x KW values are one contiguous run
  // (21 bytes for the stem) instead of C runs of KW.
  const uint8_t* to_nhwc(const uint8_t* src) {
    nhwc.resize(size_t(N * img));
    const int64_t HW = IH * IW, rows = N * IH;
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t n = r / IH, y = r % IH;
      const uint8_t* in = src + n * img + y * IW;
      uint8_t* out = nhwc.data() + (n * HW + y * IW) * C;
      int64_t x = 0;
      if (C == 3) x = interleave3(in, in + HW, in + 2 * HW, IW, out);
      for (; x < IW; ++x)
        for (int64_t c = 0; c < C; ++c) out[x * C + c] = in[c * HW + x];
    }
    return nhwc.data();
  }

  std::string impl() const override {
    return std::string("c8:im2col_gemm:") + (vnni ? "avx512_vnni " : "avx2 ") + precision;
  }
  std::string contract() const override { return "int8-exact"; }  // bit-identical to oneDNN (QConvIm2col tests)

  // GEMM row for output pixel (n, oy, ox).
  void im2col_row(const uint8_t* src, int64_t n, int64_t oy, int64_t ox, uint8_t* row) const {
    const int64_t y0 = oy * sh - pt, x0 = ox * sw - pl;
    const uint8_t* base = src + n * img;
    const bool interior = y0 >= 0 && x0 >= 0 && y0 + (KH - 1) * dh < IH && x0 + (KW - 1) * dw < IW;
    if (interior) {
      const uint8_t* p = base + y0 * sH + x0 * sW;
      const uint8_t* end = src + N * img;
      if (p + max_read <= end) {
        // Fixed-width copies (the spill past a run's end is overwritten by
        // the next run or lands in the row's slack).
        for (const Run& r : runs) {
          const uint8_t* s = p + r.src;
          uint8_t* d = row + r.dst;
          if (r.len <= 8) std::memcpy(d, s, 8);
          else if (r.len <= 16) std::memcpy(d, s, 16);
          else if (r.len <= 32) std::memcpy(d, s, 32);
          else std::memcpy(d, s, size_t(r.len));
        }
        return;
      }
    }
    // Border pixel: padding reads as zx.
    for (const Run& r : runs) {
      if (r.ky >= 0) {
        const int64_t y = y0 + r.ky * dh, ncol = r.len / C;
        const int64_t a = std::max<int64_t>(0, -x0 - r.kx0), b = std::min<int64_t>(ncol, IW - x0 - r.kx0);
        if (y < 0 || y >= IH || a >= b) {
          std::memset(row + r.dst, zx, size_t(r.len));
          continue;
        }
        std::memset(row + r.dst, zx, size_t(a * C));
        std::memcpy(row + r.dst + a * C, base + y * sH + (x0 + r.kx0 + a) * sW, size_t((b - a) * C));
        std::memset(row + r.dst + b * C, zx, size_t((ncol - b) * C));
        continue;
      }
      for (int64_t k = r.dst; k < r.dst + r.len; ++k) {
        const int64_t y = y0 + kky[size_t(k)] * dh, x = x0 + kkx[size_t(k)] * dw;
        row[k] = (y >= 0 && y < IH && x >= 0 && x < IW) ? base[y0 * sH + x0 * sW + koff[size_t(k)]] : zx;
      }
    }
  }

  // The epilogue's constants, loaded once per chunk: stores through uint8_t*
  // may alias anything, so the compiler would reload members per call.
  struct Epi {
    __m256 act_lo, act_hi, zy, hi;
  };
  Epi epi() const { return {_mm256_set1_ps(act_lo), _mm256_set1_ps(act_hi), _mm256_set1_ps(zy), _mm256_set1_ps(hi)}; }

  // 8 accumulators of channels [c, c+8) -> 8 saturated bytes, as oneDNN's
  // epilogue. The clamp to the low bound is left to the saturating packs
  // (a value below it, even one that cvtps2dq turns into INT_MIN, packs to
  // lo); the high bound stays, as INT_MIN would pack to lo too.
  inline void store8(const Epi& e, __m256i acc, int64_t c, uint8_t* out, int64_t count) const {
    acc = _mm256_sub_epi32(acc, _mm256_loadu_si256(reinterpret_cast<const __m256i*>(comp.data() + c)));
    __m256 v = _mm256_cvtepi32_ps(acc);
    v = _mm256_add_ps(v, _mm256_loadu_ps(bias.data() + c));
    v = _mm256_mul_ps(v, _mm256_loadu_ps(scale.data() + c));
    v = _mm256_min_ps(e.act_hi, _mm256_max_ps(e.act_lo, v));
    v = _mm256_min_ps(e.hi, _mm256_add_ps(v, e.zy));
    __m256i q = _mm256_cvtps_epi32(v);  // round to nearest even (MXCSR default)
    __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
    __m128i bytes = s8_out ? _mm_packs_epi16(w, w) : _mm_packus_epi16(w, w);
    if (count >= 8) {
      _mm_storel_epi64(reinterpret_cast<__m128i*>(out), bytes);
    } else {
      alignas(16) uint8_t t[16];
      _mm_store_si128(reinterpret_cast<__m128i*>(t), bytes);
      std::memcpy(out, t, size_t(count));
    }
  }

  // R pixels x 16 output channels [c0, c0 + 16): row_r . B block, then the
  // epilogue straight from the registers into the NHWC output rows (out,
  // stride OC).
  template <int R>
  void micro(const uint8_t* a, const int8_t* b, const Epi& e, int64_t c0, uint8_t* out) const {
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i acc[R][2];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
    const int64_t K4 = Kp / 4;
    for (int64_t k = 0; k < K4; ++k) {
      const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + k * 64));
      const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(b + k * 64 + 32));
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) {
        int32_t four;
        std::memcpy(&four, a + r * (Kp + kSlack) + k * 4, 4);
        const __m256i x = _mm256_set1_epi32(four);
        acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(_mm256_maddubs_epi16(x, b0), ones));
        acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(_mm256_maddubs_epi16(x, b1), ones));
      }
    }
    const int64_t n0 = std::min<int64_t>(8, OC - c0), n1 = std::min<int64_t>(8, OC - c0 - 8);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      store8(e, acc[r][0], c0, out + r * OC + c0, n0);
      if (n1 > 0) store8(e, acc[r][1], c0 + 8, out + r * OC + c0 + 8, n1);
    }
  }

  // VNNI: output pixels [p0, p0 + np), one output row at a time: the pixels
  // whose receptive field lies inside the image read it in place, the others
  // go through im2col rows.
  void chunk_run_vnni(const uint8_t* src, uint8_t* dst, int64_t p0, int64_t np, uint8_t* rows) const {
    x86::QRowsEpilogue ev;
    ev.comp = comp.data();
    ev.bias = bias.data();
    ev.scale = scale.data();
    ev.act_lo = act_lo;
    ev.act_hi = act_hi;
    ev.zy = zy;
    ev.hi = hi;
    ev.s8_out = s8_out;
    const int64_t ld = Kp + kSlack;
    const uint8_t* end = src + N * img;
    auto via_rows = [&](int64_t n, int64_t oy, int64_t x0, int64_t x1) {
      for (int64_t x = x0; x < x1; ++x) im2col_row(src, n, oy, x, rows + (x - x0) * ld);
      if (x1 > x0) x86::qconv_rows_vnni(rows, ld, x1 - x0, koff_buf.data(), B.data(), Kp, OC, ev,
                                        dst + ((n * OH + oy) * OW + x0) * OC);
    };
    for (int64_t i = 0; i < np;) {
      const int64_t p = p0 + i, n = p / (OH * OW), oy = p % (OH * OW) / OW, ox = p % OW;
      const int64_t seg = std::min(np - i, OW - ox);
      const int64_t y0 = oy * sh - pt;
      int64_t d0 = ox + seg, d1 = ox + seg;  // the in-place part [d0, d1)
      if (y0 >= 0 && y0 + (KH - 1) * dh < IH) {
        // capped at the segment's end: a chunk may end inside the left
        // padding border, and the pixels past it belong to the next chunk
        // (another thread)
        d0 = std::min(std::max(ox, ox_lo), ox + seg);
        d1 = std::max(d0, std::min(ox + seg, ox_hi));
        const uint8_t* row0 = src + n * img + y0 * sH;
        while (d1 > d0 && row0 + (d1 - 1) * sw * sW - pl * sW + max_read_direct > end) --d1;  // the last bytes of the input
      }
      via_rows(n, oy, ox, d0);
      if (d1 > d0)
        x86::qconv_rows_vnni(src + n * img + y0 * sH + (d0 * sw - pl) * sW, sw * sW, d1 - d0, koff_direct.data(),
                             B.data(), Kp, OC, ev, dst + ((n * OH + oy) * OW + d0) * OC);
      via_rows(n, oy, d1, ox + seg);
      i += seg;
    }
  }

  void chunk_run(const uint8_t* src, uint8_t* dst, int64_t p0, int64_t np, uint8_t* rows) const {
    if (vnni) return chunk_run_vnni(src, dst, p0, np, rows);
    const int64_t ld = Kp + kSlack;
    int64_t n = p0 / (OH * OW), oy = p0 % (OH * OW) / OW, ox = p0 % OW;
    for (int64_t i = 0; i < np; ++i) {
      im2col_row(src, n, oy, ox, rows + i * ld);
      if (++ox == OW) {
        ox = 0;
        if (++oy == OH) oy = 0, ++n;
      }
    }
    const Epi e = epi();
    for (int64_t ob = 0; ob < OCp / kOcb; ++ob) {
      const int8_t* b = B.data() + ob * Kp * kOcb;
      const int64_t c0 = ob * kOcb;
      for (int64_t i = 0; i < np; i += kRows) {
        const uint8_t* a = rows + i * ld;
        uint8_t* o = dst + (p0 + i) * OC;  // NHWC: pixels in order, channels inner
        switch (std::min<int64_t>(kRows, np - i)) {
          case 6: micro<6>(a, b, e, c0, o); break;
          case 5: micro<5>(a, b, e, c0, o); break;
          case 4: micro<4>(a, b, e, c0, o); break;
          case 3: micro<3>(a, b, e, c0, o); break;
          case 2: micro<2>(a, b, e, c0, o); break;
          default: micro<1>(a, b, e, c0, o); break;
        }
      }
    }
  }

  void execute(KernelIO& io) override {
    const uint8_t* src = static_cast<const uint8_t*>(io.in[0].get_data_handle());
    if (nchw_in) src = to_nhwc(src);
    uint8_t* dst = static_cast<uint8_t*>(io.out[0].get_data_handle());
    const int64_t P = N * OH * OW, nchunks = (P + kChunk - 1) / kChunk;
    const int nt = std::max(1, std::min<int>(omp_get_max_threads(), int(nchunks)));
    if (abuf.size() < size_t(nt)) abuf.resize(size_t(nt));
    // Each pixel is computed by one thread the same way: results do not
    // depend on the thread count.
#pragma omp parallel num_threads(nt)
    {
      std::vector<uint8_t>& rows = abuf[size_t(omp_get_thread_num())];
      if (rows.size() < size_t(kChunk * (Kp + kSlack))) rows.resize(size_t(kChunk * (Kp + kSlack)));
#pragma omp for schedule(static)
      for (int64_t c = 0; c < nchunks; ++c)
        chunk_run(src, dst, c * kChunk, std::min<int64_t>(kChunk, P - c * kChunk), rows.data());
    }
  }
};

std::unique_ptr<Kernel> make_qconv_im2col(BuildCtx& ctx) {
  const char* env = std::getenv("C8_IM2COL");
  const std::string mode = env ? env : "";
  if (mode == "0") return nullptr;
  if (!cpu_isa_at_least(dnnl::cpu_isa::avx2)) return nullptr;
  const Node& n = *ctx.node;
  if (ctx.in.size() < 2 || ctx.out.empty() || !ctx.in[1].constant || ctx.in[1].dtype != DType::I8) return nullptr;
  if (ctx.in[0].dtype != DType::U8 || (ctx.out[0].dtype != DType::U8 && ctx.out[0].dtype != DType::I8)) return nullptr;
  ConvGeom g;
  if (!conv_geom(ctx, g)) return nullptr;
  if (g.sp != 2 || g.group != 1 || g.C >= 8) return nullptr;
  const md_t& in_md = ctx.in[0].md;
  const bool nchw = in_md == md_t(g.src, dt::u8, tag::nchw), nhwc = in_md == md_t(g.src, dt::u8, tag::nhwc);
  if (!nchw && !nhwc) return nullptr;
  const bool has_bias = ctx.in.size() > 2 && ctx.in[2].present();
  if (has_bias && (!ctx.in[2].constant || !is_f32(ctx.in[2]) || shape_numel(ctx.in[2].shape) != g.M)) return nullptr;
  const int64_t zx = n.attr_i("x_zero_point", 0);
  if (zx < 0 || zx > 255) return nullptr;
  auto ws = n.attr_floats("w_scales");
  if (ws.size() != 1 && int64_t(ws.size()) != g.M) return nullptr;
  auto k = std::make_unique<QIm2col>();
  const float sx = n.attr_f("x_scale", 1.f), sy = n.attr_f("y_scale", 1.f);
  if (!relu_clip_bounds(n, 1.f / sy, k->act_lo, k->act_hi)) return nullptr;  // no residual sum here

  QIm2col& q = *k;
  q.N = g.src[0];
  q.C = g.C;
  q.IH = g.src[2];
  q.IW = g.src[3];
  q.OC = g.M;
  q.OCp = (g.M + kOcb - 1) / kOcb * kOcb;
  q.OH = g.dst[2];
  q.OW = g.dst[3];
  q.KH = g.wei[2];
  q.KW = g.wei[3];
  q.sh = g.strides[0];
  q.sw = g.strides[1];
  q.dh = g.dil[0] + 1;
  q.dw = g.dil[1] + 1;
  q.pt = g.pl[0];
  q.pl = g.pl[1];
  q.img = q.C * q.IH * q.IW;
  q.nchw_in = nchw && q.C > 1;
  q.sC = 1;  // NHWC (or transposed to it)
  q.sH = q.IW * q.C;
  q.sW = q.C;
  q.K = q.C * q.KH * q.KW;
  q.Kp = (q.K + 3) / 4 * 4;
  q.vnni = cpu_has_avx512_vnni();
  // Only long receptive fields pay for the row copies and the per-pixel
  // epilogue (measured, 1 thread): 7x7x3 stems (K = 147) 2.8 -> 2.2 ms on
  // resnet50, 3.9 -> 2.1 on googlenet; but the 3x3x3 stem of mobilenet_v2
  // (K = 27) 0.40 -> 0.70 ms and the 3x3x1 one of the default model (K = 9)
  // 0.025 -> 0.033 ms, where oneDNN's direct kernel stays.
  if (mode != "all" && q.K < 64) return nullptr;
  q.zx = uint8_t(zx);

  // GEMM columns in input-memory order, so an interior row is a few
  // contiguous runs (KH runs of KW*C bytes without dilation).
  struct Col {
    int64_t off;
    int c, ky, kx;
  };
  std::vector<Col> cols;
  for (int c = 0; c < q.C; ++c)
    for (int ky = 0; ky < q.KH; ++ky)
      for (int kx = 0; kx < q.KW; ++kx) cols.push_back({c * q.sC + ky * q.dh * q.sH + kx * q.dw * q.sW, c, ky, kx});
  std::stable_sort(cols.begin(), cols.end(), [](const Col& a, const Col& b) { return a.off < b.off; });
  for (size_t i = 0; i < cols.size(); ++i) {
    q.koff.push_back(cols[i].off);
    q.kky.push_back(cols[i].ky);
    q.kkx.push_back(cols[i].kx);
    if (i > 0 && cols[i].off == cols[i - 1].off + 1) {
      q.runs.back().len++;
    } else {
      q.runs.push_back({cols[i].off, int(i), 1});
    }
  }
  // Runs of whole pixels of one kernel row (see Run::ky): checked column by column.
  for (Run& r : q.runs) {
    bool simple = q.dw == 1 && r.len % q.C == 0;
    const Col& c0 = cols[size_t(r.dst)];
    for (int i = 0; simple && i < r.len; ++i) {
      const Col& c = cols[size_t(r.dst + i)];
      simple = c.ky == c0.ky && c.kx == c0.kx + i / q.C && c.c == i % q.C;
    }
    if (simple) {
      r.ky = c0.ky;
      r.kx0 = c0.kx;
    }
  }
  for (const Run& r : q.runs) {
    int w = r.len <= 8 ? 8 : r.len <= 16 ? 16 : r.len <= 32 ? 32 : r.len;
    q.max_read = std::max(q.max_read, r.src + w);
  }
  // GEMM column of cols[i]: i, or with VNNI's padded runs (see koff_direct)
  // the run's padded start plus the place in the run.
  std::vector<int64_t> pos(cols.size());
  std::iota(pos.begin(), pos.end(), int64_t(0));
  if (q.vnni) {
    int pd = 0;
    for (Run& r : q.runs) {
      const int padded = (r.len + 3) / 4 * 4;
      for (int i = 0; i < r.len; ++i) pos[size_t(r.dst + i)] = pd + i;
      for (int g = 0; g < padded / 4; ++g) q.koff_direct.push_back(int32_t(r.src + 4 * g));
      q.max_read_direct = std::max(q.max_read_direct, r.src + padded);
      r.dst = pd;
      pd += padded;
    }
    q.Kp = pd;
    q.koff.assign(size_t(q.Kp), 0);
    q.kky.assign(size_t(q.Kp), 0);
    q.kkx.assign(size_t(q.Kp), 0);
    for (size_t i = 0; i < cols.size(); ++i) {
      q.koff[size_t(pos[i])] = cols[i].off;
      q.kky[size_t(pos[i])] = cols[i].ky;
      q.kkx[size_t(pos[i])] = cols[i].kx;
    }
    for (int64_t g = 0; g < q.Kp / 4; ++g) q.koff_buf.push_back(int32_t(4 * g));
    // ox * sw - pl >= 0 and ox * sw - pl + (KW - 1) * dw <= IW - 1
    q.ox_lo = (q.pl + q.sw - 1) / q.sw;
    const int64_t last = q.IW - 1 - (q.KW - 1) * q.dw + q.pl;
    q.ox_hi = last < 0 ? 0 : std::min(q.OW, last / q.sw + 1);
  }

  // Weights: ONNX [M][C][KH][KW] -> GEMM column order, checked for vpmaddubsw
  // pair saturation, packed [OCp/16][Kp/4][16][4].
  const int8_t* w = ctx.in[1].constant->data<int8_t>();
  std::vector<int8_t> wk(size_t(q.OC * q.Kp), 0);
  for (int64_t o = 0; o < q.OC; ++o)
    for (int64_t i = 0; i < q.K; ++i) {
      const Col& c = cols[size_t(i)];
      wk[size_t(o * q.Kp + pos[size_t(i)])] = w[((o * q.C + c.c) * q.KH + c.ky) * q.KW + c.kx];
    }
  if (!q.vnni && u8s8_pairs_may_saturate(wk.data(), q.OC, q.Kp, q.Kp, 1, 1)) return nullptr;
  q.B.assign(size_t(q.OCp * q.Kp), 0);
  for (int64_t o = 0; o < q.OC; ++o)
    for (int64_t i = 0; i < q.Kp; ++i)
      q.B[size_t(((o / kOcb) * (q.Kp / 4) + i / 4) * (kOcb * 4) + (o % kOcb) * 4 + i % 4)] = wk[size_t(o * q.Kp + i)];
  q.comp.assign(size_t(q.OCp), 0);
  q.bias.assign(size_t(q.OCp), 0.f);
  q.scale.assign(size_t(q.OCp), 0.f);
  for (int64_t o = 0; o < q.OC; ++o) {
    int32_t s = 0;
    for (int64_t i = 0; i < q.Kp; ++i) s += wk[size_t(o * q.Kp + i)];  // padding columns hold 0
    q.comp[size_t(o)] = int32_t(zx) * s;
    const float wsc = ws.size() == 1 ? ws[0] : ws[size_t(o)];
    // Same float expressions as the oneDNN path (qconv.cc) for bit-identical results.
    q.scale[size_t(o)] = sx * wsc / sy;
    if (has_bias) q.bias[size_t(o)] = ctx.in[2].constant->data<float>()[o] / (sx * wsc);
  }
  q.s8_out = ctx.out[0].dtype == DType::I8;
  q.hi = q.s8_out ? 127.f : 255.f;
  q.zy = float(n.attr_i("y_zero_point", 0));
  q.precision = std::string("u8s8->") + (q.s8_out ? "s8" : "u8");
  ctx.out[0].md = md_t(g.dst, q.s8_out ? dt::s8 : dt::u8, tag::nhwc);
  return k;
}

C8_REGISTER_FAST_KERNEL("QConv", 105, make_qconv_im2col);

}  // namespace
}  // namespace c8::dnnlk
