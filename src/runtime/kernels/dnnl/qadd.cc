// calibr8::QAdd (passes/fuse_qdq.cc step 4b): the residual Add of a QDQ model
// on uint8/int8 tensors, y = Q(act(DQ(a) + DQ(b))), 8 elements per step with
// the reference kernel's float operations in the same order (so bit-identical
// to it): (q - zp) * scale for each input, add, Relu/Clip, / y_scale, round
// half to even, + y_zero_point, saturate. Memory-bound: one pass over two
// 8-bit inputs instead of two dequantizing reorders, a float add and a
// quantizing pass. Both inputs must share a layout (a u8->u8 reorder brings b
// to a's otherwise); the output takes it.
#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "runtime/kernels/dnnl/common.h"

namespace c8::dnnlk {
namespace {

struct QAddKernel : Kernel {
  float sa = 1, sb = 1, sy = 1, za = 0, zb = 0, zy = 0;
  float act_lo = -3.4028235e38f, act_hi = 3.4028235e38f;
  bool a_s8 = false, b_s8 = false, y_s8 = false;
  int64_t n = 0;
  LayoutAdapter b_ad;

  static __m256 load8(const void* p, bool s8) {
    __m128i v = _mm_loadl_epi64(static_cast<const __m128i*>(p));
    return _mm256_cvtepi32_ps(s8 ? _mm256_cvtepi8_epi32(v) : _mm256_cvtepu8_epi32(v));
  }
  static float load1(const void* p, int64_t i, bool s8) {
    return s8 ? float(static_cast<const int8_t*>(p)[i]) : float(static_cast<const uint8_t*>(p)[i]);
  }

  void execute(KernelIO& io) override {
    dnnl::memory bm = b_ad.convert(*io.stream, io.in[1]);
    if (b_ad.needed()) io.stream->wait();
    const uint8_t* a = static_cast<const uint8_t*>(io.in[0].get_data_handle());
    const uint8_t* b = static_cast<const uint8_t*>(bm.get_data_handle());
    uint8_t* y = static_cast<uint8_t*>(io.out[0].get_data_handle());
    const float lo = y_s8 ? -128.f : 0.f, hi = y_s8 ? 127.f : 255.f;
    const __m256 vsa = _mm256_set1_ps(sa), vsb = _mm256_set1_ps(sb), vsy = _mm256_set1_ps(sy),
                 vza = _mm256_set1_ps(za), vzb = _mm256_set1_ps(zb), vzy = _mm256_set1_ps(zy),
                 alo = _mm256_set1_ps(act_lo), ahi = _mm256_set1_ps(act_hi), vlo = _mm256_set1_ps(lo),
                 vhi = _mm256_set1_ps(hi);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
      __m256 fa = _mm256_mul_ps(_mm256_sub_ps(load8(a + i, a_s8), vza), vsa);
      __m256 fb = _mm256_mul_ps(_mm256_sub_ps(load8(b + i, b_s8), vzb), vsb);
      // The barrier keeps GCC (-ffp-contract=fast by default) from fusing the
      // multiply into the add as an FMA: one rounding instead of two would
      // differ from DQ -> Add in the last bit, and so at rounding ties.
      asm("" : "+x"(fb));
      __m256 v = _mm256_add_ps(fa, fb);
      // reference: x < lo ? lo : (x > hi ? hi : x)  (Relu: lo = 0)
      v = _mm256_blendv_ps(v, alo, _mm256_cmp_ps(v, alo, _CMP_LT_OQ));
      v = _mm256_blendv_ps(v, ahi, _mm256_cmp_ps(v, ahi, _CMP_GT_OQ));
      v = _mm256_round_ps(_mm256_div_ps(v, vsy), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      v = _mm256_add_ps(v, vzy);
      v = _mm256_min_ps(vhi, _mm256_max_ps(vlo, v));
      __m256i q = _mm256_cvttps_epi32(v);
      __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(q), _mm256_extracti128_si256(q, 1));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(y + i), y_s8 ? _mm_packs_epi16(w, w) : _mm_packus_epi16(w, w));
    }
    for (; i < n; ++i) {
      float fa = (load1(a, i, a_s8) - za) * sa, fb = (load1(b, i, b_s8) - zb) * sb;
      asm("" : "+x"(fb));  // no FMA contraction (see above)
      float v = fa + fb;
      v = v < act_lo ? act_lo : (v > act_hi ? act_hi : v);
      float q = std::nearbyint(v / sy) + zy;
      if (std::isnan(q)) q = 0.f;
      q = std::min(hi, std::max(lo, q));
      if (y_s8) reinterpret_cast<int8_t*>(y)[i] = int8_t(q);
      else y[i] = uint8_t(q);
    }
  }
  std::string impl() const override {
    return std::string("c8:qadd_avx2 ") + (a_s8 ? "s8" : "u8") + "+" + (b_s8 ? "s8" : "u8") + "->" + (y_s8 ? "s8" : "u8") +
           (b_ad.needed() ? " +reorder" : "");
  }
};

// A descriptor whose buffer holds exactly its elements (no padding), so the
// kernel can run over it as a flat array.
bool dense(const md_t& md) {
  size_t elems = 1;
  for (int i = 0; i < md.data.ndims; ++i) elems *= size_t(md.data.dims[i]);
  return md.data.format_kind == dnnl_blocked && md.get_size() == elems;
}

std::unique_ptr<Kernel> make_qadd(BuildCtx& ctx) {
  const Node& nd = *ctx.node;
  if (ctx.in.size() != 2 || ctx.out.empty()) return nullptr;
  DType ta = ctx.in[0].dtype, tb = ctx.in[1].dtype, ty = ctx.out[0].dtype;
  auto q8 = [](DType t) { return t == DType::U8 || t == DType::I8; };
  if (!q8(ta) || !q8(tb) || !q8(ty) || ctx.in[0].shape != ctx.in[1].shape) return nullptr;
  const md_t& am = ctx.in[0].md;
  if (!dense(am)) return nullptr;
  auto k = std::make_unique<QAddKernel>();
  if (!relu_clip_bounds(nd, 1.f, k->act_lo, k->act_hi)) return nullptr;  // real units here
  k->sa = nd.attr_f("x_scale", 1.f);
  k->za = float(nd.attr_i("x_zero_point", 0));
  k->sb = nd.attr_f("b_scale", 1.f);
  k->zb = float(nd.attr_i("b_zero_point", 0));
  k->sy = nd.attr_f("y_scale", 1.f);
  k->zy = float(nd.attr_i("y_zero_point", 0));
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
