// Unary element-wise ops on dnnl::eltwise_forward, in the layout the input
// arrives in (output md = input md; safe in place). HardSigmoid is two
// steps (linear then clip; oneDNN 2.6 has no hardsigmoid). Clip's min/max
// (opset >= 11 inputs) must be plan-time constants.
#include <limits>

#include "runtime/kernels/onednn/common.h"

namespace c8::dnnlk {
namespace {

struct EltwiseKernel : Kernel {
  std::vector<dnnl::eltwise_forward::primitive_desc> pds;
  std::vector<dnnl::eltwise_forward> prims;
  PostChain chain;
  void execute(KernelIO& io) override {
    dnnl::stream& s = *io.stream;
    for (size_t i = 0; i < prims.size(); ++i)
      prims[i].execute(s, {{DNNL_ARG_SRC, i == 0 ? io.in[0] : io.out[0]}, {DNNL_ARG_DST, io.out[0]}});
    if (!chain.empty()) chain.run(s, io, io.out[0]);
  }
  std::string impl() const override { return impl_of(pds[0]); }
};

std::unique_ptr<Kernel> make_eltwise(BuildCtx& ctx) {
  const Node& n = *ctx.node;
  const dnnl::engine& eng = *ctx.engine;
  if (ctx.in.empty() || ctx.out.empty() || !is_f32(ctx.in[0]) || !is_f32(ctx.out[0])) return nullptr;
  if (ctx.in[0].shape != ctx.out[0].shape || shape_numel(ctx.in[0].shape) <= 0) return nullptr;
  std::vector<EltStep> steps;
  if (!eltwise_steps(n.op, &n, nullptr, steps)) return nullptr;
  if (n.op == "Clip") {
    for (size_t k = 1; k < 3; ++k) {
      if (ctx.in.size() <= k || !ctx.in[k].present()) continue;
      if (!ctx.in[k].constant || ctx.in[k].constant->numel() != 1) return nullptr;
      float v = float(ctx.in[k].constant->get_f64(0));
      (k == 1 ? steps[0].alpha : steps[0].beta) = v;
    }
  } else if (ctx.in.size() > 1) {
    for (size_t k = 1; k < ctx.in.size(); ++k)
      if (ctx.in[k].present()) return nullptr;
  }
  auto k = std::make_unique<EltwiseKernel>();
  try {
    const md_t& md = ctx.in[0].md;
    for (auto& st : steps) {
      k->pds.emplace_back(dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_inference, st.alg, md, st.alpha, st.beta), eng);
      k->prims.emplace_back(k->pds.back());
    }
    if (!k->chain.init(ctx, md)) return nullptr;
    ctx.out[0].md = md;
  } catch (const dnnl::error&) {
    return nullptr;
  }
  return k;
}

C8_REGISTER_FAST_KERNEL("Relu", 100, make_eltwise);
C8_REGISTER_FAST_KERNEL("LeakyRelu", 100, make_eltwise);
C8_REGISTER_FAST_KERNEL("Clip", 100, make_eltwise);
C8_REGISTER_FAST_KERNEL("Sigmoid", 100, make_eltwise);
C8_REGISTER_FAST_KERNEL("Tanh", 100, make_eltwise);
C8_REGISTER_FAST_KERNEL("Elu", 100, make_eltwise);
C8_REGISTER_FAST_KERNEL("HardSigmoid", 100, make_eltwise);
C8_REGISTER_FAST_KERNEL("HardSwish", 100, make_eltwise);
C8_REGISTER_FAST_KERNEL("Exp", 100, make_eltwise);
C8_REGISTER_FAST_KERNEL("Log", 100, make_eltwise);
C8_REGISTER_FAST_KERNEL("Sqrt", 100, make_eltwise);
C8_REGISTER_FAST_KERNEL("Abs", 100, make_eltwise);
C8_REGISTER_FAST_KERNEL("Neg", 100, make_eltwise);
C8_REGISTER_FAST_KERNEL("Softplus", 100, make_eltwise);
C8_REGISTER_FAST_KERNEL("Round", 100, make_eltwise);
C8_REGISTER_FAST_KERNEL("Mish", 100, make_eltwise);
C8_REGISTER_FAST_KERNEL("Gelu", 100, make_eltwise);

}  // namespace
}  // namespace c8::dnnlk
