// Gemm and MatMul on dnnl::matmul (f32).
//  Gemm: Y = alpha * A' * B' + beta * C with transA/transB via strided
//        descriptors; constant B is scaled by alpha and reordered once into
//        the layout the primitive chose (weights format any); C (1-D [N],
//        [1,N], [M,1], [M,N] or scalar) becomes the matmul bias (beta folded
//        in when C is constant). Eltwise / Sum post-ops are fused.
//  MatMul: 1-D..N-D with numpy batch broadcasting, constant or run-time B.
// Outputs are plain row-major (consumers such as Softmax/Flatten/Reshape
// expect plain). Inputs arriving in a blocked layout are reordered to plain.
//
// INT8 later: the weights reorder goes through const_to_memory with the
// weights data type of the pd; scales go into the primitive_attr.
#include <cstring>
#include <unordered_map>

#include "runtime/kernels/onednn/common.h"

namespace c8::dnnlk {
namespace {

md_t plain_dims(const dims_t& d, dt t) {
  dims_t strides(d.size(), 1);
  for (int i = int(d.size()) - 2; i >= 0; --i) strides[size_t(i)] = strides[size_t(i) + 1] * std::max<int64_t>(d[size_t(i) + 1], 1);
  return md_t(d, t, strides);
}

struct MatmulKernel : Kernel {
  dnnl::matmul::primitive_desc pd;
  dnnl::matmul prim;
  // src (A): optional reorder to plain, then a view with the primitive's md
  // (transA: a strided view, transposed into a plain copy by a_tr).
  LayoutAdapter a_ad, a_tr;
  View a_view;
  // weights (B)
  bool b_const = true;
  dnnl::memory b;
  LayoutAdapter b_ad, b_ad2;
  View b_view;
  // bias (C)
  int bias_mode = 0;  // 0 none, 1 constant, 2 run-time input 2
  dnnl::memory bias;
  View bias_view;
  View dst_view;
  SumInput sum;
  // Gemm C of shape [M,N] / [M,1]: written into dst before a sum post-op
  // (scale beta); constant C kept in c_const.
  int c_fill = 0;  // 0 none, 1 constant, 2 run-time input 2
  Tensor c_const;
  int64_t fill_M = 0, fill_N = 0, c_cols = 0;

  void fill_c(KernelIO& io) {
    const float* c = c_fill == 1 ? c_const.data<float>() : static_cast<const float*>(io.in[2].get_data_handle());
    float* d = static_cast<float*>(io.out[0].get_data_handle());
    if (c_cols == fill_N) {
      std::memcpy(d, c, size_t(fill_M * fill_N) * sizeof(float));
    } else {
      for (int64_t m = 0; m < fill_M; ++m)
        for (int64_t n = 0; n < fill_N; ++n) d[m * fill_N + n] = c[m];
    }
  }

  void execute(KernelIO& io) override {
    dnnl::stream& s = *io.stream;
    dnnl::memory a = a_view.of(a_ad.convert(s, io.in[0]));
    if (a_tr.needed()) a = a_tr.convert(s, a);
    dnnl::memory w = b_const ? b : b_ad2.convert(s, b_view.of(b_ad.convert(s, io.in[1])));
    dnnl::memory& dst = dst_view.of(io.out[0]);
    if (sum.active()) sum.run(s, io, io.out[0]);
    if (c_fill) fill_c(io);
    std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, dst}};
    if (bias_mode == 1) args[DNNL_ARG_BIAS] = bias;
    else if (bias_mode == 2) args[DNNL_ARG_BIAS] = bias_view.of(io.in[2]);
    prim.execute(s, args);
  }
  std::string impl() const override { return impl_of(pd) + (a_ad.needed() || a_tr.needed() ? " +reorder" : ""); }
};

md_t plain_of_info(const ValueInfo& v) { return plain_md(v.dtype, v.shape); }

