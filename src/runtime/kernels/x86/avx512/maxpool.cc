// calibr8's own 2-D max pooling of 8-bit tensors on AVX-512, as a tuning
// candidate next to oneDNN's u8 pooling (onednn/qpool.cc) and the AVX2 kernel
// (x86/avx2/qmaxpool.cc), under their "int8-exact" contract: max is exact in
// any order.
//
// Why: on AMD Zen 5 oneDNN 2.6's jit_int:avx512_core pooling took 0.13 ms
// for googlenet's 12 u8 MaxPools after the stem, several times the time to
// read their inputs once. Here each output row walks its input columns once
// per 64-byte slice of the pixel (the C channels of NHWC, or a channel
// block), takes a column's max over the window rows in a register and slides
// the width-3 window along the row: KH loads per input column and one store
// per output vector, no per-channel loop (measured per node: 0.005-0.007 ms
// against oneDNN's 0.010 for googlenet's 14x14 pools).
// The same kernel on FP32 lost to oneDNN's pooling, which is bound by memory
// traffic there (googlenet's 112x112x64 pool: 0.06 ms), so it is 8-bit only.
//
// Padding is skipped (ONNX pads MaxPool with -inf); the factory needs pads
// smaller than the kernel, so every window holds an input pixel.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "runtime/kernels/onednn/common.h"

// GCC 12's AVX-512 headers build pass-through operands from uninitialised
// variables (_mm512_undefined_*) and warn about their own code when inlined.
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

#define C8_AVX512BW __attribute__((target("avx512f,avx512bw")))

namespace c8::dnnlk {
namespace {

enum class Elem { U8, S8 };

template <Elem E>
C8_AVX512BW inline __m512i vmax(__m512i a, __m512i b) {
  if constexpr (E == Elem::U8) return _mm512_max_epu8(a, b);
  else return _mm512_max_epi8(a, b);
}

// One output row, one 64-byte slice [c, c + 64) of every pixel (masked by
// k at the pixel's tail). vcol(iw) is input column iw's max over the window
// rows, in a register; interior windows of width 3 (nearly every CNN's max
// pool) slide, so each column is read once per output row at stride 1 and
// the shared edge column is reused at stride 2.
// Column max over the window rows (lambdas do not inherit the target attribute).
template <Elem E>
C8_AVX512BW inline __m512i column_max(const uint8_t* p, int64_t rowb, int64_t nrows, __mmask64 k) {
  __m512i m = _mm512_maskz_loadu_epi8(k, p);
  for (int64_t i = 1; i < nrows; ++i) m = vmax<E>(m, _mm512_maskz_loadu_epi8(k, p + i * rowb));
  return m;
}

template <Elem E>
C8_AVX512BW void row_slice(const uint8_t* top, int64_t rowb, int64_t nrows, int64_t pix, int64_t c, __mmask64 k,
                           int64_t IW, int64_t OW, int64_t KW, int64_t SW, int64_t PW, uint8_t* out) {
  const uint8_t* base = top + c;
#define vcol(iw) column_max<E>(base + (iw) * pix, rowb, nrows, k)
  // A window clipped by the padding, or of any width.
  const auto window = [&](int64_t ow) C8_AVX512BW {
    const int64_t w0 = ow * SW - PW, wl = std::max<int64_t>(0, w0), wh = std::min<int64_t>(IW, w0 + KW);
    __m512i m = vcol(wl);
    for (int64_t iw = wl + 1; iw < wh; ++iw) m = vmax<E>(m, vcol(iw));
    _mm512_mask_storeu_epi8(out + ow * pix + c, k, m);
  };
  // Outputs whose window lies inside the row: [lo, hi).
  const int64_t lo = std::min<int64_t>(OW, (PW + SW - 1) / SW);
  const int64_t hi = std::max<int64_t>(lo, std::min<int64_t>(OW, IW + PW - KW >= 0 ? (IW + PW - KW) / SW + 1 : 0));
  for (int64_t ow = 0; ow < lo; ++ow) window(ow);
  int64_t ow = lo;
  if (KW == 3 && SW == 1 && hi > lo) {
    __m512i a = vcol(lo - PW), b = vcol(lo - PW + 1);
    for (; ow < hi; ++ow) {
      const __m512i cc = vcol(ow - PW + 2);
      _mm512_mask_storeu_epi8(out + ow * pix + c, k, vmax<E>(vmax<E>(a, b), cc));
      a = b, b = cc;
    }
  } else if (KW == 3 && SW == 2 && hi > lo) {
    __m512i a = vcol(2 * lo - PW);
    for (; ow < hi; ++ow) {
      const int64_t w0 = 2 * ow - PW;
      const __m512i cc = vcol(w0 + 2);
      _mm512_mask_storeu_epi8(out + ow * pix + c, k, vmax<E>(vmax<E>(a, vcol(w0 + 1)), cc));
      a = cc;
    }
  }
  for (; ow < OW; ++ow) window(ow);
#undef vcol
}

struct MaxPoolAvx512 : Kernel {
  Elem e = Elem::U8;
  int64_t P = 0, IH = 0, IW = 0, L = 0, OH = 0, OW = 0;  // P planes of IH x IW pixels of L values
  int64_t KH = 0, KW = 0, SH = 1, SW = 1, PH = 0, PW = 0;
  std::string layout;

