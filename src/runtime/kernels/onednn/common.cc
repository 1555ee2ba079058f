#include "runtime/kernels/onednn/common.h"

#include "base/big_alloc.h"

#include <cstdlib>

#include <algorithm>
#include <cstring>
#include <limits>
#include <numeric>

namespace c8::dnnlk {

using alg = dnnl::algorithm;

bool eltwise_steps(const std::string& op, const Node* node, const PostOp* po, std::vector<EltStep>& out) {
  auto A = [&](float def) { return po ? po->alpha : node ? node->attr_f("alpha", def) : def; };
  auto B = [&](float def) { return po ? po->beta : node ? node->attr_f("beta", def) : def; };
  out.clear();
  if (op == "Relu") out.push_back({alg::eltwise_relu, 0.f, 0.f});
  else if (op == "LeakyRelu") out.push_back({alg::eltwise_relu, A(0.01f), 0.f});
  else if (op == "Elu") out.push_back({alg::eltwise_elu, A(1.f), 0.f});
  else if (op == "Clip") {
    float lo = -std::numeric_limits<float>::infinity(), hi = std::numeric_limits<float>::infinity();
    if (po) {
      lo = po->alpha;
      hi = po->beta;
    } else if (node) {  // opset < 11 attributes; opset >= 11 inputs are resolved by the caller
      lo = node->attr_f("min", lo);
      hi = node->attr_f("max", hi);
    }
    out.push_back({alg::eltwise_clip_v2, lo, hi});
  } else if (op == "Sigmoid") out.push_back({alg::eltwise_logistic, 0.f, 0.f});
  else if (op == "Tanh") out.push_back({alg::eltwise_tanh, 0.f, 0.f});
  else if (op == "HardSigmoid") {
    // oneDNN 2.6 has no hardsigmoid: max(0, min(1, a*x + b)) = clip(linear(x)).
    out.push_back({alg::eltwise_linear, A(0.2f), B(0.5f)});
    out.push_back({alg::eltwise_clip_v2, 0.f, 1.f});
  } else if (op == "HardSwish") out.push_back({alg::eltwise_hardswish, 0.f, 0.f});
  else if (op == "SiLU") out.push_back({alg::eltwise_swish, 1.f, 0.f});
  else if (op == "Swish") out.push_back({alg::eltwise_swish, po ? (po->alpha != 0.f ? po->alpha : 1.f) : A(1.f), 0.f});
  else if (op == "Softplus") out.push_back({alg::eltwise_soft_relu, 1.f, 0.f});
  else if (op == "Exp") out.push_back({alg::eltwise_exp, 0.f, 0.f});
  else if (op == "Log") out.push_back({alg::eltwise_log, 0.f, 0.f});
  else if (op == "Sqrt") out.push_back({alg::eltwise_sqrt, 0.f, 0.f});
  else if (op == "Abs") out.push_back({alg::eltwise_abs, 0.f, 0.f});
  else if (op == "Neg") out.push_back({alg::eltwise_linear, -1.f, 0.f});
  else if (op == "Round") out.push_back({alg::eltwise_round, 0.f, 0.f});
  else if (op == "Mish") out.push_back({alg::eltwise_mish, 0.f, 0.f});
  else if (op == "Gelu") {
    std::string approx = node && !po ? node->attr_s("approximate", "none") : "none";
    out.push_back({approx == "tanh" ? alg::eltwise_gelu_tanh : alg::eltwise_gelu_erf, 0.f, 0.f});
  } else return false;
  return true;
}

bool append_post_ops(const Node& n, dnnl::post_ops& ops, int* sum_input) {
  *sum_input = -1;
  std::vector<EltStep> steps;
  for (const PostOp& po : n.post_ops) {
    if (po.kind == PostOp::Sum) {
      if (*sum_input >= 0 || po.input_index < 0) return false;
      *sum_input = po.input_index;
      ops.append_sum(1.f);
    } else {
      if (!eltwise_steps(po.op, nullptr, &po, steps)) return false;
      for (auto& s : steps) ops.append_eltwise(1.f, s.alg, s.alpha, s.beta);
    }
  }
  return true;
}

md_t md_like(const md_t& like, const dims_t& dims) {
  const dnnl_memory_desc_t& d = like.data;
  if (d.format_kind != dnnl_blocked || d.ndims != int(dims.size())) return md_t();
  const auto& b = d.format_desc.blocking;
  const int nd = d.ndims;
  std::vector<int64_t> blk(size_t(nd), 1);
  int64_t inner = 1;
  for (int i = 0; i < b.inner_nblks; ++i) {
    blk[size_t(b.inner_idxs[i])] *= b.inner_blks[i];
    inner *= b.inner_blks[i];
  }
  std::vector<int> order(static_cast<size_t>(nd));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](int x, int y) { return b.strides[x] > b.strides[y]; });
  dnnl_memory_desc_t r = d;
  r.offset0 = 0;
  int64_t stride = inner;
  for (int k = nd - 1; k >= 0; --k) {
    int i = order[size_t(k)];
    int64_t pd = (dims[size_t(i)] + blk[size_t(i)] - 1) / blk[size_t(i)] * blk[size_t(i)];
    r.dims[i] = dims[size_t(i)];
    r.padded_dims[i] = pd;
    r.padded_offsets[i] = 0;
    r.format_desc.blocking.strides[i] = stride;
    stride *= pd / blk[size_t(i)];
  }
  return md_t(r);
}