std::unique_ptr<Kernel> make_gemm(BuildCtx& ctx) {
  const Node& n = *ctx.node;
  const dnnl::engine& eng = *ctx.engine;
  if (ctx.in.size() < 2 || ctx.out.empty() || !is_f32(ctx.in[0]) || !is_f32(ctx.in[1]) || !is_f32(ctx.out[0])) return nullptr;
  const Shape& as = ctx.in[0].shape;
  const Shape& bs = ctx.in[1].shape;
  if (as.size() != 2 || bs.size() != 2 || ctx.out[0].shape.size() != 2) return nullptr;
  bool ta = n.attr_i("transA", 0) != 0, tb = n.attr_i("transB", 0) != 0;
  float alpha = n.attr_f("alpha", 1.f), beta = n.attr_f("beta", 1.f);
  int64_t M = ta ? as[1] : as[0], K = ta ? as[0] : as[1];
  int64_t N = tb ? bs[0] : bs[1], K2 = tb ? bs[1] : bs[0];
  if (K != K2 || ctx.out[0].shape != Shape{M, N} || M <= 0 || N <= 0 || K <= 0) return nullptr;
  bool has_c = ctx.in.size() > 2 && ctx.in[2].present() && beta != 0.f;
  if (ctx.in.size() > 2 && ctx.in[2].present() && !is_f32(ctx.in[2])) return nullptr;
  if (!ctx.in[1].constant && alpha != 1.f) return nullptr;

  // Bias dims from C's shape (unidirectional broadcast to [M,N]).
  dims_t cd;
  if (has_c) {
    Shape cs = ctx.in[2].shape;
    while (cs.size() < 2) cs.insert(cs.begin(), 1);
    if (cs.size() != 2 || (cs[0] != 1 && cs[0] != M) || (cs[1] != 1 && cs[1] != N)) return nullptr;
    cd = {cs[0], cs[1]};
    if (!ctx.in[2].constant && !is_plain_md(ctx.in[2].md)) return nullptr;
  }
  // C with a row per output row ([M,N] / [M,1], M > 1) is not a matmul bias
  // the fast implementations take: it goes through a sum post-op instead.
  bool c_as_sum = has_c && cd[0] != 1;
  if (has_c && !c_as_sum && !ctx.in[2].constant && beta != 1.f) return nullptr;
  dnnl::post_ops ops;
  if (c_as_sum) ops.append_sum(beta);
  int sum_in = -1;  // appended after C's sum
  if (!append_post_ops(n, ops, &sum_in)) return nullptr;
  if (c_as_sum && sum_in >= 0) return nullptr;  // one sum post-op only
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);

  auto k = std::make_unique<MatmulKernel>();
  try {
    md_t a_user = ta ? md_t({M, K}, dt::f32, dims_t{1, M}) : md_t({M, K}, dt::f32, dims_t{K, 1});
    md_t a_md = md_t({M, K}, dt::f32, dims_t{K, 1});
    md_t b_user = tb ? md_t({K, N}, dt::f32, dims_t{1, K}) : md_t({K, N}, dt::f32, dims_t{N, 1});
    md_t b_md = ctx.in[1].constant ? md_t({K, N}, dt::f32, tag::any) : b_user;
    md_t c_md = has_c && !c_as_sum ? plain_dims(cd, dt::f32) : md_t();
    md_t d_md = plain_dims({M, N}, dt::f32);
    k->pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(a_md, b_md, c_md, d_md), attr, eng);
    k->prim = dnnl::matmul(k->pd);
    k->a_ad = LayoutAdapter(eng, ctx.in[0].md, plain_of_info(ctx.in[0]));
    k->a_view = View(eng, a_user);
    k->a_tr = LayoutAdapter(eng, a_user, a_md);
    if (ctx.in[1].constant) {
      const Tensor& bt = *ctx.in[1].constant;
      if (alpha != 1.f) {
        Tensor sc = bt.clone();
        float* p = sc.data<float>();
        for (int64_t i = 0; i < sc.numel(); ++i) p[i] *= alpha;
        k->b = const_to_memory(eng, sc, b_user, k->pd.weights_desc(), k->owned);
      } else {
        k->b = const_to_memory(eng, bt, b_user, k->pd.weights_desc(), k->owned);
      }
    } else {
      k->b_const = false;
      k->b_ad = LayoutAdapter(eng, ctx.in[1].md, plain_of_info(ctx.in[1]));
      k->b_view = View(eng, b_user);
      k->b_ad2 = LayoutAdapter(eng, b_user, k->pd.weights_desc());
    }
    if (c_as_sum) {
      k->fill_M = M;
      k->fill_N = N;
      k->c_cols = cd[1];
      if (ctx.in[2].constant) {
        k->c_const = ctx.in[2].constant->clone();
        k->c_fill = 1;
      } else {
        k->c_fill = 2;
      }
    } else if (has_c) {
      if (ctx.in[2].constant) {
        Tensor ct = ctx.in[2].constant->clone();
        float* p = ct.data<float>();
        for (int64_t i = 0; i < ct.numel(); ++i) p[i] *= beta;
        k->bias = const_to_memory(eng, ct, c_md, k->pd.bias_desc(), k->owned);
        k->bias_mode = 1;
      } else {
        k->bias_view = View(eng, c_md);
        k->bias_mode = 2;
      }
    }
    k->dst_view = View(eng, d_md);
    md_t out_md = plain_md(DType::F32, ctx.out[0].shape);
    if (sum_in >= 0 && (size_t(sum_in) >= ctx.in.size() || !k->sum.init(eng, ctx.in[size_t(sum_in)], out_md, sum_in)))
      return nullptr;
    ctx.out[0].md = out_md;
  } catch (const dnnl::error&) {
    return nullptr;
  }
  return k;
}

