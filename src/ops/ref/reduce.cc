// ReduceMean/Sum/Max/Min/Prod/L1/L2/LogSum/LogSumExp/SumSquare (axes as
// attribute or input, keepdims, noop_with_empty_axes) and ArgMax/ArgMin.
// Accumulates in long double (exact for 64-bit integer sums).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "ops/ref/broadcast.h"
#include "ops/op_registry.h"

namespace c8 {
namespace {

// Reduced-axis mask; returns false when axes come from a non-constant input.
// `noop` is set when the op is the identity (empty axes + noop_with_empty_axes).
bool reduce_axes(const Node& n, const std::vector<TypeShape>& in, std::vector<bool>& mask, bool& noop) {
  size_t r = in[0].shape.size();
  std::vector<int64_t> axes;
  noop = false;
  if (n.has("axes")) {
    axes = n.attr_ints("axes");
  } else if (in.size() > 1 && in[1].present()) {
    if (!in[1].value) return false;
    axes = in[1].value->to_i64_vector();
  }
  mask.assign(r, axes.empty());
  if (axes.empty() && n.attr_i("noop_with_empty_axes", 0)) {
    noop = true;
    mask.assign(r, false);
    return true;
  }
  for (int64_t a : axes) mask[size_t(norm_axis(n, a, int64_t(r)))] = true;
  return true;
}

Shape reduced_shape(const Shape& x, const std::vector<bool>& mask, bool keep) {
  Shape o;
  for (size_t i = 0; i < x.size(); ++i) {
    if (!mask[i]) o.push_back(x[i]);
    else if (keep) o.push_back(1);
  }
  return o;
}

std::vector<TypeShape> infer_reduce(const Node& n, const std::vector<TypeShape>& in) {
  if (in.empty() || !in[0].present()) node_error(n, "required input 0 is missing");
  std::vector<bool> mask;
  bool noop;
  TypeShape o;
  o.dtype = in[0].dtype;
  bool keep = n.attr_i("keepdims", 1) != 0;
  if (!reduce_axes(n, in, mask, noop)) {
    o.shape.assign(keep ? in[0].shape.size() : 0, -1);
    return {o};
  }
  o.shape = reduced_shape(in[0].shape, mask, keep);
  return {o};
}

// For each input element, the linear index of its output element.
std::vector<int64_t> out_index(const Shape& x, const std::vector<bool>& mask) {
  Shape ks = x;
  for (size_t i = 0; i < x.size(); ++i)
    if (mask[i]) ks[i] = 1;
  auto ost = row_strides(ks);
  for (size_t i = 0; i < x.size(); ++i)
    if (mask[i]) ost[i] = 0;
  int64_t total = shape_numel(x);
  std::vector<int64_t> idx(size_t(std::max<int64_t>(total, 0)));
  std::vector<int64_t> pos(x.size(), 0);
  int64_t cur = 0;
  for (int64_t i = 0; i < total; ++i) {
    idx[size_t(i)] = cur;
    for (int d = int(x.size()) - 1; d >= 0; --d) {
      size_t du = size_t(d);
      if (++pos[du] < x[du]) { cur += ost[du]; break; }
      cur -= ost[du] * (pos[du] - 1);
      pos[du] = 0;
    }
  }
  return idx;
}

using LD = long double;

void ref_reduce(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  std::vector<TypeShape> ts(in.size());
  for (size_t i = 0; i < in.size(); ++i)
    if (in[i].defined()) ts[i] = TypeShape{in[i].dtype, in[i].shape, &in[i]};
  std::vector<bool> mask;
  bool noop;
  reduce_axes(n, ts, mask, noop);
  bool keep = n.attr_i("keepdims", 1) != 0;
  Shape os = reduced_shape(in[0].shape, mask, keep);
  Tensor x = in[0];
  DType dt = x.dtype;
  if (dt == DType::F16) x = x.cast(DType::F32);
  Tensor tmp(x.dtype, os);
  const std::string& op = n.op;
  int64_t nout = tmp.numel();
  if (noop) {
    Tensor& o = ref_output(out, 0, in[0].dtype, os);
    if (o.nbytes()) std::memcpy(o.raw(), in[0].raw(), o.nbytes());
    return;
  }
  auto idx = out_index(x.shape, mask);
  int64_t count = nout ? x.numel() / nout : 0;
  dispatch_numeric(n, x.dtype, [&](auto t) {
    using T = decltype(t);
    const T* xs = x.data<T>();
    std::vector<LD> acc(static_cast<size_t>(nout));
    LD init = 0;
    if (op == "ReduceProd") init = 1;
    else if (op == "ReduceMax") init = std::numeric_limits<T>::has_infinity ? -LD(INFINITY) : LD(std::numeric_limits<T>::lowest());
    else if (op == "ReduceMin") init = std::numeric_limits<T>::has_infinity ? LD(INFINITY) : LD(std::numeric_limits<T>::max());
    std::fill(acc.begin(), acc.end(), init);
    LD mx_shift = 0;
    (void)mx_shift;
    for (size_t i = 0; i < idx.size(); ++i) {
      LD v = LD(xs[i]);
      LD& a = acc[size_t(idx[i])];
      if (op == "ReduceSum" || op == "ReduceMean" || op == "ReduceLogSum") a += v;
      else if (op == "ReduceProd") a *= v;
      else if (op == "ReduceMax") a = (std::isnan(double(v)) || v > a) ? v : a;
      else if (op == "ReduceMin") a = (std::isnan(double(v)) || v < a) ? v : a;
      else if (op == "ReduceL1") a += v < 0 ? -v : v;
      else if (op == "ReduceL2" || op == "ReduceSumSquare") a += v * v;
      else if (op == "ReduceLogSumExp") a += std::exp(v);
    }
    T* o = tmp.data<T>();
    for (int64_t k = 0; k < nout; ++k) {
      LD a = acc[size_t(k)];
      if (op == "ReduceMean") a = count ? a / LD(count) : LD(NAN);
      else if (op == "ReduceL2") a = std::sqrt(a);
      else if (op == "ReduceLogSum" || op == "ReduceLogSumExp") a = std::log(a);
      o[k] = T(a);
    }
  });
  if (dt == DType::F16) tmp = tmp.cast(DType::F16);
  Tensor& o = ref_output(out, 0, dt, os);
  if (o.nbytes()) std::memcpy(o.raw(), tmp.raw(), o.nbytes());
}

// ---------------------------------------------------------------- ArgMax / ArgMin
std::vector<TypeShape> infer_arg(const Node& n, const std::vector<TypeShape>& in) {
  if (in.empty() || !in[0].present()) node_error(n, "required input 0 is missing");
  const Shape& x = in[0].shape;
  int64_t axis = norm_axis(n, n.attr_i("axis", 0), int64_t(x.size()));
  std::vector<bool> mask(x.size(), false);
  mask[size_t(axis)] = true;
  TypeShape o;
  o.dtype = DType::I64;
  o.shape = reduced_shape(x, mask, n.attr_i("keepdims", 1) != 0);
  return {o};
}

void ref_arg(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  Tensor x = in[0];
  if (x.dtype == DType::F16) x = x.cast(DType::F32);
  int64_t axis = norm_axis(n, n.attr_i("axis", 0), x.rank());
  std::vector<bool> mask(x.shape.size(), false);
  mask[size_t(axis)] = true;
  Tensor& o = ref_output(out, 0, DType::I64, reduced_shape(x.shape, mask, n.attr_i("keepdims", 1) != 0));
  bool last = n.attr_i("select_last_index", 0) != 0;
  bool is_max = n.op == "ArgMax";
  int64_t outer = 1, inner = 1, dim = x.shape[size_t(axis)];
  for (int64_t d = 0; d < axis; ++d) outer *= x.shape[size_t(d)];
  for (size_t d = size_t(axis) + 1; d < x.shape.size(); ++d) inner *= x.shape[d];
  if (dim == 0 && o.numel()) node_error(n, "cannot reduce an empty axis");
  dispatch_numeric(n, x.dtype, [&](auto t) {
    using T = decltype(t);
    const T* xs = x.data<T>();
    int64_t* od = o.data<int64_t>();
    for (int64_t a = 0; a < outer; ++a)
      for (int64_t b = 0; b < inner; ++b) {
        int64_t best = 0;
        T bv = xs[a * dim * inner + b];
        for (int64_t k = 1; k < dim; ++k) {
          T v = xs[(a * dim + k) * inner + b];
          bool better = is_max ? (last ? v >= bv : v > bv) : (last ? v <= bv : v < bv);
          if (better) { best = k; bv = v; }
        }
        od[a * inner + b] = best;
      }
  }, true);
}

OpDef red(const std::string& op, int since) { return {op, "", since, infer_reduce, ref_reduce}; }

}  // namespace

C8_REGISTER_OPS({
    red("ReduceMean", 1), red("ReduceSum", 1), red("ReduceMax", 1), red("ReduceMin", 1),
    red("ReduceProd", 1), red("ReduceL1", 1), red("ReduceL2", 1), red("ReduceLogSum", 1),
    red("ReduceLogSumExp", 1), red("ReduceSumSquare", 1),
    {"ArgMax", "", 1, infer_arg, ref_arg},
    {"ArgMin", "", 1, infer_arg, ref_arg},
});

}  // namespace c8