md_t with_dtype(const md_t& md, dt t) {
  dnnl_memory_desc_t r = md.data;
  r.data_type = dnnl_data_type_t(t);
  return md_t(r);
}

dnnl::memory const_to_memory(const dnnl::engine& eng, const Tensor& t, const md_t& from, const md_t& want,
                             std::vector<OwnedBlock>& owned) {
  dnnl::memory src(from, eng, const_cast<void*>(t.raw()));
  // Our allocation, not oneDNN's: large weights (Winograd-transformed ones
  // reach 16 MB a layer) land on huge pages (base/big_alloc.h).
  owned.push_back({alloc_zeroed(want.get_size()), want.get_size()});
  dnnl::memory dst(want, eng, owned.back().data.get());
  dnnl::stream s(eng);
  dnnl::reorder(src, dst).execute(s, src, dst);
  s.wait();
  return dst;
}

static md_t plain_of(const md_t& md) {
  const dims_t d = md.dims();
  dims_t strides(d.size(), 1);
  for (int i = int(d.size()) - 2; i >= 0; --i) strides[size_t(i)] = strides[size_t(i) + 1] * std::max<int64_t>(d[size_t(i) + 1], 1);
  return md_t(d, md.data_type(), strides);
}

bool InputPrep::init(const dnnl::engine& eng, const md_t& arriving, const md_t& want) {
  if (arriving == want) return true;
  if (arriving.dims() == want.dims()) {
    ad_ = LayoutAdapter(eng, arriving, want);
    return true;
  }
  // Different dims (rank padding / flattening): only between plain layouts.
  if (!is_plain_md(want) || arriving.get_size() != want.get_size() || arriving.data_type() != want.data_type()) return false;
  if (!is_plain_md(arriving)) ad_ = LayoutAdapter(eng, arriving, plain_of(arriving));
  view_ = true;
  v_ = View(eng, want);
  return true;
}

dnnl::memory InputPrep::get(dnnl::stream& s, const dnnl::memory& m) {
  dnnl::memory r = ad_.convert(s, m);
  return view_ ? v_.of(r) : r;
}

bool PostChain::init(const BuildCtx& ctx, const md_t& dst_md) {
  const dnnl::engine& eng = *ctx.engine;
  std::vector<EltStep> es;
  for (const PostOp& po : ctx.node->post_ops) {
    if (po.kind == PostOp::Sum) {
      int k = po.input_index;
      if (k < 0 || size_t(k) >= ctx.in.size() || !is_f32(ctx.in[size_t(k)])) return false;
      if (ctx.in[size_t(k)].shape != ctx.out[0].shape) return false;
      Step st;
      st.sum = true;
      st.input = k;
      if (!st.prep.init(eng, ctx.in[size_t(k)].md, dst_md)) return false;
      st.prim = dnnl::binary(dnnl::binary::primitive_desc(
          dnnl::binary::desc(dnnl::algorithm::binary_add, dst_md, dst_md, dst_md), eng));
      steps_.push_back(std::move(st));
    } else {
      if (!eltwise_steps(po.op, nullptr, &po, es)) return false;
      for (auto& e : es) {
        Step st;
        st.prim = dnnl::eltwise_forward(dnnl::eltwise_forward::primitive_desc(
            dnnl::eltwise_forward::desc(dnnl::prop_kind::forward_inference, e.alg, dst_md, e.alpha, e.beta), eng));
        steps_.push_back(std::move(st));
      }
    }
  }
  return true;
}

