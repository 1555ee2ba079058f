// calibr8::QAdd (passes/fuse_qdq.cc step 4b): the residual Add of a QDQ model
// on uint8/int8 tensors, y = Q(act(DQ(a) + DQ(b))).
//
// Like ONNX Runtime's QLinearAdd (MLAS qladd.cpp folds the three scales into
// two ratios), the kernel does not dequantize: with ka = sa/sy, kb = sb/sy,
//   y = sat(rne(a*ka + (b*kb + c))),  c = zy - za*ka - zb*kb,
// in float with two FMAs, and Relu/Clip become a clamp in output units. It
// equals the reference DQ -> Add -> Q except where the real value lies within
// float rounding of a .5 tie (tests/runtime/qadd_test.cc bounds that at one
// LSB on a tiny fraction of elements), and costs ~10 vector ops per 8
// elements instead of ~22 with a divide: 4.1 -> 1.x ms over resnet50's 16 Adds.
// Both inputs must share a layout (a u8->u8 reorder brings b to a's
// otherwise); the output takes it.
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "runtime/kernels/onednn/common.h"
#include "runtime/kernels/x86/avx2/qadd_math.h"

namespace c8::dnnlk {

bool QAddMath::init(float sa, float za, float sb, float zb, float sy, float zy, float act_lo, float act_hi, bool y_s8) {
  if (!(sa > 0) || !(sb > 0) || !(sy > 0) || !std::isfinite(sa / sy) || !std::isfinite(sb / sy)) return false;
  ka = sa / sy;
  kb = sb / sy;
  c = zy - za * ka - zb * kb;
  // Relu/Clip in output units, intersected with the output type's range
  // (the clamp also keeps the float -> int32 conversion in range).
  lo = std::max(y_s8 ? -128.f : 0.f, act_lo / sy + zy);
  hi = std::min(y_s8 ? 127.f : 255.f, act_hi / sy + zy);
  return lo <= hi;
}

namespace {

template <bool S8>
__m256 load8(const uint8_t* p) {
  __m128i v = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p));
  return _mm256_cvtepi32_ps(S8 ? _mm256_cvtepi8_epi32(v) : _mm256_cvtepu8_epi32(v));
}

template <bool AS8, bool BS8, bool YS8>
void qadd_loop(const QAddMath& m, const uint8_t* a, const uint8_t* b, uint8_t* y, int64_t n) {
  const __m256 ka = _mm256_set1_ps(m.ka), kb = _mm256_set1_ps(m.kb), c = _mm256_set1_ps(m.c), lo = _mm256_set1_ps(m.lo),
               hi = _mm256_set1_ps(m.hi);
  auto one = [&](const uint8_t* pa, const uint8_t* pb) {
    __m256 v = _mm256_fmadd_ps(load8<AS8>(pa), ka, _mm256_fmadd_ps(load8<BS8>(pb), kb, c));
    v = _mm256_min_ps(hi, _mm256_max_ps(lo, v));
    return _mm256_cvtps_epi32(v);  // round half to even (MXCSR default)
  };
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {
    __m256i q0 = one(a + i, b + i), q1 = one(a + i + 8, b + i + 8);
    // in-lane packs: [q0.lo q1.lo q0.hi q1.hi] as int16, then bytes
    __m256i w = _mm256_packs_epi32(q0, q1);
    __m128i w0 = _mm256_castsi256_si128(w), w1 = _mm256_extracti128_si256(w, 1);
    __m128i bytes = YS8 ? _mm_packs_epi16(w0, w1) : _mm_packus_epi16(w0, w1);
    // bytes = q0[0..3] q1[0..3] q0[4..7] q1[4..7]: restore element order
    bytes = _mm_shuffle_epi32(bytes, _MM_SHUFFLE(3, 1, 2, 0));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(y + i), bytes);
  }
  for (; i < n; ++i) {
    float fa = AS8 ? float(int8_t(a[i])) : float(a[i]), fb = BS8 ? float(int8_t(b[i])) : float(b[i]);
    float q = m.eval(fa, fb);
    if (YS8) reinterpret_cast<int8_t*>(y)[i] = int8_t(q);
    else y[i] = uint8_t(q);
  }
}

}  // namespace

