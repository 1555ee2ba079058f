// calibr8::QGemm (passes/fuse_qdq.cc: Gemm transA=0 alpha=beta=1, or 2-D
// MatMul, with DQ'd activations and int8 constant weights) on dnnl::matmul.
// INT8: u8/s8 src (run-time zero point), s8 weights [K,N] reordered once,
// f32 bias in accumulator units, per-column output scales, Relu/Clip post-ops,
// u8/s8 (dst zero point) or f32 output; plain row-major in and out.
// FP32 fallback (dequantize -> f32 matmul -> quantize) when the u8s8 kernel
// could saturate without VNNI (see qconv.cc) or oneDNN refuses the INT8 one.
#include <cmath>
#include <unordered_map>

#include "runtime/kernels/onednn/common.h"

namespace c8::dnnlk {
namespace {

const char* dname(DType t) { return t == DType::U8 ? "u8" : t == DType::I8 ? "s8" : t == DType::F32 ? "f32" : "?"; }

struct QGemmKernel : Kernel {
  bool int8 = true;
  dnnl::matmul::primitive_desc pd;
  dnnl::matmul prim;
  LayoutAdapter a_ad;
  View a_view, d_view;
  dnnl::reorder deq, quant;
  dnnl::memory deq_dst, tmp_dst, wei, bias, zp_src, zp_dst;
  bool has_bias = false, has_zp_src = false, has_zp_dst = false, has_quant = false;
  std::string precision;
  void execute(KernelIO& io) override {
    dnnl::stream& s = *io.stream;
    dnnl::memory a = a_view.of(a_ad.convert(s, io.in[0]));
    if (!int8) {
      deq.execute(s, a, deq_dst);
      a = deq_dst;
    }
    dnnl::memory d = has_quant ? tmp_dst : d_view.of(io.out[0]);
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, wei}, {DNNL_ARG_DST, d}};
    if (has_bias) args[DNNL_ARG_BIAS] = bias;
    if (has_zp_src) args[DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC] = zp_src;
    if (has_zp_dst) args[DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_DST] = zp_dst;
    prim.execute(s, args);
    if (has_quant) quant.execute(s, tmp_dst, d_view.of(io.out[0]));
  }
  std::string impl() const override { return impl_of(pd) + " " + precision; }
};

dnnl::memory s32_scalar(const dnnl::engine& eng, int32_t v) {
  dnnl::memory m(md_t({1}, dt::s32, tag::x), eng);
  *static_cast<int32_t*>(m.get_data_handle()) = v;
  return m;
}