void PostChain::run(dnnl::stream& s, KernelIO& io, dnnl::memory& dst) {
  for (auto& st : steps_) {
    if (st.sum) {
      dnnl::memory m = st.prep.get(s, io.in[size_t(st.input)]);
      st.prim.execute(s, {{DNNL_ARG_SRC_0, dst}, {DNNL_ARG_SRC_1, m}, {DNNL_ARG_DST, dst}});
    } else {
      st.prim.execute(s, {{DNNL_ARG_SRC, dst}, {DNNL_ARG_DST, dst}});
    }
  }
}

bool SumInput::init(const dnnl::engine& eng, const ValueInfo& in, const md_t& dst_md, int idx) {
  if (!in.present() || in.md.dims() != dst_md.dims() || in.md.data_type() != dst_md.data_type()) return false;
  idx_ = idx;
  bytes_ = dst_md.get_size();
  if (in.md != dst_md) {
    reorder_ = true;
    prim_ = dnnl::reorder(dnnl::reorder::primitive_desc(eng, in.md, eng, dst_md));
  }
  return true;
}

void SumInput::run(dnnl::stream& s, KernelIO& io, dnnl::memory& dst) {
  dnnl::memory& src = io.in[size_t(idx_)];
  if (src.get_data_handle() == dst.get_data_handle()) return;
  if (reorder_) prim_.execute(s, src, dst);
  else std::memcpy(dst.get_data_handle(), src.get_data_handle(), bytes_);
}

// One spatial dim of an ONNX conv/pool window: replaces the explicit pads
// (l, r) by what auto_pad asks for (VALID, SAME_UPPER, SAME_LOWER) given the
// input, the dilated kernel extent kr, the stride and the output size. False
// on an unknown auto_pad or negative pads.
static bool resolve_auto_pad(const std::string& ap, int64_t in, int64_t kr, int64_t s, int64_t out, int64_t& l,
                             int64_t& r) {
  if (ap == "VALID") {
    l = r = 0;
  } else if (ap == "SAME_UPPER" || ap == "SAME_LOWER") {
    int64_t total = std::max<int64_t>(0, (out - 1) * s + kr - in);
    l = ap == "SAME_UPPER" ? total / 2 : total - total / 2;
    r = total - l;
  } else if (ap != "NOTSET" && !ap.empty()) {
    return false;
  }
  return l >= 0 && r >= 0;
}

bool impl_sums_u8s8_exactly(const std::string& impl) {
  if (impl.find("vnni") != std::string::npos || impl.find("amx") != std::string::npos) return true;
  for (const char* isa : {"sse41", "avx"})  // avx2, avx512_core: the vnni / amx ones returned above
    if (impl.find(isa) != std::string::npos) return false;
  return cpu_has_vnni();
}

bool u8s8_pairs_may_saturate(const int8_t* w, int64_t rows, int64_t K, int64_t row_stride, int64_t k_stride,
                             int64_t inner) {
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t k = 0; k + 1 < K; k += 2)
      for (int64_t i = 0; i < inner; ++i) {
        const int8_t* p = w + r * row_stride + k * k_stride + i;
        if (std::abs(int(p[0])) + std::abs(int(p[k_stride])) > 128) return true;
      }
  return false;
}

bool relu_clip_bounds(const Node& n, float inv, float& lo, float& hi, bool after_sum) {
  lo = -3.4028235e38f;
  hi = 3.4028235e38f;
  size_t first = 0;
  if (after_sum) {
    if (n.post_ops.empty() || n.post_ops[0].kind != PostOp::Sum) return false;
    first = 1;
  }
  if (n.post_ops.size() > first + 1) return false;
  for (size_t i = first; i < n.post_ops.size(); ++i) {
    const PostOp& p = n.post_ops[i];
    if (p.kind != PostOp::Eltwise) return false;
    if (p.op == "Relu") {
      lo = 0.f;
    } else if (p.op == "Clip") {
      lo = p.alpha * inv;
      hi = p.beta * inv;
    } else {
      return false;
    }
  }
  return true;
}

bool is_flat_dense(const md_t& md) {
  size_t elems = 1;
  for (int i = 0; i < md.data.ndims; ++i) elems *= size_t(md.data.dims[i]);
  return md.data.format_kind == dnnl_blocked && md.get_size() == elems;
}

