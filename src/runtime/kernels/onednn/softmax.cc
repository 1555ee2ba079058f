// Softmax / LogSoftmax on dnnl::softmax_v2_forward.
// opset >= 13: one axis (default -1), any input layout (output = input md).
// opset < 13: the input is coerced to 2-D [prod(d[:axis]), prod(d[axis:])]
// (default axis 1); when axis is the last dim that is the same as a single
// axis, otherwise the input is brought to plain and viewed as 2-D.
// The opset comes from node attr `_opset`, else the graph's opset.
#include "runtime/kernels/onednn/common.h"

namespace c8::dnnlk {
namespace {

struct SoftmaxKernel : Kernel {
  dnnl::softmax_v2_forward::primitive_desc pd;
  dnnl::softmax_v2_forward prim;
  InputPrep prep;
  bool view = false;
  View out_view;
  PostChain chain;
  void execute(KernelIO& io) override {
    dnnl::stream& s = *io.stream;
    dnnl::memory src = prep.get(s, io.in[0]);
    dnnl::memory dst = view ? out_view.of(io.out[0]) : io.out[0];
    prim.execute(s, {{DNNL_ARG_SRC, src}, {DNNL_ARG_DST, dst}});
    if (!chain.empty()) chain.run(s, io, io.out[0]);
  }
  std::string impl() const override { return impl_of(pd); }
};

std::unique_ptr<Kernel> make_softmax(BuildCtx& ctx) {
  const Node& n = *ctx.node;
  const dnnl::engine& eng = *ctx.engine;
  if (ctx.in.empty() || ctx.out.empty() || !is_f32(ctx.in[0]) || !is_f32(ctx.out[0])) return nullptr;
  const Shape& xs = ctx.in[0].shape;
  int r = int(xs.size());
  if (r < 1 || r > 6 || ctx.out[0].shape != xs || shape_numel(xs) <= 0) return nullptr;
  int opset = node_opset(ctx);
  auto alg = n.op == "LogSoftmax" ? dnnl::algorithm::softmax_log : dnnl::algorithm::softmax_accurate;
  auto k = std::make_unique<SoftmaxKernel>();
  try {
    md_t md;
    int axis;
    if (opset >= 13) {
      axis = norm_axis(n.attr_i("axis", -1), r);
      if (axis < 0 || axis >= r) return nullptr;
      md = ctx.in[0].md;
      if (!k->prep.init(eng, md, md)) return nullptr;
    } else {
      axis = norm_axis(n.attr_i("axis", 1), r);
      if (axis < 0 || axis >= r) return nullptr;
      if (axis == r - 1) {
        md = ctx.in[0].md;
        if (!k->prep.init(eng, md, md)) return nullptr;
      } else {
        int64_t outer = 1, inner = 1;
        for (int i = 0; i < r; ++i) (i < axis ? outer : inner) *= xs[size_t(i)];
        md = md_t({outer, inner}, dt::f32, dims_t{inner, 1});
        if (!k->prep.init(eng, ctx.in[0].md, md)) return nullptr;
        k->view = true;
        k->out_view = View(eng, md);
        axis = 1;
      }
    }
    k->pd = dnnl::softmax_v2_forward::primitive_desc(
        dnnl::softmax_v2_forward::desc(dnnl::prop_kind::forward_inference, alg, md, md, axis), eng);
    k->prim = dnnl::softmax_v2_forward(k->pd);
    md_t out_md = k->view ? plain_md(DType::F32, xs) : md;
    if (!k->chain.init(ctx, out_md)) return nullptr;
    ctx.out[0].md = out_md;
  } catch (const dnnl::error&) {
    return nullptr;
  }
  return k;
}

C8_REGISTER_FAST_KERNEL("Softmax", 100, make_softmax);
C8_REGISTER_FAST_KERNEL("LogSoftmax", 100, make_softmax);

}  // namespace
}  // namespace c8::dnnlk