void qadd_run(const QAddMath& m, const uint8_t* a, bool a_s8, const uint8_t* b, bool b_s8, uint8_t* y, bool y_s8, int64_t n) {
  // Blocks of 64 KB over the threads; element-wise, so any split gives the
  // same bytes.
  constexpr int64_t kBlock = 1 << 16;
  const int64_t blocks = (n + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static) if (blocks > 1)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t o = blk * kBlock, len = std::min(kBlock, n - o);
    switch (int(a_s8) * 4 + int(b_s8) * 2 + int(y_s8)) {
      case 0: qadd_loop<false, false, false>(m, a + o, b + o, y + o, len); break;
      case 1: qadd_loop<false, false, true>(m, a + o, b + o, y + o, len); break;
      case 2: qadd_loop<false, true, false>(m, a + o, b + o, y + o, len); break;
      case 3: qadd_loop<false, true, true>(m, a + o, b + o, y + o, len); break;
      case 4: qadd_loop<true, false, false>(m, a + o, b + o, y + o, len); break;
      case 5: qadd_loop<true, false, true>(m, a + o, b + o, y + o, len); break;
      case 6: qadd_loop<true, true, false>(m, a + o, b + o, y + o, len); break;
      default: qadd_loop<true, true, true>(m, a + o, b + o, y + o, len); break;
    }
  }
}

namespace {

struct QAddKernel : Kernel {
  QAddMath m;
  bool a_s8 = false, b_s8 = false, y_s8 = false;
  int64_t n = 0;
  LayoutAdapter b_ad;

  void execute(KernelIO& io) override {
    dnnl::memory bm = b_ad.convert(*io.stream, io.in[1]);
    if (b_ad.needed()) io.stream->wait();
    qadd_run(m, static_cast<const uint8_t*>(io.in[0].get_data_handle()), a_s8,
             static_cast<const uint8_t*>(bm.get_data_handle()), b_s8, static_cast<uint8_t*>(io.out[0].get_data_handle()),
             y_s8, n);
  }
  std::string impl() const override {
    return std::string("c8:qadd_avx2 ") + (a_s8 ? "s8" : "u8") + "+" + (b_s8 ? "s8" : "u8") + "->" + (y_s8 ? "s8" : "u8") +
           (b_ad.needed() ? " +reorder" : "");
  }
};

std::unique_ptr<Kernel> make_qadd(BuildCtx& ctx) {
  const Node& nd = *ctx.node;
  if (ctx.in.size() != 2 || ctx.out.empty()) return nullptr;
  DType ta = ctx.in[0].dtype, tb = ctx.in[1].dtype, ty = ctx.out[0].dtype;
  auto q8 = [](DType t) { return t == DType::U8 || t == DType::I8; };
  if (!q8(ta) || !q8(tb) || !q8(ty) || ctx.in[0].shape != ctx.in[1].shape) return nullptr;
  const md_t& am = ctx.in[0].md;
  if (!is_flat_dense(am)) return nullptr;
  auto k = std::make_unique<QAddKernel>();
  float act_lo = 0, act_hi = 0;
  if (!relu_clip_bounds(nd, 1.f, act_lo, act_hi)) return nullptr;  // real units here
  const float sa = nd.attr_f("x_scale", 1.f), sb = nd.attr_f("b_scale", 1.f), sy = nd.attr_f("y_scale", 1.f);
  const float za = float(nd.attr_i("x_zero_point", 0)), zb = float(nd.attr_i("b_zero_point", 0)),
              zy = float(nd.attr_i("y_zero_point", 0));
  if (!k->m.init(sa, za, sb, zb, sy, zy, act_lo, act_hi, ty == DType::I8)) return nullptr;
  k->a_s8 = ta == DType::I8;
  k->b_s8 = tb == DType::I8;
  k->y_s8 = ty == DType::I8;
  k->n = int64_t(shape_numel(ctx.in[0].shape));
  try {
    k->b_ad = LayoutAdapter(*ctx.engine, ctx.in[1].md, with_dtype(am, to_dnnl(tb)));
    ctx.out[0].md = with_dtype(am, to_dnnl(ty));
  } catch (const dnnl::error&) {
    return nullptr;
  }
  return k;
}

C8_REGISTER_FAST_KERNEL("QAdd", 100, make_qadd);

}  // namespace
}  // namespace c8::dnnlk