bool is_nc_dense(const md_t& md, int64_t* blk) {
  const dnnl_memory_desc_t& d = md.data;
  if (d.format_kind != dnnl_blocked || d.ndims < 2 || d.offset0 != 0) return false;
  const auto& b = d.format_desc.blocking;
  int64_t k = 1;
  if (b.inner_nblks == 1 && b.inner_idxs[0] == 1) k = b.inner_blks[0];
  else if (b.inner_nblks != 0) return false;
  for (int i = 0; i < d.ndims; ++i)
    if (d.padded_dims[i] != d.dims[i] || d.padded_offsets[i] != 0) return false;
  if (d.dims[1] % k) return false;
  int64_t stride = k;  // innermost outer dim
  for (int i = d.ndims - 1; i >= 2; --i) {
    if (d.dims[i] != 1 && b.strides[i] != stride) return false;
    stride *= d.dims[i];
  }
  if (d.dims[1] / k != 1 && b.strides[1] != stride) return false;
  stride *= d.dims[1] / k;
  if (d.dims[0] != 1 && b.strides[0] != stride) return false;
  *blk = k;
  return true;
}

bool is_channels_last_dense(const md_t& md, int64_t* channels) {
  const dnnl_memory_desc_t& d = md.data;
  if (d.format_kind != dnnl_blocked || d.ndims < 3 || d.offset0 != 0) return false;
  const auto& b = d.format_desc.blocking;
  if (b.inner_nblks != 0) return false;
  for (int i = 0; i < d.ndims; ++i)
    if (d.padded_dims[i] != d.dims[i] || d.padded_offsets[i] != 0 || d.dims[i] <= 0) return false;
  if (d.dims[1] != 1 && b.strides[1] != 1) return false;
  int64_t stride = d.dims[1];
  for (int i = d.ndims - 1; i >= 2; --i) {
    if (d.dims[i] != 1 && b.strides[i] != stride) return false;
    stride *= d.dims[i];
  }
  if (d.dims[0] != 1 && b.strides[0] != stride) return false;
  *channels = d.dims[1];
  return true;
}

int node_opset(const BuildCtx& ctx) {
  if (ctx.node && ctx.node->has("_opset")) return int(ctx.node->attr_i("_opset", 13));
  if (ctx.graph) return int(ctx.graph->opset);
  return 13;
}


bool pool_geometry(const Node& n, const std::string& op, const Shape& xs, const Shape& ys, PoolGeometry& g) {
  int r = int(xs.size());
  if (r < 3 || r > 5 || int(ys.size()) != r || ys[0] != xs[0] || ys[1] != xs[1]) return false;
  for (auto v : xs) if (v <= 0) return false;
  int sp = r - 2;
  bool global = op == "GlobalAveragePool" || op == "GlobalMaxPool";
  bool is_max = op == "MaxPool" || op == "GlobalMaxPool";
  dnnl::algorithm alg = dnnl::algorithm::pooling_max;
  dims_t &kernel = g.kernel, &strides = g.strides, &dil = g.dil, &pl = g.pl, &pr = g.pr;
  if (global) {
    for (int i = 0; i < sp; ++i) {
      if (ys[size_t(i) + 2] != 1) return false;
      kernel.push_back(xs[size_t(i) + 2]);
      strides.push_back(1);
      dil.push_back(0);
      pl.push_back(0);
      pr.push_back(0);
    }
    if (!is_max) alg = dnnl::algorithm::pooling_avg_exclude_padding;
  } else {
    auto ks = n.attr_ints("kernel_shape");
    if (ks.size() != size_t(sp)) return false;
    auto st = n.attr_ints("strides", std::vector<int64_t>(size_t(sp), 1));
    auto dl = n.attr_ints("dilations", std::vector<int64_t>(size_t(sp), 1));
    auto pads = n.attr_ints("pads", std::vector<int64_t>(size_t(2 * sp), 0));
    if (st.size() != size_t(sp) || dl.size() != size_t(sp) || pads.size() != size_t(2 * sp)) return false;
    std::string ap = n.attr_s("auto_pad", "NOTSET");
    bool include_pad = !is_max && n.attr_i("count_include_pad", 0) != 0;
    if (!is_max) alg = include_pad ? dnnl::algorithm::pooling_avg_include_padding : dnnl::algorithm::pooling_avg_exclude_padding;
    for (int i = 0; i < sp; ++i) {
      int64_t in = xs[size_t(i) + 2], k = ks[size_t(i)], s = st[size_t(i)], d = dl[size_t(i)], out = ys[size_t(i) + 2];
      if (k < 1 || s < 1 || d < 1 || out < 1) return false;
      int64_t kr = (k - 1) * d + 1;
      int64_t l = pads[size_t(i)], rr = pads[size_t(i + sp)];
      if (!resolve_auto_pad(ap, in, kr, s, out, l, rr)) return false;
      // Right padding that makes oneDNN produce exactly `out` (ceil_mode).
      int64_t need = (out - 1) * s + kr - in - l;
      if (need > rr) {
        if (include_pad) return false;
        // Every window must still start inside input + left padding.
        if ((out - 1) * s >= in + l) return false;
        rr = need;
      }
      if ((in + l + rr - kr) / s + 1 != out) return false;
      // oneDNN requires padding smaller than the kernel extent.
      if (l >= kr || rr >= kr) return false;
      kernel.push_back(k);
      strides.push_back(s);
      dil.push_back(d - 1);
      pl.push_back(l);
      pr.push_back(rr);
    }
  }
  g.alg = alg;
  g.is_max = is_max;
  g.global = global;
  return true;
}

