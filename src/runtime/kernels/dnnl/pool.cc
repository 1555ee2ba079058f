// MaxPool / AveragePool / GlobalAveragePool / GlobalMaxPool on
// dnnl::pooling_v2_forward (dilation support). The input is taken in the
// layout it arrives in (NHWC / blocked / plain) and the output keeps that
// layout (md_like), so pools between convs cost no reorders.
// ceil_mode: the output size comes from shape inference; padding_r is grown
// so oneDNN produces that size. AveragePool with count_include_pad=1 whose
// ceil-mode windows run past the explicit padding is left to the reference
// kernel (oneDNN would count the extra cells in the divisor).
#include "runtime/kernels/dnnl/common.h"

namespace c8::dnnlk {
namespace {

struct PoolKernel : Kernel {
  dnnl::pooling_v2_forward::primitive_desc pd;
  dnnl::pooling_v2_forward prim;
  PostChain chain;
  void execute(KernelIO& io) override {
    dnnl::stream& s = *io.stream;
    prim.execute(s, {{DNNL_ARG_SRC, io.in[0]}, {DNNL_ARG_DST, io.out[0]}});
    if (!chain.empty()) chain.run(s, io, io.out[0]);
  }
  std::string impl() const override { return impl_of(pd); }
};

std::unique_ptr<Kernel> make_pool(BuildCtx& ctx) {
  const Node& n = *ctx.node;
  const dnnl::engine& eng = *ctx.engine;
  if (ctx.in.empty() || ctx.out.empty() || !is_f32(ctx.in[0]) || !is_f32(ctx.out[0])) return nullptr;
  for (size_t i = 1; i < ctx.out.size(); ++i)
    if (ctx.out[i].present()) return nullptr;  // MaxPool Indices
  const Shape& xs = ctx.in[0].shape;
  const Shape& ys = ctx.out[0].shape;
  int r = int(xs.size());
  if (r < 3 || r > 5 || int(ys.size()) != r || ys[0] != xs[0] || ys[1] != xs[1]) return nullptr;
  for (auto v : xs) if (v <= 0) return nullptr;
  int sp = r - 2;
  bool global = n.op == "GlobalAveragePool" || n.op == "GlobalMaxPool";
  bool is_max = n.op == "MaxPool" || n.op == "GlobalMaxPool";
  dnnl::algorithm alg = dnnl::algorithm::pooling_max;
  dims_t kernel, strides, dil, pl, pr;
  if (global) {
    for (int i = 0; i < sp; ++i) {
      if (ys[size_t(i) + 2] != 1) return nullptr;
      kernel.push_back(xs[size_t(i) + 2]);
      strides.push_back(1);
      dil.push_back(0);
      pl.push_back(0);
      pr.push_back(0);
    }
    if (!is_max) alg = dnnl::algorithm::pooling_avg_exclude_padding;
  } else {
    auto ks = n.attr_ints("kernel_shape");
    if (ks.size() != size_t(sp)) return nullptr;
    auto st = n.attr_ints("strides", std::vector<int64_t>(size_t(sp), 1));
    auto dl = n.attr_ints("dilations", std::vector<int64_t>(size_t(sp), 1));
    auto pads = n.attr_ints("pads", std::vector<int64_t>(size_t(2 * sp), 0));
    if (st.size() != size_t(sp) || dl.size() != size_t(sp) || pads.size() != size_t(2 * sp)) return nullptr;
    std::string ap = n.attr_s("auto_pad", "NOTSET");
    bool include_pad = !is_max && n.attr_i("count_include_pad", 0) != 0;
    if (!is_max) alg = include_pad ? dnnl::algorithm::pooling_avg_include_padding : dnnl::algorithm::pooling_avg_exclude_padding;
    for (int i = 0; i < sp; ++i) {
      int64_t in = xs[size_t(i) + 2], k = ks[size_t(i)], s = st[size_t(i)], d = dl[size_t(i)], out = ys[size_t(i) + 2];
      if (k < 1 || s < 1 || d < 1 || out < 1) return nullptr;
      int64_t kr = (k - 1) * d + 1;
      int64_t l = pads[size_t(i)], rr = pads[size_t(i + sp)];
      if (ap == "VALID") l = rr = 0;
      else if (ap == "SAME_UPPER" || ap == "SAME_LOWER") {
        int64_t total = std::max<int64_t>(0, (out - 1) * s + kr - in);
        l = ap == "SAME_UPPER" ? total / 2 : total - total / 2;
        rr = total - l;
      } else if (ap != "NOTSET" && !ap.empty()) return nullptr;
      if (l < 0 || rr < 0) return nullptr;
      // Right padding that makes oneDNN produce exactly `out` (ceil_mode).
      int64_t need = (out - 1) * s + kr - in - l;
      if (need > rr) {
        if (include_pad) return nullptr;
        // Every window must still start inside input + left padding.
        if ((out - 1) * s >= in + l) return nullptr;
        rr = need;
      }
      if ((in + l + rr - kr) / s + 1 != out) return nullptr;
      // oneDNN requires padding smaller than the kernel extent.
      if (l >= kr || rr >= kr) return nullptr;
      kernel.push_back(k);
      strides.push_back(s);
      dil.push_back(d - 1);
      pl.push_back(l);
      pr.push_back(rr);
    }
  }
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
