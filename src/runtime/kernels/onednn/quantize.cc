// QuantizeLinear / DequantizeLinear left over after passes/fuse_qdq.cc (the
// borders of FP32 islands, the model input) as one oneDNN reorder with output
// scales and zero points. The output keeps the arriving layout (NHWC stays
// NHWC), so an island costs one pass over the tensor each way.
// Numerics: ONNX computes q = saturate(round_half_even(x / s) + zp). A oneDNN
// reorder computes saturate(round_half_even(x * (1/s) + zp)) instead, which
// differs by 1 LSB at every exact .5 tie when zp is odd (the tie rounds to
// the even q instead of the even q - zp) and wherever x * (1/s) and x / s
// differ in the last ulp across a rounding boundary. Such ties are not rare:
// 8-bit images normalised as (p - 127.5) / 127.5 with s = 2/255 land on a
// tie for every pixel, and calibration gives zp 127 -- oneDNN's model-input
// quantizer was off by 1 LSB on ~75 % of mobilenet_v1's input, > 1 LSB after
// the stem conv and ~40 % of the deeper tensors. So per-tensor QuantizeLinear
// on a layout without padding runs the exact ONNX formula here (AVX2:
// division, round half to even, + zp, saturate, NaN -> 0 as in
// ops/ref/quantize.cc); other cases (per-axis scales, zero points all 0;
// padded blocked layouts) keep the reorder.
// DequantizeLinear is a oneDNN reorder: (q - zp) * s in f32, exact as ONNX.
// Per-axis scales are supported with zero points that are all 0.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "runtime/kernels/onednn/common.h"
#include "runtime/kernels/x86/avx2/quantize.h"

namespace c8::dnnlk {
namespace {

struct QKernel : Kernel {
  dnnl::reorder prim;
  std::string name;
  void execute(KernelIO& io) override { prim.execute(*io.stream, io.in[0], io.out[0]); }
  std::string impl() const override { return name; }
};

bool const_params(const BuildCtx& ctx, int axis_rank, std::vector<float>& s, int64_t& zp, int& mask) {
  const Node& n = *ctx.node;
  if (ctx.in.size() < 2 || !ctx.in[1].constant || ctx.in[1].dtype != DType::F32) return false;
  const Tensor& st = *ctx.in[1].constant;
  s.clear();
  for (int64_t i = 0; i < st.numel(); ++i) s.push_back(float(st.get_f64(i)));
  zp = 0;
  bool per_axis = st.numel() != 1 || st.rank() > 1;
  mask = 0;
  if (per_axis) {
    int64_t ax = n.attr_i("axis", 1);
    if (ax < 0) ax += axis_rank;
    if (ax < 0 || ax >= axis_rank || st.rank() != 1) return false;
    mask = 1 << ax;
  }
  if (ctx.in.size() > 2 && ctx.in[2].present()) {
    if (!ctx.in[2].constant) return false;
    const Tensor& z = *ctx.in[2].constant;
    if (per_axis) {
      for (int64_t i = 0; i < z.numel(); ++i)
        if (z.get_i64(i) != 0) return false;
    } else {
      zp = z.get_i64(0);
    }
  }
  for (float x : s)
    if (!(x > 0.f)) return false;
  return true;
}

md_t keep_layout(const ValueInfo& in, DType out_t) {
  return with_dtype(in.md, to_dnnl(out_t));
}

// Per-tensor quantization of a dense f32 buffer into the same layout.
struct QExactKernel : Kernel {
  int64_t n = 0;
  float s = 1.f;
  int32_t zp = 0;
  bool u8 = true;
  void execute(KernelIO& io) override {
    const float* x = static_cast<const float*>(io.in[0].get_data_handle());
    void* y = io.out[0].get_data_handle();
    if (u8) x86::quantize_f32_avx2(x, static_cast<uint8_t*>(y), n, s, zp);
    else x86::quantize_f32_avx2(x, static_cast<int8_t*>(y), n, s, zp);
  }
  std::string impl() const override { return std::string("c8:quantize_avx2 f32->") + (u8 ? "u8" : "s8"); }
};

std::unique_ptr<Kernel> make_q(BuildCtx& ctx) {
  if (ctx.in.empty() || ctx.out.empty() || !is_f32(ctx.in[0])) return nullptr;
  DType ot = ctx.out[0].dtype;
  if (ot != DType::U8 && ot != DType::I8) return nullptr;
  std::vector<float> s;
  int64_t zp;
  int mask;
  if (!const_params(ctx, int(ctx.in[0].shape.size()), s, zp, mask)) return nullptr;
  const md_t& in_md = ctx.in[0].md;
  int64_t numel = 1;
  for (auto d : ctx.in[0].shape) numel *= d;
  if (mask == 0 && s.size() == 1 && numel > 0 && in_md.get_size() == size_t(numel) * sizeof(float) &&
      zp >= (ot == DType::U8 ? 0 : -128) && zp <= (ot == DType::U8 ? 255 : 127)) {
    // Dense (no padded elements): quantize the buffer as it is, layout kept.
    auto k = std::make_unique<QExactKernel>();
    k->n = numel;
    k->s = s[0];
    k->zp = int32_t(zp);
    k->u8 = ot == DType::U8;
    ctx.out[0].md = keep_layout(ctx.in[0], ot);
    return k;
  }
  for (float& x : s) x = 1.f / x;
  dnnl::primitive_attr attr;
  attr.set_output_scales(mask, s);
  if (zp) attr.set_zero_points(DNNL_ARG_DST, 0, {int32_t(zp)});
  auto k = std::make_unique<QKernel>();
  md_t dst = keep_layout(ctx.in[0], ot);
  auto pd = dnnl::reorder::primitive_desc(*ctx.engine, ctx.in[0].md, *ctx.engine, dst, attr);
  k->prim = dnnl::reorder(pd);
  k->name = impl_of(pd) + std::string(" f32->") + (ot == DType::U8 ? "u8" : "s8");
  ctx.out[0].md = dst;
  return k;
}

std::unique_ptr<Kernel> make_dq(BuildCtx& ctx) {
  if (ctx.in.empty() || ctx.out.empty() || !is_f32(ctx.out[0])) return nullptr;
  DType it = ctx.in[0].dtype;
  if (it != DType::U8 && it != DType::I8 && it != DType::I32) return nullptr;
  std::vector<float> s;
  int64_t zp;
  int mask;
  if (!const_params(ctx, int(ctx.in[0].shape.size()), s, zp, mask)) return nullptr;
  dnnl::primitive_attr attr;
  attr.set_output_scales(mask, s);
  if (zp) attr.set_zero_points(DNNL_ARG_SRC, 0, {int32_t(zp)});
  auto k = std::make_unique<QKernel>();
  md_t dst = keep_layout(ctx.in[0], DType::F32);
  auto pd = dnnl::reorder::primitive_desc(*ctx.engine, ctx.in[0].md, *ctx.engine, dst, attr);
  k->prim = dnnl::reorder(pd);
  k->name = impl_of(pd) + std::string(" ") + (it == DType::U8 ? "u8" : it == DType::I8 ? "s8" : "s32") + "->f32";
  ctx.out[0].md = dst;
  return k;
}

C8_REGISTER_FAST_KERNEL("QuantizeLinear", 100, make_q);
C8_REGISTER_FAST_KERNEL("DequantizeLinear", 100, make_dq);

}  // namespace
}  // namespace c8::dnnlk