bool conv_geom(const BuildCtx& ctx, ConvGeom& g) {
  const Node& n = *ctx.node;
  const Shape& xs = ctx.in[0].shape;
  const Shape& ws = ctx.in[1].shape;
  const Shape& ys = ctx.out[0].shape;
  int r = int(xs.size());
  if (r < 3 || r > 5 || int(ws.size()) != r || int(ys.size()) != r) return false;
  for (auto v : xs) if (v <= 0) return false;
  for (auto v : ys) if (v <= 0) return false;
  g.sp = r - 2;
  g.group = n.attr_i("group", 1);
  g.M = ws[0];
  g.C = xs[1];
  if (g.group < 1 || g.C % g.group || g.M % g.group || ws[1] * g.group != g.C) return false;
  auto ks = n.attr_ints("kernel_shape");
  for (int i = 0; i < g.sp && !ks.empty(); ++i)
    if (ks.size() != size_t(g.sp) || ks[size_t(i)] != ws[size_t(i) + 2]) return false;
  auto strides = n.attr_ints("strides", std::vector<int64_t>(size_t(g.sp), 1));
  auto dil = n.attr_ints("dilations", std::vector<int64_t>(size_t(g.sp), 1));
  auto pads = n.attr_ints("pads", std::vector<int64_t>(size_t(2 * g.sp), 0));
  if (strides.size() != size_t(g.sp) || dil.size() != size_t(g.sp) || pads.size() != size_t(2 * g.sp)) return false;
  std::string ap = n.attr_s("auto_pad", "NOTSET");
  for (int i = 0; i < g.sp; ++i) {
    int64_t in = xs[size_t(i) + 2], k = ws[size_t(i) + 2], s = strides[size_t(i)], d = dil[size_t(i)], out = ys[size_t(i) + 2];
    if (s < 1 || d < 1) return false;
    int64_t kr = (k - 1) * d + 1;
    int64_t l = pads[size_t(i)], rr = pads[size_t(i + g.sp)];
    if (!resolve_auto_pad(ap, in, kr, s, out, l, rr)) return false;
    if ((in + l + rr - kr) / s + 1 != out || in + l + rr < kr) return false;
    g.strides.push_back(s);
    g.dil.push_back(d - 1);
    g.pl.push_back(l);
    g.pr.push_back(rr);
  }
  g.src = to_dims(xs);
  g.dst = to_dims(ys);
  g.wei_user_plain = to_dims(ws);
  if (g.group > 1) {
    g.wei = {g.group, g.M / g.group, ws[1]};
    for (int i = 0; i < g.sp; ++i) g.wei.push_back(ws[size_t(i) + 2]);
  } else {
    g.wei = to_dims(ws);
  }
  g.bias = {g.M};
  return true;
}

md_t plain_dims(const dims_t& d, dt t) {
  dims_t strides(d.size(), 1);
  for (int i = int(d.size()) - 2; i >= 0; --i) strides[size_t(i)] = strides[size_t(i) + 1] * d[size_t(i) + 1];
  return md_t(d, t, strides);
}

}  // namespace c8::dnnlk
