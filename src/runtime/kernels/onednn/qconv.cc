// calibr8::QConv (passes/fuse_qdq.cc) on oneDNN convolution_forward.
//
// INT8 variant: src u8/s8 (zero point as a run-time oneDNN zero point), s8
// weights reordered once into the blocked layout the primitive picks, f32
// bias in accumulator units (oneDNN 2.x adds the bias before the output
// scale), per-output-channel output scales x_scale*w_scale[c]/y_scale, the
// float post-ops in the y/y_scale domain (Clip bounds divided by y_scale), the
// residual as a sum post-op with scale sum_scale/y_scale and the residual's
// zero point, and the output zero point as a oneDNN dst zero point. Output
// u8/s8 (requantized in the epilogue, round half to even, saturated) or f32.
//
// FP32 variant: dequantizing reorder in, f32 conv with the dequantized weights
// and float post-ops, quantizing reorder out. Used when it is measured faster
// (depthwise: both variants are built and timed at plan time) or when the
// INT8 kernel could be wrong: without VNNI, oneDNN's u8s8 kernels sum pairs of
// u8*s8 products in 16 bits (vpmaddubsw) and saturate when two adjacent
// input-channel weights have |w0|+|w1| > 128 (calibration then uses 7-bit
// weights, see RUNTIME-FACTS.md).
//
// impl(): "dnnl:<oneDNN impl> <precision>", precision e.g. "u8s8->u8" or
// "f32(u8->u8: depthwise INT8 is slower than FP32 on AVX-512 ...)". Env
// C8_QCONV_DW=int8|f32 forces the depthwise choice.
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <unordered_map>

#include "runtime/kernels/onednn/common.h"
#include "runtime/kernels/x86/avx2/qadd_math.h"

namespace c8::dnnlk {
namespace {

using conv = dnnl::convolution_forward;


// `alt` > 0: oneDNN's alt-th next implementation for these descriptors (its
// list, in its order of preference), for kernel choice by measurement; throws
// dnnl::error when there is none or it is a reference one.
conv::primitive_desc make_pd(const dnnl::engine& eng, const ConvGeom& g, const md_t& src, dt wt, dt dst_t, bool bias,
                             const dnnl::primitive_attr& attr, int alt = 0) {
  md_t wmd(g.wei, wt, tag::any), dmd(g.dst, dst_t, tag::any);
  md_t bmd = bias ? md_t({g.M}, dt::f32, tag::a) : md_t();
  conv::desc d(dnnl::prop_kind::forward_inference, dnnl::algorithm::convolution_direct, src, wmd, bmd, dmd, g.strides,
               g.dil, g.pl, g.pr);
  conv::primitive_desc pd(d, attr, eng);
  // oneDNN lists some implementations several times under one name (brgconv
  // variants per attribute set): count distinct names only.
  std::set<std::string> seen{pd.impl_info_str()};
  for (int i = 0; i < alt; ++i) {
    do {
      if (!pd.next_impl() || std::string(pd.impl_info_str()).find("ref") != std::string::npos)
        throw dnnl::error(dnnl_unimplemented, "no further implementation");
    } while (seen.count(pd.impl_info_str()));
    seen.insert(pd.impl_info_str());
  }
  return pd;
}

dnnl::memory s32_scalar(const dnnl::engine& eng, int32_t v) {
  dnnl::memory m(md_t({1}, dt::s32, tag::x), eng);
  *static_cast<int32_t*>(m.get_data_handle()) = v;
  return m;
}

// Writes the residual (node input 3) into the conv's dst before a sum
// post-op: a plain copy, a layout reorder, or a dequantizing reorder.
struct Prefill {
  bool active = false, copy = false;
  size_t bytes = 0;
  dnnl::reorder prim;
  View view;  // dst buffer seen with the residual's data type
  void init(const dnnl::engine& eng, const md_t& from, const md_t& to, const dnnl::primitive_attr* attr) {
    active = true;
    if (from == to && !attr) {
      copy = true;
      bytes = to.get_size();
      return;
    }
    prim = attr ? dnnl::reorder(dnnl::reorder::primitive_desc(eng, from, eng, to, *attr))
                : dnnl::reorder(dnnl::reorder::primitive_desc(eng, from, eng, to));
    view = View(eng, to);
  }
  void run(dnnl::stream& s, const dnnl::memory& src, const dnnl::memory& dst) {
    if (!active || src.get_data_handle() == dst.get_data_handle()) return;
    if (copy) std::memcpy(dst.get_data_handle(), src.get_data_handle(), bytes);
    else prim.execute(s, const_cast<dnnl::memory&>(src), view.of(dst));
  }
};

struct QParamsN {
  float sx = 1, sy = 1, ss = 1, smid = 1;
  int64_t zx = 0, zy = 0, zs = 0, zmid = 0;
  DType xt = DType::U8, yt = DType::F32, st = DType::U8, mt = DType::U8;
  bool quant_out = false, has_bias = false, has_sum = false;
  bool has_mid = false;  // fuse_qdq step 4c: round to the mid_* grid before the sum
  std::vector<float> ws;  // per output channel (expanded)
};

struct QConvKernel : Kernel {
  bool int8 = true;
  conv::primitive_desc pd;
  conv prim;
  LayoutAdapter src_ad;  // int8: layout only
  dnnl::reorder deq;     // f32: dequantize src
  dnnl::memory deq_dst, tmp_dst;
  dnnl::reorder quant;  // f32 with quantized output
  bool has_quant = false;
  dnnl::memory wei, bias, zp_src, zp_dst;
  bool has_bias = false, has_zp_src = false, has_zp_dst = false;
  Prefill sum;
  int sum_idx = 3;
  std::string precision;
  // FP32 variant of a conv that took over a residual add (mid_* attributes):
  // conv -> quantize to the mid grid -> QAdd's arithmetic with the skip.
  bool mid_add = false, mid_s8 = false, skip_s8 = false, y_s8 = false;
  dnnl::memory mid_buf;
  LayoutAdapter skip_ad;
  QAddMath mm;