std::unique_ptr<Kernel> make_qgemm(BuildCtx& ctx) {
  const Node& n = *ctx.node;
  const dnnl::engine& eng = *ctx.engine;
  if (ctx.in.size() < 2 || ctx.out.empty() || !ctx.in[1].constant || ctx.in[1].dtype != DType::I8) return nullptr;
  DType xt = ctx.in[0].dtype, yt = ctx.out[0].dtype;
  if ((xt != DType::U8 && xt != DType::I8) || (yt != DType::U8 && yt != DType::I8 && yt != DType::F32)) return nullptr;
  const Shape& as = ctx.in[0].shape;
  const Tensor& W = *ctx.in[1].constant;
  if (as.size() != 2 || W.rank() != 2 || ctx.out[0].shape.size() != 2) return nullptr;
  bool tb = n.attr_i("transB", 0) != 0;
  int64_t M = as[0], K = as[1], N = tb ? W.shape[0] : W.shape[1];
  if ((tb ? W.shape[1] : W.shape[0]) != K || ctx.out[0].shape != Shape{M, N}) return nullptr;
  float sx = n.attr_f("x_scale", 1.f), sy = n.attr_f("y_scale", 1.f);
  int64_t zx = n.attr_i("x_zero_point", 0), zy = n.attr_i("y_zero_point", 0);
  bool qout = yt != DType::F32;
  auto wsa = n.attr_floats("w_scales");
  if (wsa.size() != 1 && int64_t(wsa.size()) != N) return nullptr;
  std::vector<float> ws(static_cast<size_t>(N));
  for (int64_t c = 0; c < N; ++c) ws[size_t(c)] = wsa.size() == 1 ? wsa[0] : wsa[size_t(c)];
  bool has_bias = ctx.in.size() > 2 && ctx.in[2].present();
  if (has_bias && (!ctx.in[2].constant || !is_f32(ctx.in[2]) || shape_numel(ctx.in[2].shape) != N)) return nullptr;
  for (const PostOp& po : n.post_ops)
    if (po.kind != PostOp::Eltwise || (po.op != "Relu" && po.op != "Clip")) return nullptr;

  // Saturation risk of u8s8 pair sums along K without VNNI.
  bool risk = !cpu_has_vnni() && (tb ? u8s8_pairs_may_saturate(W.data<int8_t>(), N, K, K, 1, 1)
                                     : u8s8_pairs_may_saturate(W.data<int8_t>(), N, K, 1, N, 1));
  auto k = std::make_unique<QGemmKernel>();
  md_t w_user = tb ? md_t({K, N}, dt::s8, dims_t{1, K}) : md_t({K, N}, dt::s8, dims_t{N, 1});
  md_t a_plain({M, K}, to_dnnl(xt), dims_t{K, 1});
  md_t d_plain({M, N}, to_dnnl(yt), dims_t{N, 1});
  auto build = [&](bool int8) {
    k->int8 = int8;
    dnnl::primitive_attr attr;
    float inv = int8 && qout ? 1.f / sy : 1.f;
    dnnl::post_ops ops;
    for (const PostOp& po : n.post_ops) {
      if (po.op == "Relu") ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
      else ops.append_eltwise(1.f, dnnl::algorithm::eltwise_clip_v2, po.alpha * inv, po.beta * inv);
    }
    attr.set_post_ops(ops);
    md_t bmd({1, N}, dt::f32, dims_t{N, 1});
    if (int8) {
      std::vector<float> os(static_cast<size_t>(N));
      for (int64_t c = 0; c < N; ++c) os[size_t(c)] = sx * ws[size_t(c)] / (qout ? sy : 1.f);
      attr.set_output_scales(1 << 1, os);
      if (zx) attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
      if (qout && zy) attr.set_zero_points(DNNL_ARG_DST, 0, {DNNL_RUNTIME_S32_VAL});
      k->pd = dnnl::matmul::primitive_desc(
          dnnl::matmul::desc(a_plain, md_t({K, N}, dt::s8, tag::any), has_bias ? bmd : md_t(), d_plain), attr, eng);
      k->wei = const_to_memory(eng, W, w_user, k->pd.weights_desc(), k->owned);
      if (zx) { k->has_zp_src = true; k->zp_src = s32_scalar(eng, int32_t(zx)); }
      if (qout && zy) { k->has_zp_dst = true; k->zp_dst = s32_scalar(eng, int32_t(zy)); }
      k->precision = std::string(dname(xt)) + "s8->" + dname(yt);
    } else {
      md_t af({M, K}, dt::f32, dims_t{K, 1}), df({M, N}, dt::f32, dims_t{N, 1});
      k->pd = dnnl::matmul::primitive_desc(
          dnnl::matmul::desc(af, md_t({K, N}, dt::f32, tag::any), has_bias ? bmd : md_t(), df), attr, eng);
      Tensor wf(DType::F32, W.shape);
      for (int64_t i = 0; i < W.numel(); ++i) {
        int64_t c = tb ? i / K : i % N;
        wf.data<float>()[i] = float(int64_t(W.data<int8_t>()[i])) * ws[size_t(c)];
      }
      k->wei = const_to_memory(eng, wf, with_dtype(w_user, dt::f32), k->pd.weights_desc(), k->owned);
      dnnl::primitive_attr ra;
      ra.set_output_scales(0, {sx});
      if (zx) ra.set_zero_points(DNNL_ARG_SRC, 0, {int32_t(zx)});
      k->deq = dnnl::reorder(dnnl::reorder::primitive_desc(eng, a_plain, eng, af, ra));
      k->deq_dst = dnnl::memory(af, eng);
      if (qout) {
        k->has_quant = true;
        k->tmp_dst = dnnl::memory(df, eng);
        dnnl::primitive_attr qa;
        qa.set_output_scales(0, {1.f / sy});
        if (zy) qa.set_zero_points(DNNL_ARG_DST, 0, {int32_t(zy)});
        k->quant = dnnl::reorder(dnnl::reorder::primitive_desc(eng, df, eng, d_plain, qa));
      }
      k->precision = std::string("f32(") + dname(xt) + "->" + dname(yt) +
                     (risk ? ": 8-bit weight pairs would saturate u8s8 without VNNI)" : ")");
    }
    k->prim = dnnl::matmul(k->pd);
    if (has_bias) {
      k->has_bias = true;
      k->bias = dnnl::memory(bmd, eng);
      const float* b = ctx.in[2].constant->data<float>();
      float* d = static_cast<float*>(k->bias.get_data_handle());
      for (int64_t c = 0; c < N; ++c) d[c] = int8 ? b[c] / (sx * ws[size_t(c)]) : b[c];
    }
  };
  try {
    bool done = false;
    if (!risk) {
      try {
        build(true);
        done = std::string(k->pd.impl_info_str()).find("ref") == std::string::npos;
      } catch (const dnnl::error&) {
      }
    }
    if (!done) build(false);
    k->a_ad = LayoutAdapter(eng, ctx.in[0].md, plain_md(xt, as));
    k->a_view = View(eng, a_plain);
    k->d_view = View(eng, d_plain);
  } catch (const dnnl::error&) {
    return nullptr;
  }
  ctx.out[0].md = plain_md(yt, ctx.out[0].shape);
  return k;
}

C8_REGISTER_FAST_KERNEL("QGemm", 100, make_qgemm);

}  // namespace
}  // namespace c8::dnnlk
