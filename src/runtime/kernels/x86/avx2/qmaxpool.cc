// calibr8's own max pooling of NHWC uint8/int8 tensors (AVX2). It competes
// with oneDNN's u8 pooling (onednn/qpool.cc) under the same "int8-exact"
// contract: max is exact in any order.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <string>

#include "runtime/kernels/onednn/common.h"

namespace c8::dnnlk {
namespace {

bool is_q(const ValueInfo& v) { return v.dtype == DType::U8 || v.dtype == DType::I8; }

// 2-D max pooling of an NHWC 8-bit tensor, 32 channels per AVX2 vector
// (vpmaxub / vpmaxsb) and one pass over each output row's window rows.
// oneDNN 2.6's jit_int:avx2 pooling took 0.13 ms for resnet50's 3x3/2 pool
// (112x112x64 u8) here, about 4x the time to read its input once; googlenet
// has 14 such pools. Max is exact in any order; padding is skipped (ONNX
// pads MaxPool with -inf).
struct QMaxPoolNhwc : Kernel {
  int64_t N = 0, C = 0, IH = 0, IW = 0, OH = 0, OW = 0, KH = 0, KW = 0, SH = 1, SW = 1, PH = 0, PW = 0;
  bool s8 = false;

  template <bool S8>
  void rows(const uint8_t* x, uint8_t* y, int64_t r) const {
    const int64_t n = r / OH, oh = r % OH;
    const int64_t h0 = oh * SH - PH, hl = std::max<int64_t>(0, h0), hh = std::min<int64_t>(IH, h0 + KH);
    const uint8_t* img = x + n * IH * IW * C;
    uint8_t* out = y + r * OW * C;
    for (int64_t ow = 0; ow < OW; ++ow) {
      const int64_t w0 = ow * SW - PW, wl = std::max<int64_t>(0, w0), wh = std::min<int64_t>(IW, w0 + KW);
      int64_t c = 0;
      for (; c + 32 <= C; c += 32) {
        __m256i m = _mm256_set1_epi8(S8 ? char(-128) : 0);
        for (int64_t ih = hl; ih < hh; ++ih)
          for (int64_t iw = wl; iw < wh; ++iw) {
            const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(img + (ih * IW + iw) * C + c));
            m = S8 ? _mm256_max_epi8(m, v) : _mm256_max_epu8(m, v);
          }
        _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + ow * C + c), m);
      }
      for (; c < C; ++c) {
        int v = S8 ? -128 : 0;
        for (int64_t ih = hl; ih < hh; ++ih)
          for (int64_t iw = wl; iw < wh; ++iw) {
            const uint8_t b = img[(ih * IW + iw) * C + c];
            v = std::max(v, S8 ? int(int8_t(b)) : int(b));
          }
        out[ow * C + c] = uint8_t(v);
      }
    }
  }

  void execute(KernelIO& io) override {
    const uint8_t* x = static_cast<const uint8_t*>(io.in[0].get_data_handle());
    uint8_t* y = static_cast<uint8_t*>(io.out[0].get_data_handle());
    const int64_t R = N * OH;
#pragma omp parallel for schedule(static) if (R * OW * C > (1 << 16))
    for (int64_t r = 0; r < R; ++r) {
      if (s8) rows<true>(x, y, r);
      else rows<false>(x, y, r);
    }
  }
  std::string impl() const override { return s8 ? "c8:maxpool_nhwc_avx2 s8->s8" : "c8:maxpool_nhwc_avx2 u8->u8"; }
  std::string contract() const override { return "int8-exact"; }  // byte-identical to oneDNN's (QMaxPool tests)
};

std::unique_ptr<Kernel> make_qmaxpool_nhwc(BuildCtx& ctx) {
  const Node& n = *ctx.node;
  if (n.op != "MaxPool" || ctx.in.empty() || ctx.out.empty() || !is_q(ctx.in[0]) || ctx.out[0].dtype != ctx.in[0].dtype)
    return nullptr;
  for (size_t i = 1; i < ctx.out.size(); ++i)
    if (ctx.out[i].present()) return nullptr;  // MaxPool Indices
  if (!n.post_ops.empty() || !cpu_isa_at_least(dnnl::cpu_isa::avx2)) return nullptr;
  const char* env = std::getenv("C8_QMAXPOOL");  // "0": oneDNN's pooling (to compare)
  if (env && std::string(env) == "0") return nullptr;
  const Shape& xs = ctx.in[0].shape;
  const Shape& ys = ctx.out[0].shape;
  if (xs.size() != 4) return nullptr;
  const dt t = ctx.in[0].dtype == DType::U8 ? dt::u8 : dt::s8;
  if (ctx.in[0].md != md_t(to_dims(xs), t, tag::nhwc)) return nullptr;
  PoolGeometry pg;
  if (!pool_geometry(n, n.op, xs, ys, pg) || !pg.is_max || pg.dil[0] != 0 || pg.dil[1] != 0) return nullptr;
  if (pg.pl[0] >= pg.kernel[0] || pg.pl[1] >= pg.kernel[1]) return nullptr;  // every window holds a pixel
  auto k = std::make_unique<QMaxPoolNhwc>();
  k->N = xs[0];
  k->C = xs[1];
  k->IH = xs[2];
  k->IW = xs[3];
  k->OH = ys[2];
  k->OW = ys[3];
  k->KH = pg.kernel[0];
  k->KW = pg.kernel[1];
  k->SH = pg.strides[0];
  k->SW = pg.strides[1];
  k->PH = pg.pl[0];
  k->PW = pg.pl[1];
  k->s8 = t == dt::s8;
  ctx.out[0].md = md_t(to_dims(ys), t, tag::nhwc);
  return k;
}

C8_REGISTER_FAST_KERNEL("MaxPool", 95, make_qmaxpool_nhwc);

}  // namespace
}  // namespace c8::dnnlk
