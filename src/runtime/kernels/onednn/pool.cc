// MaxPool / AveragePool / GlobalAveragePool / GlobalMaxPool on
// dnnl::pooling_v2_forward (dilation support). The input is taken in the
// layout it arrives in (NHWC / blocked / plain) and the output keeps that
// layout (md_like), so pools between convs cost no reorders.
// ceil_mode: the output size comes from shape inference; padding_r is grown
// so oneDNN produces that size. AveragePool with count_include_pad=1 whose
// ceil-mode windows run past the explicit padding is left to the reference
// kernel (oneDNN would count the extra cells in the divisor).
#include <algorithm>
#include <limits>

#include "runtime/kernels/onednn/common.h"
#include "runtime/kernels/x86/avx2/maxpool_f32.h"

namespace c8::dnnlk {
namespace {

struct PoolKernel : Kernel {
  dnnl::pooling_v2_forward::primitive_desc pd;
  dnnl::pooling_v2_forward prim;
  PostChain chain;
  bool own = false;
  x86::MaxPoolF32Nchw8c mp;
  void execute(KernelIO& io) override {
    dnnl::stream& s = *io.stream;
    if (own) mp.run(static_cast<const float*>(io.in[0].get_data_handle()), static_cast<float*>(io.out[0].get_data_handle()));
    else prim.execute(s, {{DNNL_ARG_SRC, io.in[0]}, {DNNL_ARG_DST, io.out[0]}});
    if (!chain.empty()) chain.run(s, io, io.out[0]);
  }
  std::string impl() const override { return own ? "dnnl:c8_maxpool_avx2_8c" : impl_of(pd); }
};

std::unique_ptr<Kernel> make_pool(BuildCtx& ctx) {
  const Node& n = *ctx.node;
  const dnnl::engine& eng = *ctx.engine;
  if (ctx.in.empty() || ctx.out.empty() || !is_f32(ctx.in[0]) || !is_f32(ctx.out[0])) return nullptr;
  for (size_t i = 1; i < ctx.out.size(); ++i)
    if (ctx.out[i].present()) return nullptr;  // MaxPool Indices
  const Shape& xs = ctx.in[0].shape;
  const Shape& ys = ctx.out[0].shape;
  PoolGeometry pg;
  if (!pool_geometry(n, n.op, xs, ys, pg)) return nullptr;
  const int sp = int(xs.size()) - 2;
  bool is_max = pg.is_max;
  dnnl::algorithm alg = pg.alg;
  const dims_t &kernel = pg.kernel, &strides = pg.strides, &dil = pg.dil, &pl = pg.pl, &pr = pg.pr;
  auto k = std::make_unique<PoolKernel>();
  try {
    const md_t& src = ctx.in[0].md;
    md_t dst = md_like(src, to_dims(ys));
    auto make = [&](const md_t& dmd) {
      return dnnl::pooling_v2_forward::primitive_desc(
          dnnl::pooling_v2_forward::desc(dnnl::prop_kind::forward_inference, alg, src, dmd, strides, kernel, dil, pl, pr), eng);
    };
    try {
      if (dst.data.ndims == 0) throw dnnl::error(dnnl_invalid_arguments, "no like md");
      k->pd = make(dst);
    } catch (const dnnl::error&) {
      k->pd = make(md_t(to_dims(ys), dt::f32, tag::any));
    }
    k->prim = dnnl::pooling_v2_forward(k->pd);
    int64_t b0 = 0, b1 = 0;
    if (is_max && sp == 2 && dil[0] == 0 && dil[1] == 0 && is_nc_dense(src, &b0) && b0 == 8 &&
        is_nc_dense(k->pd.dst_desc(), &b1) && b1 == 8 && pl[0] < kernel[0] && pl[1] < kernel[1]) {
      k->own = true;
      x86::MaxPoolF32Nchw8c& m = k->mp;
      m.N = xs[0];
      m.CB = xs[1] / 8;
      m.IH = xs[2];
      m.IW = xs[3];
      m.OH = ys[2];
      m.OW = ys[3];
      m.KH = kernel[0];
      m.KW = kernel[1];
      m.SH = strides[0];
      m.SW = strides[1];
      m.PH = pl[0];
      m.PW = pl[1];
    }
    if (!k->chain.init(ctx, k->pd.dst_desc())) return nullptr;
    ctx.out[0].md = k->pd.dst_desc();
  } catch (const dnnl::error&) {
    return nullptr;
  }
  return k;
}

C8_REGISTER_FAST_KERNEL("MaxPool", 100, make_pool);
C8_REGISTER_FAST_KERNEL("AveragePool", 100, make_pool);
C8_REGISTER_FAST_KERNEL("GlobalAveragePool", 100, make_pool);
C8_REGISTER_FAST_KERNEL("GlobalMaxPool", 100, make_pool);

}  // namespace
}  // namespace c8::dnnlk
