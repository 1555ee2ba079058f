// Gemm (alpha, beta, transA, transB, unidirectionally broadcast C, fused
// post-ops) and MatMul (numpy batched broadcasting, 1-D promotion; fused
// post-ops too, should a pass attach them).
#include <cstring>
#include <type_traits>

#include "ops/ref/broadcast.h"
#include "ops/ref/post_ops.h"
#include "ops/op_registry.h"

namespace c8 {
namespace {

struct GemmDims {
  int64_t M, K, N;
};

GemmDims gemm_dims(const Node& n, const Shape& a, const Shape& b, const Shape* c) {
  if (a.size() != 2) node_error(n, "A must be 2-D, got " + shape_str(a));
  if (b.size() != 2) node_error(n, "B must be 2-D, got " + shape_str(b));
  bool ta = n.attr_i("transA", 0) != 0, tb = n.attr_i("transB", 0) != 0;
  GemmDims d;
  d.M = ta ? a[1] : a[0];
  d.K = ta ? a[0] : a[1];
  int64_t kb = tb ? b[1] : b[0];
  d.N = tb ? b[0] : b[1];
  if (d.K >= 0 && kb >= 0 && d.K != kb)
    node_error(n, "inner dimensions differ: A " + shape_str(a) + (ta ? " (transposed)" : "") + " vs B " + shape_str(b) +
                      (tb ? " (transposed)" : ""));
  if (c && !broadcastable_to(*c, {d.M, d.N}))
    node_error(n, "C shape " + shape_str(*c) + " is not broadcastable to [" + std::to_string(d.M) + "," + std::to_string(d.N) + "]");
  return d;
}

std::vector<TypeShape> gemm_infer(const Node& n, const std::vector<TypeShape>& in) {
  require_inputs(n, in, 2, max_inputs_with_post_ops(n, 3));
  DType t = in[0].dtype;
  if (!is_float_dtype(t) && !is_int_dtype(t)) node_error(n, std::string("unsupported dtype ") + dtype_name(t));
  if (in[1].dtype != t) node_error(n, "A and B dtypes differ");
  bool hc = in.size() > 2 && in[2].present();
  if (hc && in[2].dtype != t) node_error(n, "C dtype differs from A");
  GemmDims d = gemm_dims(n, in[0].shape, in[1].shape, hc ? &in[2].shape : nullptr);
  TypeShape o{t, {d.M, d.N}};
  check_post_ops(n, in, o);
  return {o};
}

template <class T>
void gemm_run(const Node& n, const GemmDims& d, const Tensor& A, const Tensor& B, const Tensor* C, Tensor& Y) {
  bool ta = n.attr_i("transA", 0) != 0, tb = n.attr_i("transB", 0) != 0;
  double alpha = n.attr_f("alpha", 1.f), beta = n.attr_f("beta", 1.f);
  const T* a = A.data<T>();
  const T* b = B.data<T>();
  T* y = Y.data<T>();
  std::vector<int64_t> ci;
  if (C) ci = broadcast_index(C->shape, {d.M, d.N});
  for (int64_t i = 0; i < d.M; ++i)
    for (int64_t j = 0; j < d.N; ++j) {
      double acc = 0;
      for (int64_t k = 0; k < d.K; ++k) {
        double av = ta ? a[k * d.M + i] : a[i * d.K + k];
        double bv = tb ? b[j * d.K + k] : b[k * d.N + j];
        acc += av * bv;
      }
      double r = alpha * acc;
      if (C) r += beta * C->get_f64(ci[size_t(i * d.N + j)]);
      y[i * d.N + j] = T(r);
    }
}

void gemm_ref(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  if (run_half_as_float(n, in, out, gemm_ref)) return;
  const Tensor& A = in.at(0);
  const Tensor& B = in.at(1);
  const Tensor* C = in.size() > 2 && in[2].defined() ? &in[2] : nullptr;
  if (B.dtype != A.dtype || (C && C->dtype != A.dtype)) node_error(n, "input dtypes differ");
  GemmDims d = gemm_dims(n, A.shape, B.shape, C ? &C->shape : nullptr);
  Tensor& Y = ref_output(out, 0, A.dtype, {d.M, d.N});
  dispatch_numeric(n, A.dtype, [&](auto tag) {
    using T = decltype(tag);
    gemm_run<T>(n, d, A, B, C, Y);
  });
  apply_post_ops(n, in, Y);
}

// ---------------------------------------------------------------- MatMul

struct MatMulShape {
  Shape out;            // final output shape
  Shape batch;          // broadcast batch dims
  Shape a_batch, b_batch;
  int64_t M, K, N;
};

MatMulShape matmul_shape(const Node& n, const Shape& a0, const Shape& b0) {
  if (a0.empty() || b0.empty()) node_error(n, "inputs must have rank >= 1");
  Shape a = a0, b = b0;
  bool pa = a.size() == 1, pb = b.size() == 1;
  if (pa) a.insert(a.begin(), 1);
  if (pb) b.push_back(1);
  MatMulShape s;
  s.M = a[a.size() - 2];
  s.K = a[a.size() - 1];
  s.N = b[b.size() - 1];
  int64_t kb = b[b.size() - 2];
  if (s.K >= 0 && kb >= 0 && s.K != kb)
    node_error(n, "inner dimensions differ: " + shape_str(a0) + " x " + shape_str(b0));
  s.a_batch = Shape(a.begin(), a.end() - 2);
  s.b_batch = Shape(b.begin(), b.end() - 2);
  if (!broadcast_shapes(s.a_batch, s.b_batch, s.batch))
    node_error(n, "batch dimensions are not broadcastable: " + shape_str(a0) + " x " + shape_str(b0));
  s.out = s.batch;
  if (!pa) s.out.push_back(s.M);
  if (!pb) s.out.push_back(s.N);
  return s;
}

std::vector<TypeShape> matmul_infer(const Node& n, const std::vector<TypeShape>& in) {
  require_inputs(n, in, 2, max_inputs_with_post_ops(n, 2));
  DType t = in[0].dtype;
  if (!is_float_dtype(t) && !is_int_dtype(t)) node_error(n, std::string("unsupported dtype ") + dtype_name(t));
  if (in[1].dtype != t) node_error(n, "input dtypes differ");
  TypeShape o{t, matmul_shape(n, in[0].shape, in[1].shape).out};
  check_post_ops(n, in, o);
  return {o};
}

void matmul_ref(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  if (run_half_as_float(n, in, out, matmul_ref)) return;
  const Tensor& A = in.at(0);
  const Tensor& B = in.at(1);
  if (A.dtype != B.dtype) node_error(n, "input dtypes differ");
  MatMulShape s = matmul_shape(n, A.shape, B.shape);
  Tensor& Y = ref_output(out, 0, A.dtype, s.out);
  auto ia = broadcast_index(s.a_batch, s.batch), ib = broadcast_index(s.b_batch, s.batch);
  int64_t nb = shape_numel(s.batch);
  dispatch_numeric(n, A.dtype, [&](auto tag) {
    using T = decltype(tag);
    using Acc = std::conditional_t<std::is_floating_point_v<T>, double,
                                   std::conditional_t<std::is_signed_v<T>, int64_t, uint64_t>>;
    const T* a = A.data<T>();
    const T* b = B.data<T>();
    T* y = Y.data<T>();
    for (int64_t bt = 0; bt < nb; ++bt) {
      const T* ap = a + ia[size_t(bt)] * s.M * s.K;
      const T* bp = b + ib[size_t(bt)] * s.K * s.N;
      T* yp = y + bt * s.M * s.N;
      for (int64_t i = 0; i < s.M; ++i)
        for (int64_t j = 0; j < s.N; ++j) {
          Acc acc = 0;
          for (int64_t k = 0; k < s.K; ++k) acc += Acc(ap[i * s.K + k]) * Acc(bp[k * s.N + j]);
          yp[i * s.N + j] = T(acc);
        }
    }
  });
  apply_post_ops(n, in, Y);
}

C8_REGISTER_OPS({
    OpDef{"Gemm", "", 11, gemm_infer, gemm_ref},
    OpDef{"MatMul", "", 9, matmul_infer, matmul_ref},
});

}  // namespace
}  // namespace c8