  void execute(KernelIO& io) override {
    dnnl::stream& s = *io.stream;
    std::unordered_map<int, dnnl::memory> args;
    dnnl::memory src, dst;
    if (int8) {
      src = src_ad.convert(s, io.in[0]);
      dst = io.out[0];
    } else {
      deq.execute(s, io.in[0], deq_dst);
      src = deq_dst;
      dst = has_quant ? tmp_dst : io.out[0];
    }
    if (sum.active) sum.run(s, io.in[size_t(sum_idx)], dst);
    args[DNNL_ARG_SRC] = src;
    args[DNNL_ARG_WEIGHTS] = wei;
    args[DNNL_ARG_DST] = dst;
    if (has_bias) args[DNNL_ARG_BIAS] = bias;
    if (has_zp_src) args[DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_SRC] = zp_src;
    if (has_zp_dst) args[DNNL_ARG_ATTR_ZERO_POINTS | DNNL_ARG_DST] = zp_dst;
    prim.execute(s, args);
    if (has_quant) quant.execute(s, tmp_dst, mid_add ? mid_buf : io.out[0]);
    if (mid_add) {
      dnnl::memory skip = skip_ad.convert(s, io.in[size_t(sum_idx)]);
      s.wait();
      qadd_run(mm, static_cast<const uint8_t*>(mid_buf.get_data_handle()), mid_s8,
               static_cast<const uint8_t*>(skip.get_data_handle()), skip_s8, static_cast<uint8_t*>(io.out[0].get_data_handle()),
               y_s8, int64_t(mid_buf.get_desc().get_size()));
    }
  }
  std::string impl() const override { return impl_of(pd) + " " + precision; }
  // Only the INT8 primitive gives the exact integer result; the FP32 fall-back has its own rounding.
  std::string contract() const override { return int8 ? "int8-exact" : ""; }
};

const char* dname(DType t) { return t == DType::U8 ? "u8" : t == DType::I8 ? "s8" : t == DType::F32 ? "f32" : "?"; }

bool post_ops_for(const Node& n, const QParamsN& q, bool int8, dnnl::post_ops& ops) {
  float inv = int8 && q.quant_out ? 1.f / q.sy : 1.f;
  if (q.has_mid) {
    // The conv result on its 8-bit mid grid, a = clip(rne(v), lo - z, hi - z):
    // INT8 kernel: v is already in mid units (output scale); FP32 kernel: v
    // is real and goes to mid units and back around the round and clip.
    // Then, in y units, y = ka * (a + (kb / ka) * (b - zb)) with ka = smid/sy,
    // kb = sum_scale/sy (QAdd's formula, see qadd.cc), or in real units
    // smid * a + DQ(b) for the FP32 kernel. oneDNN 2.6 (AVX2 u8s8) computes
    // this chain right; a linear post-op *before* the sum does not (see
    // DEVELOPERS.md), so the scale is applied after it.
    const float lo = q.mt == DType::U8 ? 0.f : -128.f, hi = q.mt == DType::U8 ? 255.f : 127.f;
    if (!int8) ops.append_eltwise(1.f, dnnl::algorithm::eltwise_linear, 1.f / q.smid, 0.f);
    ops.append_eltwise(1.f, dnnl::algorithm::eltwise_round, 0.f, 0.f);
    ops.append_eltwise(1.f, dnnl::algorithm::eltwise_clip, lo - float(q.zmid), hi - float(q.zmid));
    if (!int8) ops.append_eltwise(1.f, dnnl::algorithm::eltwise_linear, q.smid, 0.f);
  }
  for (const PostOp& po : n.post_ops) {
    if (po.kind == PostOp::Sum) {
      if (po.input_index != 3) return false;
      if (int8 && q.quant_out && q.has_mid) {
        const float ka = q.smid / q.sy, kb = q.ss / q.sy;
        ops.append_sum(kb / ka, int32_t(q.zs), to_dnnl(q.st));
        ops.append_eltwise(1.f, dnnl::algorithm::eltwise_linear, ka, 0.f);
      } else if (int8 && q.quant_out) {
        ops.append_sum(q.ss / q.sy, int32_t(q.zs), to_dnnl(q.st));
      } else {
        ops.append_sum(1.f);
      }
    } else if (po.op == "Relu") {
      ops.append_eltwise(1.f, dnnl::algorithm::eltwise_relu, 0.f, 0.f);
    } else if (po.op == "Clip") {
      ops.append_eltwise(1.f, dnnl::algorithm::eltwise_clip_v2, po.alpha * inv, po.beta * inv);
    } else {
      return false;
    }
  }
  return true;
}

std::unique_ptr<QConvKernel> build_int8(const BuildCtx& ctx, const ConvGeom& g, const QParamsN& q, int alt) {
  const dnnl::engine& eng = *ctx.engine;
  const Node& n = *ctx.node;
  dnnl::primitive_attr attr;
  std::vector<float> os(static_cast<size_t>(g.M));
  const float out_units = q.has_mid ? q.smid : q.quant_out ? q.sy : 1.f;
  for (int64_t c = 0; c < g.M; ++c) os[size_t(c)] = q.sx * q.ws[size_t(c)] / out_units;
  attr.set_output_scales(1 << 1, os);
  if (q.zx) attr.set_zero_points(DNNL_ARG_SRC, 0, {DNNL_RUNTIME_S32_VAL});
  if (q.quant_out && q.zy) attr.set_zero_points(DNNL_ARG_DST, 0, {DNNL_RUNTIME_S32_VAL});
  dnnl::post_ops ops;
  if (!post_ops_for(n, q, true, ops)) return nullptr;
  attr.set_post_ops(ops);
  dt xt = to_dnnl(q.xt), yt = to_dnnl(q.yt);
  auto k = std::make_unique<QConvKernel>();
  k->pd = make_pd(eng, g, md_t(g.src, xt, tag::any), dt::s8, yt, q.has_bias, attr, alt);
  const md_t& arriving = ctx.in[0].md;
  if (k->pd.src_desc() != arriving && (!is_plain_md(arriving) || g.C <= 4)) {
    try {
      auto forced = make_pd(eng, g, arriving, dt::s8, yt, q.has_bias, attr, alt);
      if (std::string(forced.impl_info_str()) == k->pd.impl_info_str()) k->pd = forced;
    } catch (const dnnl::error&) {
    }
  }
  k->prim = conv(k->pd);
  k->src_ad = LayoutAdapter(eng, arriving, k->pd.src_desc());
  k->wei = const_to_memory(eng, *ctx.in[1].constant, plain_dims(g.wei, dt::s8), k->pd.weights_desc(), k->owned);
  if (q.has_bias) {
    k->has_bias = true;
    k->bias = dnnl::memory(md_t({g.M}, dt::f32, tag::a), eng);
    const float* b = ctx.in[2].constant->data<float>();
    float* d = static_cast<float*>(k->bias.get_data_handle());
    for (int64_t c = 0; c < g.M; ++c) d[c] = b[c] / (q.sx * q.ws[size_t(c)]);
  }
  if (q.zx) {
    k->has_zp_src = true;
    k->zp_src = s32_scalar(eng, int32_t(q.zx));
  }
  if (q.quant_out && q.zy) {
    k->has_zp_dst = true;
    k->zp_dst = s32_scalar(eng, int32_t(q.zy));
  }
  if (q.has_sum) {
    const ValueInfo& b = ctx.in[3];
    if (q.quant_out) {
      k->sum.init(eng, b.md, with_dtype(k->pd.dst_desc(), to_dnnl(q.st)), nullptr);
    } else {
      dnnl::primitive_attr ra;
      ra.set_output_scales(0, {q.ss});
      if (q.zs) ra.set_zero_points(DNNL_ARG_SRC, 0, {int32_t(q.zs)});
      k->sum.init(eng, b.md, k->pd.dst_desc(), &ra);
    }
  }
  k->precision = std::string(dname(q.xt)) + "s8->" + dname(q.yt);
  return k;
}

std::unique_ptr<QConvKernel> build_f32(const BuildCtx& ctx, const ConvGeom& g, const QParamsN& q, const md_t* out_md) {
  const dnnl::engine& eng = *ctx.engine;
  const Node& n = *ctx.node;
  dnnl::post_ops ops;
  // With mid_*: the conv alone; the grid and the add follow it (mid_add).
  if (!q.has_mid && !post_ops_for(n, q, false, ops)) return nullptr;
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);
  auto k = std::make_unique<QConvKernel>();
  k->int8 = false;
  k->pd = make_pd(eng, g, md_t(g.src, dt::f32, tag::any), dt::f32, dt::f32, q.has_bias, attr);
  k->prim = conv(k->pd);
  {
    dnnl::primitive_attr ra;
    ra.set_output_scales(0, {q.sx});
    if (q.zx) ra.set_zero_points(DNNL_ARG_SRC, 0, {int32_t(q.zx)});
    k->deq = dnnl::reorder(dnnl::reorder::primitive_desc(eng, ctx.in[0].md, eng, k->pd.src_desc(), ra));
    k->deq_dst = dnnl::memory(k->pd.src_desc(), eng);
  }
  // Dequantized weights.
  const Tensor& wq = *ctx.in[1].constant;
  Tensor wf(DType::F32, wq.shape);
  int64_t inner = wq.numel() / g.M;
  for (int64_t i = 0; i < wq.numel(); ++i) wf.data<float>()[i] = float(int64_t(wq.data<int8_t>()[i])) * q.ws[size_t(i / inner)];
  k->wei = const_to_memory(eng, wf, plain_dims(g.wei, dt::f32), k->pd.weights_desc(), k->owned);
  if (q.has_bias) {
    k->has_bias = true;
    md_t bmd({g.M}, dt::f32, tag::a);
    k->bias = const_to_memory(eng, *ctx.in[2].constant, bmd, bmd, k->owned);
  }
  if (q.has_mid) {
    float act_lo = 0, act_hi = 0;  // real units
    if (!relu_clip_bounds(n, 1.f, act_lo, act_hi, /*after_sum=*/true)) return nullptr;
    if (!k->mm.init(q.smid, float(q.zmid), q.ss, float(q.zs), q.sy, float(q.zy), act_lo, act_hi, q.yt == DType::I8))
      return nullptr;
    k->mid_add = true;
    k->mid_s8 = q.mt == DType::I8;
    k->skip_s8 = q.st == DType::I8;
    k->y_s8 = q.yt == DType::I8;
    k->has_quant = true;
    k->tmp_dst = dnnl::memory(k->pd.dst_desc(), eng);
    md_t mid_md = with_dtype(k->pd.dst_desc(), to_dnnl(q.mt));
    k->mid_buf = dnnl::memory(mid_md, eng);
    dnnl::primitive_attr ra;
    ra.set_output_scales(0, {1.f / q.smid});
    if (q.zmid) ra.set_zero_points(DNNL_ARG_DST, 0, {int32_t(q.zmid)});
    k->quant = dnnl::reorder(dnnl::reorder::primitive_desc(eng, k->pd.dst_desc(), eng, mid_md, ra));
    k->skip_ad = LayoutAdapter(eng, ctx.in[3].md, with_dtype(k->pd.dst_desc(), to_dnnl(q.st)));
    if (out_md && *out_md != with_dtype(k->pd.dst_desc(), to_dnnl(q.yt))) return nullptr;
  } else if (q.quant_out) {
    k->has_quant = true;
    k->tmp_dst = dnnl::memory(k->pd.dst_desc(), eng);
    md_t o = out_md ? *out_md : with_dtype(k->pd.dst_desc(), to_dnnl(q.yt));
    dnnl::primitive_attr ra;
    ra.set_output_scales(0, {1.f / q.sy});
    if (q.zy) ra.set_zero_points(DNNL_ARG_DST, 0, {int32_t(q.zy)});
    k->quant = dnnl::reorder(dnnl::reorder::primitive_desc(eng, k->pd.dst_desc(), eng, o, ra));
  } else if (out_md && *out_md != k->pd.dst_desc()) {
    return nullptr;
  }
  if (q.has_sum && !q.has_mid) {
    dnnl::primitive_attr ra;
    ra.set_output_scales(0, {q.ss});
    if (q.zs) ra.set_zero_points(DNNL_ARG_SRC, 0, {int32_t(q.zs)});
    k->sum.init(eng, ctx.in[3].md, k->pd.dst_desc(), &ra);
  }
  k->precision = std::string("f32(") + dname(q.xt) + "->" + dname(q.yt) + ")";
  return k;
}

md_t out_md_of(const QConvKernel& k, const QParamsN& q) {
  if (k.int8) return k.pd.dst_desc();
  return q.quant_out ? with_dtype(k.pd.dst_desc(), to_dnnl(q.yt)) : k.pd.dst_desc();
}

// alt = 0: the kernel of the fixed rules (oneDNN's first INT8 implementation,
// else an FP32 fall-back); alt > 0: only oneDNN's alt-th other INT8
// implementation, a tuning candidate (see make_qconv_alt).
std::unique_ptr<Kernel> make_qconv_n(BuildCtx& ctx, int alt) {
  const Node& n = *ctx.node;
  if (ctx.in.size() < 2 || ctx.out.empty() || !ctx.in[1].constant || ctx.in[1].dtype != DType::I8) return nullptr;
  QParamsN q;
  q.xt = ctx.in[0].dtype;
  q.yt = ctx.out[0].dtype;
  if ((q.xt != DType::U8 && q.xt != DType::I8) || (q.yt != DType::U8 && q.yt != DType::I8 && q.yt != DType::F32)) return nullptr;
  ConvGeom g;
  if (!conv_geom(ctx, g)) return nullptr;
  q.sx = n.attr_f("x_scale", 1.f);
  q.zx = n.attr_i("x_zero_point", 0);
  q.quant_out = q.yt != DType::F32;
  q.sy = n.attr_f("y_scale", 1.f);
  q.zy = n.attr_i("y_zero_point", 0);
  auto ws = n.attr_floats("w_scales");
  if (ws.size() != 1 && int64_t(ws.size()) != g.M) return nullptr;
  q.ws.resize(size_t(g.M));
  for (int64_t c = 0; c < g.M; ++c) q.ws[size_t(c)] = ws.size() == 1 ? ws[0] : ws[size_t(c)];
  q.has_bias = ctx.in.size() > 2 && ctx.in[2].present();
  if (q.has_bias && (!ctx.in[2].constant || !is_f32(ctx.in[2]) || shape_numel(ctx.in[2].shape) != g.M)) return nullptr;
  for (const PostOp& po : n.post_ops) q.has_sum |= po.kind == PostOp::Sum;
  if (q.has_sum) {
    if (ctx.in.size() < 4 || !ctx.in[3].present() || ctx.in[3].shape != ctx.out[0].shape) return nullptr;
    q.st = ctx.in[3].dtype;
    if (q.st != DType::U8 && q.st != DType::I8) return nullptr;
    q.ss = n.attr_f("sum_scale", 1.f);
    q.zs = n.attr_i("sum_zero_point", 0);
  }
  if (n.has("mid_scale")) {
    q.has_mid = true;
    q.smid = n.attr_f("mid_scale", 1.f);
    q.zmid = n.attr_i("mid_zero_point", 0);
    q.mt = DType(n.attr_i("mid_type", int64_t(DType::U8)));
    if (!q.has_sum || !q.quant_out || (q.mt != DType::U8 && q.mt != DType::I8) || !(q.smid > 0)) return nullptr;
  }
  bool depthwise = g.group > 1 && g.group == g.C && g.group == g.M;
  std::unique_ptr<QConvKernel> k8, kf;
  std::string why;
  // Weights [M, C/group, taps]: pairs of adjacent input channels per tap.
  const int64_t cg = g.C / g.group, taps = int64_t(shape_numel(ctx.in[1].shape)) / (g.M * cg);
  if (!depthwise && !cpu_has_vnni() &&
      u8s8_pairs_may_saturate(ctx.in[1].constant->data<int8_t>(), g.M, cg, cg * taps, taps, taps)) {
    why = ": 8-bit weight pairs would saturate u8s8 without VNNI";
  } else {
    try {
      k8 = build_int8(ctx, g, q, alt);
    } catch (const dnnl::error&) {
      k8.reset();
    }
    if (k8 && std::string(k8->pd.impl_info_str()).find("ref") != std::string::npos) {
      why = ": oneDNN has only a reference INT8 kernel";
      k8.reset();
    }
    // A VNNI CPU also offers oneDNN's AVX2 / AVX-512 (non-VNNI) INT8 kernels
    // as other implementations: they sum u8*s8 pairs in 16 bits like a CPU
    // without VNNI, so 8-bit weights (what calibration writes on VNNI CPUs)
    // saturate there. Found by TuningCandidates: tuning picked
    // jit_uni_int8:avx2 for mobilenet_v1's stem under load, and top-1 fell 3 points.
    if (k8 && !depthwise && !impl_sums_u8s8_exactly(k8->pd.impl_info_str()) &&
        u8s8_pairs_may_saturate(ctx.in[1].constant->data<int8_t>(), g.M, cg, cg * taps, taps, taps)) {
      why = ": 8-bit weight pairs would saturate u8s8 in " + std::string(k8->pd.impl_info_str());
      k8.reset();
    }
    // oneDNN's non-VNNI kernels for s8 sources (jit_uni_x8s8s32x without
    // AVX-VNNI, gemm without AVX-512 VNNI) halve the weights in their reorder
    // against 16-bit overflow and double the scale back: odd weights lose
    // their low bit. The weights' memory desc says so whatever the name.
    if (k8) {
      const dnnl_memory_extra_desc_t& ex = k8->pd.weights_desc().data.extra;
      if ((ex.flags & dnnl_memory_extra_flag_scale_adjust) && ex.scale_adjust != 1.f) {
        why = ": oneDNN's " + std::string(k8->pd.impl_info_str()) + " would halve the weights";
        k8.reset();
      }
    }
  }
  // Depthwise with --tune off: INT8 or FP32 by a fixed rule per ISA, never by timing at plan
  // time (a timed choice could differ between two processes on a noisy
  // machine, and with it the output bits). Measured: on AVX2 (this machine)
  // oneDNN 2.6's INT8 depthwise is faster (e.g. 0.042 vs 0.072 ms per layer on
  // mobilenet_v1); on AVX-512 its brdgmm_dw INT8 kernel is slower than FP32
  // (0.161 vs 0.122 ms, ../shared/RUNTIME-FACTS.md). Env C8_QCONV_DW=int8|f32 overrides.
  // Under tuning only the exact INT8 kernel is a candidate (the FP32 path has
  // its own rounding): the measurement never trades bits for speed.
  if (k8 && depthwise && !ctx.tuning) {
    const char* force = std::getenv("C8_QCONV_DW");
    std::string f = force ? force : "auto";
    // cpu_isa values are bit sets: avx512_core's bits are in every AVX-512 core ISA, not in avx2_vnni.
    unsigned isa = unsigned(dnnl::get_effective_cpu_isa()), avx512 = unsigned(dnnl::cpu_isa::avx512_core);
    bool want_f32 = f == "f32" || (f == "auto" && (isa & avx512) == avx512);
    if (want_f32) {
      try {
        kf = build_f32(ctx, g, q, nullptr);
      } catch (const dnnl::error&) {
        kf.reset();
      }
      if (kf) {
        why = f == "f32" ? ": forced by C8_QCONV_DW" : ": depthwise INT8 is slower than FP32 on AVX-512 in oneDNN 2.6";
        k8.reset();
      }
    }
  }
  if (alt > 0 && !k8) return nullptr;  // a candidate is another INT8 kernel or nothing
  std::unique_ptr<QConvKernel> k = std::move(k8);
  if (!k) {
    if (!kf) {
      try {
        kf = build_f32(ctx, g, q, nullptr);
      } catch (const dnnl::error&) {
        return nullptr;
      }
      if (!kf) return nullptr;
    }
    k = std::move(kf);
    k->precision.insert(k->precision.size() - 1, why);
  }
  ctx.out[0].md = out_md_of(*k, q);
  return k;
}

// C8_QCONV_ALT=K builds oneDNN's K-th other INT8 implementation where there
// is one (the bit-identity tests, and trying a kernel by hand).
std::unique_ptr<Kernel> make_qconv(BuildCtx& ctx) {
  const char* alt = std::getenv("C8_QCONV_ALT");
  if (alt && std::atoi(alt) > 0)
    if (std::unique_ptr<Kernel> k = make_qconv_n(ctx, std::atoi(alt))) return k;
  return make_qconv_n(ctx, 0);
}

// oneDNN's second INT8 implementation, timed against its first when tuning.
// Measured on Zen 5 (1 thread, resnet50 INT8): the older jit_int8_1x1 /
// jit_int8 kernels beat the brgconv ones oneDNN 2.6 prefers on part of the
// layers (layer1's 1x1 convs 0.23 vs 0.29 ms) and lose on others, so only a
// measurement can choose. Both compute the exact integer result with the same
// scale, bias and post-op arithmetic ("int8-exact"; the QConvAlt tests check
// the bits on the shapes where both exist).
std::unique_ptr<Kernel> make_qconv_alt(BuildCtx& ctx) { return ctx.tuning ? make_qconv_n(ctx, 1) : nullptr; }

C8_REGISTER_FAST_KERNEL("QConv", 100, make_qconv);
C8_REGISTER_FAST_KERNEL("QConv", 95, make_qconv_alt);

}  // namespace
}  // namespace c8::dnnlk
