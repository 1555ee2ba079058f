// LRN (across channels) on dnnl::lrn_forward, in the arriving layout.
// ONNX: y = x / (bias + alpha/size * sum_{window} x^2)^beta, the window being
// [c - floor((size-1)/2), c + ceil((size-1)/2)]. oneDNN's across-channel LRN
// also divides alpha by local_size, so alpha is passed unchanged (verified
// against the reference in tests). oneDNN's window is symmetric
// ((size-1)/2 each side), which equals ONNX's only for odd sizes: even sizes
// go to the reference kernel.
#include "runtime/kernels/onednn/common.h"

namespace c8::dnnlk {
namespace {

struct LrnKernel : Kernel {
  dnnl::lrn_forward::primitive_desc pd;
  dnnl::lrn_forward prim;
  PostChain chain;
  void execute(KernelIO& io) override {
    dnnl::stream& s = *io.stream;
    prim.execute(s, {{DNNL_ARG_SRC, io.in[0]}, {DNNL_ARG_DST, io.out[0]}});
    if (!chain.empty()) chain.run(s, io, io.out[0]);
  }
  std::string impl() const override { return impl_of(pd); }
};

std::unique_ptr<Kernel> make_lrn(BuildCtx& ctx) {
  const Node& n = *ctx.node;
  const dnnl::engine& eng = *ctx.engine;
  if (ctx.in.empty() || ctx.out.empty() || !is_f32(ctx.in[0]) || !is_f32(ctx.out[0])) return nullptr;
  const Shape& xs = ctx.in[0].shape;
  if (xs.size() < 3 || xs.size() > 5 || ctx.out[0].shape != xs || shape_numel(xs) <= 0) return nullptr;
  int64_t size = n.attr_i("size", 0);
  if (size < 1 || size % 2 == 0) return nullptr;
  float alpha = n.attr_f("alpha", 1e-4f), beta = n.attr_f("beta", 0.75f), bias = n.attr_f("bias", 1.f);
  auto k = std::make_unique<LrnKernel>();
  try {
    const md_t& md = ctx.in[0].md;
    k->pd = dnnl::lrn_forward::primitive_desc(
        dnnl::lrn_forward::desc(dnnl::prop_kind::forward_inference, dnnl::algorithm::lrn_across_channels, md, size, alpha,
                                beta, bias),
        eng);
    k->prim = dnnl::lrn_forward(k->pd);
    if (k->pd.dst_desc() != md) return nullptr;
    if (!k->chain.init(ctx, md)) return nullptr;
    ctx.out[0].md = md;
  } catch (const dnnl::error&) {
    return nullptr;
  }
  return k;
}

C8_REGISTER_FAST_KERNEL("LRN", 100, make_lrn);

}  // namespace
}  // namespace c8::dnnlk
