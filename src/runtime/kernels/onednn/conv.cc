// Conv (1-D/2-D/3-D, grouped, depthwise, dilated, strided, asymmetric pads,
// bias, fused eltwise/sum post-ops) on dnnl::convolution_forward.
//
// Layouts: src/weights/dst are created with format_tag::any so oneDNN picks
// its fastest layout (brgconv:avx512_core with NHWC activations on this
// machine). If the input arrives in another layout, the same primitive is
// tried with the arriving layout forced; that one is kept when it selects the
// same implementation (no reorder at run time), otherwise the input is
// reordered by a LayoutAdapter. Weights are constants and are reordered once
// at build time into the layout the primitive chose.
//
// INT8 later: ConvGeom is dtype-free; build_conv_pd takes the src/weights/dst
// data types and a primitive_attr (scales, zero points) so a u8/s8 factory
// only has to quantise the weights and fill the attr.
#include <cstring>
#include <unordered_map>

#include "runtime/kernels/onednn/common.h"

namespace c8::dnnlk {
namespace {

using conv = dnnl::convolution_forward;

// Primitive descriptor with `src_md` (tag::any allowed), weights/dst any.
conv::primitive_desc build_conv_pd(const dnnl::engine& eng, const ConvGeom& g, const md_t& src_md, dt wei_t, dt dst_t,
                                   bool bias, const dnnl::primitive_attr& attr, dnnl::algorithm alg) {
  md_t wmd(g.wei, wei_t, tag::any), dmd(g.dst, dst_t, tag::any);
  md_t bmd = bias ? md_t(g.bias, dt::f32, tag::a) : md_t();
  conv::desc d(dnnl::prop_kind::forward_inference, alg, src_md, wmd, bmd, dmd, g.strides, g.dil, g.pl, g.pr);
  return conv::primitive_desc(d, attr, eng);
}

struct ConvKernel : Kernel {
  conv::primitive_desc pd;
  conv prim;
  LayoutAdapter src_ad;
  // Weights: constant -> reordered once; else view + adapter at run time.
  bool wei_const = true;
  dnnl::memory wei;
  View wei_view;
  LayoutAdapter wei_ad;
  bool has_bias = false, bias_const = true;
  dnnl::memory bias;
  SumInput sum;

  void execute(KernelIO& io) override {
    dnnl::stream& s = *io.stream;
    dnnl::memory src = src_ad.convert(s, io.in[0]);
    dnnl::memory w = wei_const ? wei : wei_ad.convert(s, wei_view.of(io.in[1]));
    dnnl::memory& dst = io.out[0];
    if (sum.active()) sum.run(s, io, dst);
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, dst}};
    if (has_bias) args[DNNL_ARG_BIAS] = bias_const ? bias : io.in[2];
    prim.execute(s, args);
  }
  // "+reorder": the input is converted to the primitive's layout on every run
  // (counted as reorder time by `bench --profile`).
  std::string impl() const override { return impl_of(pd) + (src_ad.needed() ? " +reorder" : ""); }
  // Direct and Winograd convolutions differ in float rounding only (oneDNN's
  // F(2x2,3x3) / F(4x4,3x3): 1e-6 of the output's range on resnet/googlenet
  // shapes, OnednnConv tests bound it), so the planner may time them.
  std::string contract() const override { return "f32"; }
};

