// Add / Sub / Mul / Div / Max / Min (2 inputs, f32) on dnnl::binary with
// numpy broadcasting of the second operand. The output takes input 0's
// layout; a same-shape input 1 is reordered into it when it differs; a
// broadcast input 1 is used plain (e.g. a [1,C,1,1] bias). When input 0 is
// the broadcast one, commutative ops swap operands and Sub computes
// -(b - a) with a linear post-op; Div then goes to the reference kernel.
// Fused post-ops (eltwise, Sum) go into the primitive attr.
#include "runtime/kernels/onednn/common.h"

namespace c8::dnnlk {
namespace {

struct BinaryKernel : Kernel {
  dnnl::binary::primitive_desc pd;
  dnnl::binary prim;
  int i0 = 0, i1 = 1;  // node inputs feeding SRC_0 / SRC_1
  InputPrep p0, p1;
  SumInput sum;
  void execute(KernelIO& io) override {
    dnnl::stream& s = *io.stream;
    dnnl::memory a = p0.get(s, io.in[size_t(i0)]);
    dnnl::memory b = p1.get(s, io.in[size_t(i1)]);
    if (sum.active()) sum.run(s, io, io.out[0]);
    prim.execute(s, {{DNNL_ARG_SRC_0, a}, {DNNL_ARG_SRC_1, b}, {DNNL_ARG_DST, io.out[0]}});
  }
  std::string impl() const override { return impl_of(pd) + (p0.needs_copy() || p1.needs_copy() ? " +reorder" : ""); }
};

md_t plain_dims(const dims_t& d, dt t) {
  dims_t strides(d.size(), 1);
  for (int i = int(d.size()) - 2; i >= 0; --i) strides[size_t(i)] = strides[size_t(i) + 1] * std::max<int64_t>(d[size_t(i) + 1], 1);
  return md_t(d, t, strides);
}

std::unique_ptr<Kernel> make_binary(BuildCtx& ctx) {
  const Node& n = *ctx.node;
  const dnnl::engine& eng = *ctx.engine;
  if (ctx.in.size() != 2 || ctx.out.empty() || !is_f32(ctx.in[0]) || !is_f32(ctx.in[1]) || !is_f32(ctx.out[0])) return nullptr;
  Shape S = ctx.out[0].shape;
  if (S.empty()) S = {1};
  for (auto v : S) if (v <= 0) return nullptr;
  size_t r = S.size();
  if (r > 6) return nullptr;
  auto pad = [&](Shape s) { if (s.empty()) s = {1}; while (s.size() < r) s.insert(s.begin(), 1); return s; };
  Shape a = pad(ctx.in[0].shape), b = pad(ctx.in[1].shape);
  if (a.size() != r || b.size() != r) return nullptr;
  dnnl::algorithm alg;
  const std::string& op = n.op;
  if (op == "Add") alg = dnnl::algorithm::binary_add;
  else if (op == "Mul") alg = dnnl::algorithm::binary_mul;
  else if (op == "Max") alg = dnnl::algorithm::binary_max;
  else if (op == "Min") alg = dnnl::algorithm::binary_min;
  else if (op == "Sub") alg = dnnl::algorithm::binary_sub;
  else if (op == "Div") alg = dnnl::algorithm::binary_div;
  else return nullptr;

  auto k = std::make_unique<BinaryKernel>();
  bool negate = false;
  if (a != S) {
    if (b != S) return nullptr;
    if (op == "Div") return nullptr;
    if (op == "Sub") negate = true;
    std::swap(a, b);
    k->i0 = 1;
    k->i1 = 0;
  }
  for (size_t i = 0; i < r; ++i)
    if (b[i] != a[i] && b[i] != 1) return nullptr;

  dnnl::post_ops ops;
  if (negate) ops.append_eltwise(1.f, dnnl::algorithm::eltwise_linear, -1.f, 0.f);
  int sum_in = -1;  // appended after the negation, which must come first
  if (!append_post_ops(n, ops, &sum_in)) return nullptr;
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);
  try {
    const ValueInfo& v0 = ctx.in[size_t(k->i0)];
    const ValueInfo& v1 = ctx.in[size_t(k->i1)];
    // src0 / dst md: input 0's layout when its rank matches, else plain.
    md_t md0 = v0.md.dims() == to_dims(a) ? v0.md : plain_dims(to_dims(a), dt::f32);
    if (!k->p0.init(eng, v0.md, md0)) return nullptr;
    md_t md1;
    if (b == a) md1 = md0;
    else md1 = plain_dims(to_dims(b), dt::f32);
    if (!k->p1.init(eng, v1.md, md1)) return nullptr;
    k->pd = dnnl::binary::primitive_desc(dnnl::binary::desc(alg, md0, md1, md0), attr, eng);
    k->prim = dnnl::binary(k->pd);
    md_t out_md = md0;
    if (ctx.out[0].shape.size() != r || ctx.out[0].shape.empty()) {
      // Rank-0 output: md0 is [1] plain, same bytes.
      if (!is_plain_md(md0)) return nullptr;
      out_md = plain_md(DType::F32, ctx.out[0].shape);
    }
    if (sum_in >= 0 && (size_t(sum_in) >= ctx.in.size() || !k->sum.init(eng, ctx.in[size_t(sum_in)], out_md, sum_in)))
      return nullptr;
    ctx.out[0].md = out_md;
  } catch (const dnnl::error&) {
    return nullptr;
  }
  return k;
}

C8_REGISTER_FAST_KERNEL("Add", 100, make_binary);
C8_REGISTER_FAST_KERNEL("Sub", 100, make_binary);
C8_REGISTER_FAST_KERNEL("Mul", 100, make_binary);
C8_REGISTER_FAST_KERNEL("Div", 100, make_binary);
C8_REGISTER_FAST_KERNEL("Max", 100, make_binary);
C8_REGISTER_FAST_KERNEL("Min", 100, make_binary);

}  // namespace
}  // namespace c8::dnnlk