std::unique_ptr<Kernel> make_matmul(BuildCtx& ctx) {
  const Node& n = *ctx.node;
  const dnnl::engine& eng = *ctx.engine;
  if (ctx.in.size() != 2 || ctx.out.empty() || !is_f32(ctx.in[0]) || !is_f32(ctx.in[1]) || !is_f32(ctx.out[0])) return nullptr;
  Shape as = ctx.in[0].shape, bs = ctx.in[1].shape;
  if (as.empty() || bs.empty()) return nullptr;
  for (auto v : as) if (v <= 0) return nullptr;
  for (auto v : bs) if (v <= 0) return nullptr;
  if (as.size() == 1) as.insert(as.begin(), 1);
  if (bs.size() == 1) bs.push_back(1);
  size_t r = std::max(as.size(), bs.size());
  if (r > 6) return nullptr;
  while (as.size() < r) as.insert(as.begin(), 1);
  while (bs.size() < r) bs.insert(bs.begin(), 1);
  int64_t M = as[r - 2], K = as[r - 1], N = bs[r - 1];
  if (bs[r - 2] != K) return nullptr;
  dims_t dd(r);
  for (size_t i = 0; i + 2 < r; ++i) {
    if (as[i] != bs[i] && as[i] != 1 && bs[i] != 1) return nullptr;
    dd[i] = std::max(as[i], bs[i]);
  }
  dd[r - 2] = M;
  dd[r - 1] = N;
  if (shape_numel(ctx.out[0].shape) != M * N * [&] { int64_t p = 1; for (size_t i = 0; i + 2 < r; ++i) p *= dd[i]; return p; }())
    return nullptr;

  dnnl::post_ops ops;
  int sum_in = -1;
  if (!append_post_ops(n, ops, &sum_in)) return nullptr;
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);

  auto k = std::make_unique<MatmulKernel>();
  try {
    md_t a_md = plain_dims(to_dims(as), dt::f32);
    md_t b_user = plain_dims(to_dims(bs), dt::f32);
    md_t b_md = ctx.in[1].constant ? md_t(to_dims(bs), dt::f32, tag::any) : b_user;
    md_t d_md = plain_dims(dd, dt::f32);
    k->pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(a_md, b_md, d_md), attr, eng);
    k->prim = dnnl::matmul(k->pd);
    k->a_ad = LayoutAdapter(eng, ctx.in[0].md, plain_of_info(ctx.in[0]));
    k->a_view = View(eng, a_md);
    if (ctx.in[1].constant) {
      k->b = const_to_memory(eng, *ctx.in[1].constant, b_user, k->pd.weights_desc(), k->owned);
    } else {
      k->b_const = false;
      k->b_ad = LayoutAdapter(eng, ctx.in[1].md, plain_of_info(ctx.in[1]));
      k->b_view = View(eng, b_user);
      k->b_ad2 = LayoutAdapter(eng, b_user, k->pd.weights_desc());
    }
    k->dst_view = View(eng, d_md);
    md_t out_md = plain_md(DType::F32, ctx.out[0].shape);
    if (sum_in >= 0 && (size_t(sum_in) >= ctx.in.size() || !k->sum.init(eng, ctx.in[size_t(sum_in)], out_md, sum_in)))
      return nullptr;
    ctx.out[0].md = out_md;
  } catch (const dnnl::error&) {
    return nullptr;
  }
  return k;
}

C8_REGISTER_FAST_KERNEL("Gemm", 100, make_gemm);
C8_REGISTER_FAST_KERNEL("MatMul", 100, make_matmul);

}  // namespace
}  // namespace c8::dnnlk
