// QuantizeLinear / DequantizeLinear left over after passes/fuse_qdq.cc (the
// borders of FP32 islands, the model input) as one oneDNN reorder with output
// scales and zero points. The output keeps the arriving layout (NHWC stays
// NHWC), so an island costs one pass over the tensor each way.
// Numerics: oneDNN computes q = round_half_even(x * (1/s) + zp) where ONNX
// computes round_half_even(x / s) + zp: identical except at exact .5 ties with
// an odd zero point or a last-ulp difference of 1/s (<= 1 LSB, rare).
// Per-axis scales are supported with zero points that are all 0.
#include "runtime/kernels/dnnl/common.h"

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

std::unique_ptr<Kernel> make_q(BuildCtx& ctx) {
  if (ctx.in.empty() || ctx.out.empty() || !is_f32(ctx.in[0])) return nullptr;
  DType ot = ctx.out[0].dtype;
  if (ot != DType::U8 && ot != DType::I8) return nullptr;
  std::vector<float> s;
  int64_t zp;
  int mask;
  if (!const_params(ctx, int(ctx.in[0].shape.size()), s, zp, mask)) return nullptr;
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