  template <Elem E>
  void row(const uint8_t* x, uint8_t* y, int64_t r) const {
    const int64_t p = r / OH, oh = r % OH;
    const int64_t pix = L, rowb = IW * pix;
    const int64_t h0 = oh * SH - PH, hl = std::max<int64_t>(0, h0), hh = std::min<int64_t>(IH, h0 + KH);
    const uint8_t* top = x + (p * IH + hl) * rowb;
    uint8_t* out = y + r * OW * pix;
    for (int64_t c = 0; c < pix; c += 64) {
      const __mmask64 k = pix - c >= 64 ? ~__mmask64(0) : (~__mmask64(0)) >> (64 - (pix - c));
      row_slice<E>(top, rowb, hh - hl, pix, c, k, IW, OW, KW, SW, PW, out);
    }
  }

  void execute(KernelIO& io) override {
    const uint8_t* x = static_cast<const uint8_t*>(io.in[0].get_data_handle());
    uint8_t* y = static_cast<uint8_t*>(io.out[0].get_data_handle());
    const int64_t R = P * OH;
#pragma omp parallel for schedule(static) if (R * OW * L > (1 << 17))
    for (int64_t r = 0; r < R; ++r) {
      if (e == Elem::U8) row<Elem::U8>(x, y, r);
      else row<Elem::S8>(x, y, r);
    }
  }
  std::string impl() const override {
    return std::string("c8:maxpool_avx512 ") + (e == Elem::U8 ? "u8->u8 " : "s8->s8 ") + layout;
  }
  std::string contract() const override { return "int8-exact"; }  // equal to oneDNN's byte for byte (QMaxPool tests)
};

// L bytes per pixel and P planes of the input's layout: NHWC (L = C) or
// channel-blocked nChw<b>c (L = b, a plane per block; b = 1 is plain NCHW).
bool pixel_layout(const md_t& md, const Shape& s, int64_t& P, int64_t& L, std::string& name) {
  int64_t c = 0, blk = 0;
  if (is_channels_last_dense(md, &c)) {
    P = s[0], L = c, name = "nhwc";
    return true;
  }
  if (is_nc_dense(md, &blk)) {
    P = s[0] * (s[1] / blk), L = blk, name = blk == 1 ? "nchw" : "nChw" + std::to_string(blk) + "c";
    return true;
  }
  return false;
}

std::unique_ptr<Kernel> make_maxpool_avx512(BuildCtx& ctx) {
  const Node& n = *ctx.node;
  if (n.op != "MaxPool" || ctx.in.empty() || ctx.out.empty() || !n.post_ops.empty()) return nullptr;
  for (size_t i = 1; i < ctx.out.size(); ++i)
    if (ctx.out[i].present()) return nullptr;  // MaxPool Indices
  const DType t = ctx.in[0].dtype;
  if ((t != DType::U8 && t != DType::I8) || ctx.out[0].dtype != t) return nullptr;
  if (!cpu_isa_at_least(dnnl::cpu_isa::avx512_core) || !__builtin_cpu_supports("avx512bw")) return nullptr;
  const char* env = std::getenv("C8_MAXPOOL_AVX512");  // "0": leave pooling to the others (to compare)
  if (env && std::string(env) == "0") return nullptr;
  const Shape& xs = ctx.in[0].shape;
  const Shape& ys = ctx.out[0].shape;
  if (xs.size() != 4 || ys.size() != 4) return nullptr;
  PoolGeometry pg;
  if (!pool_geometry(n, n.op, xs, ys, pg) || !pg.is_max || pg.dil[0] != 0 || pg.dil[1] != 0) return nullptr;
  if (pg.pl[0] >= pg.kernel[0] || pg.pl[1] >= pg.kernel[1]) return nullptr;  // every window holds a pixel
  // ceil_mode with a stride above the kernel can start the last window past the input.
  if ((ys[2] - 1) * pg.strides[0] - pg.pl[0] >= xs[2] || (ys[3] - 1) * pg.strides[1] - pg.pl[1] >= xs[3]) return nullptr;
  auto k = std::make_unique<MaxPoolAvx512>();
  k->e = t == DType::U8 ? Elem::U8 : Elem::S8;
  const md_t& src = ctx.in[0].md;
  if (!pixel_layout(src, xs, k->P, k->L, k->layout)) return nullptr;
  // Fewer than 32 bytes a pixel would leave most of each vector idle
  // (plain NCHW, or few channels): not this kernel's case.
  if (k->L < 32) return nullptr;
  const md_t dst = md_like(src, to_dims(ys));
  int64_t P2 = 0, L2 = 0;
  std::string name2;
  if (dst.data.ndims == 0 || !pixel_layout(dst, ys, P2, L2, name2) || P2 != k->P || L2 != k->L) return nullptr;
  k->IH = xs[2], k->IW = xs[3], k->OH = ys[2], k->OW = ys[3];
  k->KH = pg.kernel[0], k->KW = pg.kernel[1], k->SH = pg.strides[0], k->SW = pg.strides[1];
  k->PH = pg.pl[0], k->PW = pg.pl[1];
  ctx.out[0].md = dst;
  return k;
}

// Below the AVX2 kernel (95) and oneDNN's pooling (90): with --tune off the fixed
// rules run what they ran before; timing picks this where it wins.
C8_REGISTER_FAST_KERNEL("MaxPool", 85, make_maxpool_avx512);

}  // namespace
}  // namespace c8::dnnlk