// Direct convolution, or with `alg` = convolution_winograd oneDNN's AVX-512
// Winograd (F(2x2,3x3) or F(4x4,3x3), its choice). Measured on Zen 5, 1
// thread: 0.40-0.55x the direct brgconv on resnet50's and most of googlenet's
// 3x3 layers, but 1.25-2.4x on others (96->208 at 14x14, a 3-channel stem),
// so it is never a fixed rule: it runs only where tuning timed it faster.
std::unique_ptr<Kernel> make_conv_alg(BuildCtx& ctx, dnnl::algorithm alg) {
  if (ctx.in.size() < 2 || ctx.out.empty() || !is_f32(ctx.in[0]) || !is_f32(ctx.in[1]) || !is_f32(ctx.out[0]))
    return nullptr;
  const dnnl::engine& eng = *ctx.engine;
  ConvGeom g;
  if (!conv_geom(ctx, g)) return nullptr;
  bool has_bias = ctx.in.size() > 2 && ctx.in[2].present();
  if (has_bias && (!is_f32(ctx.in[2]) || shape_numel(ctx.in[2].shape) != g.M)) return nullptr;
  if (!ctx.in[1].constant && !is_plain_md(ctx.in[1].md)) return nullptr;
  if (has_bias && !ctx.in[2].constant && !is_plain_md(ctx.in[2].md)) return nullptr;

  dnnl::post_ops ops;
  int sum_in = -1;
  if (!append_post_ops(*ctx.node, ops, &sum_in)) return nullptr;
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);

  auto k = std::make_unique<ConvKernel>();
  try {
    k->pd = build_conv_pd(eng, g, md_t(g.src, dt::f32, tag::any), dt::f32, dt::f32, has_bias, attr, alg);
    const md_t& arriving = ctx.in[0].md;
    if (k->pd.src_desc() != arriving && (!is_plain_md(arriving) || g.C <= 4)) {
      // Prefer the arriving layout if oneDNN runs the same implementation on
      // it (a layout another primitive chose, or the few-channel stem whose
      // kernels read NCHW directly); a plain many-channel input is reordered.
      try {
        auto forced = build_conv_pd(eng, g, arriving, dt::f32, dt::f32, has_bias, attr, alg);
        if (std::string(forced.impl_info_str()) == k->pd.impl_info_str()) k->pd = forced;
      } catch (const dnnl::error&) {
      }
    }
    k->prim = conv(k->pd);
    k->src_ad = LayoutAdapter(eng, arriving, k->pd.src_desc());
    md_t wuser = plain_dims(g.wei, dt::f32);
    if (ctx.in[1].constant) {
      k->wei = const_to_memory(eng, *ctx.in[1].constant, wuser, k->pd.weights_desc(), k->owned);
    } else {
      k->wei_const = false;
      k->wei_view = View(eng, wuser);
      k->wei_ad = LayoutAdapter(eng, wuser, k->pd.weights_desc());
    }
    if (has_bias) {
      k->has_bias = true;
      if (ctx.in[2].constant) {
        md_t bmd(g.bias, dt::f32, tag::a);
        k->bias = const_to_memory(eng, *ctx.in[2].constant, bmd, bmd, k->owned);
      } else {
        k->bias_const = false;
      }
    }
    if (sum_in >= 0) {
      if (size_t(sum_in) >= ctx.in.size() || !k->sum.init(eng, ctx.in[size_t(sum_in)], k->pd.dst_desc(), sum_in))
        return nullptr;
    }
    ctx.out[0].md = k->pd.dst_desc();
  } catch (const dnnl::error&) {
    return nullptr;
  }
  return k;
}

std::unique_ptr<Kernel> make_conv(BuildCtx& ctx) { return make_conv_alg(ctx, dnnl::algorithm::convolution_direct); }

// Only a candidate under tuning (priority below the direct conv, which always
// builds); only 2-D 3x3 stride-1 undilated ungrouped convolutions, the only
// ones oneDNN's Winograd takes.
std::unique_ptr<Kernel> make_conv_winograd(BuildCtx& ctx) {
  if (!ctx.tuning || ctx.in.size() < 2 || !ctx.in[1].constant) return nullptr;
  ConvGeom g;
  if (!conv_geom(ctx, g)) return nullptr;
  if (g.sp != 2 || g.group != 1 || g.wei.size() != 4 || g.wei[2] != 3 || g.wei[3] != 3) return nullptr;
  if (g.strides[0] != 1 || g.strides[1] != 1 || g.dil[0] != 0 || g.dil[1] != 0) return nullptr;
  auto k = make_conv_alg(ctx, dnnl::algorithm::convolution_winograd);
  // oneDNN names its Winograd kernels "...wino..."; anything else is not one.
  if (k && k->impl().find("wino") == std::string::npos) return nullptr;
  return k;
}

C8_REGISTER_FAST_KERNEL("Conv", 100, make_conv);
C8_REGISTER_FAST_KERNEL("Conv", 90, make_conv_winograd);

}  // namespace
}  // namespace c8::dnnlk
