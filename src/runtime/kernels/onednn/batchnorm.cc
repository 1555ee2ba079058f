// BatchNormalization (inference) on dnnl::batch_normalization_forward with
// use_global_stats | use_scale | use_shift, in the arriving layout. A single
// fused Relu post-op uses fuse_norm_relu; other post-ops run unfused.
// Scale/B/mean/var constants are copied once at build time; run-time inputs
// are used directly (plain 1-D).
#include <unordered_map>

#include "runtime/kernels/onednn/common.h"

namespace c8::dnnlk {
namespace {

struct BnKernel : Kernel {
  dnnl::batch_normalization_forward::primitive_desc pd;
  dnnl::batch_normalization_forward prim;
  dnnl::memory consts[5];  // index = node input (1..4), empty = run-time
  View views[5];
  PostChain chain;
  void execute(KernelIO& io) override {
    dnnl::stream& s = *io.stream;
    auto get = [&](int i) -> dnnl::memory { return consts[i] ? consts[i] : views[i].of(io.in[size_t(i)]); };
    prim.execute(s, {{DNNL_ARG_SRC, io.in[0]},
                     {DNNL_ARG_SCALE, get(1)},
                     {DNNL_ARG_SHIFT, get(2)},
                     {DNNL_ARG_MEAN, get(3)},
                     {DNNL_ARG_VARIANCE, get(4)},
                     {DNNL_ARG_DST, io.out[0]}});
    if (!chain.empty()) chain.run(s, io, io.out[0]);
  }
  std::string impl() const override { return impl_of(pd); }
};

std::unique_ptr<Kernel> make_bn(BuildCtx& ctx) {
  const Node& n = *ctx.node;
  const dnnl::engine& eng = *ctx.engine;
  if (ctx.in.size() != 5 || ctx.out.empty() || !is_f32(ctx.in[0]) || !is_f32(ctx.out[0])) return nullptr;
  for (size_t i = 1; i < ctx.out.size(); ++i)
    if (ctx.out[i].present()) return nullptr;  // training outputs
  if (n.attr_i("training_mode", 0) != 0) return nullptr;
  const Shape& xs = ctx.in[0].shape;
  if (xs.size() < 2 || xs.size() > 5 || ctx.out[0].shape != xs || shape_numel(xs) <= 0) return nullptr;
  int64_t C = xs[1];
  for (size_t i = 1; i < 5; ++i)
    if (!is_f32(ctx.in[i]) || shape_numel(ctx.in[i].shape) != C || !is_plain_md(ctx.in[i].md)) return nullptr;
  float eps = n.attr_f("epsilon", 1e-5f);
  auto flags = dnnl::normalization_flags::use_global_stats | dnnl::normalization_flags::use_scale |
               dnnl::normalization_flags::use_shift;
  // A lone plain Relu fuses into the primitive.
  bool fuse_relu = n.post_ops.size() == 1 && n.post_ops[0].kind == PostOp::Eltwise && n.post_ops[0].op == "Relu";
  if (fuse_relu) flags = flags | dnnl::normalization_flags::fuse_norm_relu;
  auto k = std::make_unique<BnKernel>();
  try {
    const md_t& md = ctx.in[0].md;
    k->pd = dnnl::batch_normalization_forward::primitive_desc(
        dnnl::batch_normalization_forward::desc(dnnl::prop_kind::forward_inference, md, eps, flags), eng);
    k->prim = dnnl::batch_normalization_forward(k->pd);
    md_t vmd({C}, dt::f32, tag::a);
    for (int i = 1; i < 5; ++i) {
      if (ctx.in[size_t(i)].constant) k->consts[i] = const_to_memory(eng, *ctx.in[size_t(i)].constant, vmd, vmd, k->owned);
      else k->views[i] = View(eng, vmd);
    }
    if (!fuse_relu && !k->chain.init(ctx, md)) return nullptr;
    ctx.out[0].md = md;
  } catch (const dnnl::error&) {
    return nullptr;
  }
  return k;
}

C8_REGISTER_FAST_KERNEL("BatchNormalization", 100, make_bn);

}  // namespace
}  // namespace c8::dnnlk
