// Pooling on uint8/int8 tensors (oneDNN pooling supports them natively):
// MaxPool / GlobalMaxPool whose input passes_fuse_qdq made quantized (DQ
// moved behind the pool), and calibr8::QAveragePool / QGlobalAveragePool
// (DQ -> AveragePool -> Q with equal parameters: the average of the
// quantized values, rounded half to even). The layout arriving is kept
// (NHWC in, NHWC out). u8/s8 Concat is the shared kernel in concat.cc.
// Geometry follows pool.cc (ceil_mode via a grown right padding).
#include <omp.h>

#include <algorithm>
#include <cstdlib>
#include <string>
#include <unordered_map>

#include "runtime/kernels/onednn/common.h"

namespace c8::dnnlk {
namespace {

bool is_q(const ValueInfo& v) { return v.dtype == DType::U8 || v.dtype == DType::I8; }

struct QPoolKernel : Kernel {
  dnnl::pooling_v2_forward::primitive_desc pd;
  dnnl::pooling_v2_forward prim;
  LayoutAdapter ad;  // to channels-last when oneDNN has only ref for the arriving layout
  void execute(KernelIO& io) override {
    prim.execute(*io.stream, {{DNNL_ARG_SRC, ad.convert(*io.stream, io.in[0])}, {DNNL_ARG_DST, io.out[0]}});
  }
  bool max = false;  // MaxPool: exact, as calibr8's own kernel (x86/avx2/qmaxpool.cc)
  std::string impl() const override {
    return impl_of(pd) + (pd.src_desc().data_type() == dt::u8 ? " u8->u8" : " s8->s8");
  }
  std::string contract() const override { return max ? "int8-exact" : ""; }
};

std::unique_ptr<Kernel> make_qpool(BuildCtx& ctx) {
  const Node& n = *ctx.node;
  const dnnl::engine& eng = *ctx.engine;
  if (ctx.in.empty() || ctx.out.empty() || !is_q(ctx.in[0]) || ctx.out[0].dtype != ctx.in[0].dtype) return nullptr;
  const std::string op = n.domain == "calibr8" ? n.op.substr(1) : n.op;  // QAveragePool -> AveragePool
  for (size_t i = 1; i < ctx.out.size(); ++i)
    if (ctx.out[i].present()) return nullptr;  // MaxPool Indices
  const char* env = std::getenv("C8_QPOOL");  // "0": max pooling left to calibr8's own kernels (tests)
  if (env && std::string(env) == "0" && n.op == "MaxPool") return nullptr;
  const Shape& xs = ctx.in[0].shape;
  const Shape& ys = ctx.out[0].shape;
  PoolGeometry pg;
  if (!pool_geometry(n, op, xs, ys, pg)) return nullptr;
  const int r = int(xs.size());
  dnnl::algorithm alg = pg.alg;
  const dims_t &kernel = pg.kernel, &strides = pg.strides, &dil = pg.dil, &pl = pg.pl, &pr = pg.pr;
  auto k = std::make_unique<QPoolKernel>();
  k->max = n.op == "MaxPool";
  try {
    md_t src = ctx.in[0].md;
    md_t dst = md_like(src, to_dims(ys));
    auto make = [&](const md_t& dmd) {
      return dnnl::pooling_v2_forward::primitive_desc(
          dnnl::pooling_v2_forward::desc(dnnl::prop_kind::forward_inference, alg, src, dmd, strides, kernel, dil, pl, pr), eng);
    };
    try {
      if (dst.data.ndims == 0) throw dnnl::error(dnnl_invalid_arguments, "no like md");
      k->pd = make(dst);
    } catch (const dnnl::error&) {
      k->pd = make(md_t(to_dims(ys), src.data_type(), tag::any));
    }
    if (std::string(k->pd.impl_info_str()).find("ref") != std::string::npos && r == 4) {
      src = md_t(to_dims(xs), ctx.in[0].md.data_type(), tag::nhwc);
      k->pd = make(md_t(to_dims(ys), src.data_type(), tag::nhwc));
      k->ad = LayoutAdapter(eng, ctx.in[0].md, src);
    }
    k->prim = dnnl::pooling_v2_forward(k->pd);
    if (!n.post_ops.empty()) return nullptr;
    ctx.out[0].md = k->pd.dst_desc();
  } catch (const dnnl::error&) {
    return nullptr;
  }
  return k;
}


C8_REGISTER_FAST_KERNEL("MaxPool", 90, make_qpool);
C8_REGISTER_FAST_KERNEL("GlobalMaxPool", 90, make_qpool);
C8_REGISTER_FAST_KERNEL("QAveragePool", 100, make_qpool);
C8_REGISTER_FAST_KERNEL("QGlobalAveragePool", 100, make_qpool);

}  // namespace
}  // namespace c8::dnnlk
