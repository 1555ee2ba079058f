// Gather, GatherElements, GatherND, ScatterElements (and opset-9 Scatter),
// ScatterND. Data of any dtype; indices int32/int64, negative allowed.
#include <algorithm>
#include <cstring>

#include "ops/ref/broadcast.h"
#include "ops/op_registry.h"

namespace c8 {
namespace {

void need(const Node& n, const std::vector<TypeShape>& in, size_t k) {
  if (in.size() <= k || !in[k].present()) node_error(n, "required input " + std::to_string(k) + " is missing");
}

int64_t fix_index(const Node& n, int64_t i, int64_t dim) {
  if (i < -dim || i >= dim) node_error(n, "index " + std::to_string(i) + " out of range for dimension " + std::to_string(dim));
  return i < 0 ? i + dim : i;
}

// ---------------------------------------------------------------- Gather
std::vector<TypeShape> infer_gather(const Node& n, const std::vector<TypeShape>& in) {
  need(n, in, 0);
  need(n, in, 1);
  const Shape& x = in[0].shape;
  int64_t axis = norm_axis(n, n.attr_i("axis", 0), int64_t(x.size()));
  TypeShape o;
  o.dtype = in[0].dtype;
  o.shape.assign(x.begin(), x.begin() + axis);
  o.shape.insert(o.shape.end(), in[1].shape.begin(), in[1].shape.end());
  o.shape.insert(o.shape.end(), x.begin() + axis + 1, x.end());
  return {o};
}

void ref_gather(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  const Tensor& x = in[0];
  int64_t axis = norm_axis(n, n.attr_i("axis", 0), x.rank());
  Shape os(x.shape.begin(), x.shape.begin() + axis);
  os.insert(os.end(), in[1].shape.begin(), in[1].shape.end());
  os.insert(os.end(), x.shape.begin() + axis + 1, x.shape.end());
  Tensor& o = ref_output(out, 0, x.dtype, os);
  int64_t outer = 1, inner = 1, dim = x.shape[size_t(axis)];
  for (int64_t d = 0; d < axis; ++d) outer *= x.shape[size_t(d)];
  for (size_t d = size_t(axis) + 1; d < x.shape.size(); ++d) inner *= x.shape[d];
  std::vector<int64_t> idx = in[1].to_i64_vector();
  for (auto& i : idx) i = fix_index(n, i, dim);
  size_t row = size_t(inner) * dtype_size(x.dtype);
  const uint8_t* s = static_cast<const uint8_t*>(x.raw());
  uint8_t* d = static_cast<uint8_t*>(o.raw());
  if (!row) return;
  for (int64_t k = 0; k < outer; ++k)
    for (size_t j = 0; j < idx.size(); ++j)
      std::memcpy(d + (size_t(k) * idx.size() + j) * row, s + (size_t(k * dim + idx[j])) * row, row);
}

// ---------------------------------------------------------------- GatherElements
std::vector<TypeShape> infer_gather_el(const Node& n, const std::vector<TypeShape>& in) {
  need(n, in, 0);
  need(n, in, 1);
  if (in[0].shape.size() != in[1].shape.size()) node_error(n, "data and indices ranks differ");
  norm_axis(n, n.attr_i("axis", 0), int64_t(in[0].shape.size()));
  TypeShape o;
  o.dtype = in[0].dtype;
  o.shape = in[1].shape;
  return {o};
}

// Calls f(out_linear, data_linear) for every element of `is` (indices shape),
// where data_linear replaces the axis coordinate with the index value.
template <class F>
void for_each_elem(const Node& n, const Shape& ds, const Shape& is, const std::vector<int64_t>& idx, int64_t axis, F f) {
  size_t r = is.size();
  auto dst = row_strides(ds);
  std::vector<int64_t> pos(r, 0);
  int64_t total = shape_numel(is);
  for (int64_t i = 0; i < total; ++i) {
    int64_t lin = 0;
    for (size_t d = 0; d < r; ++d)
      lin += (int64_t(d) == axis ? fix_index(n, idx[size_t(i)], ds[d]) : pos[d]) * dst[d];
    f(i, lin);
    for (int k = int(r) - 1; k >= 0; --k) {
      if (++pos[size_t(k)] < is[size_t(k)]) break;
      pos[size_t(k)] = 0;
    }
  }
}

void ref_gather_el(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  const Tensor& x = in[0];
  int64_t axis = norm_axis(n, n.attr_i("axis", 0), x.rank());
  if (x.rank() != in[1].rank()) node_error(n, "data and indices ranks differ");
  Tensor& o = ref_output(out, 0, x.dtype, in[1].shape);
  size_t es = dtype_size(x.dtype);
  const uint8_t* s = static_cast<const uint8_t*>(x.raw());
  uint8_t* d = static_cast<uint8_t*>(o.raw());
  for_each_elem(n, x.shape, in[1].shape, in[1].to_i64_vector(), axis,
                [&](int64_t i, int64_t lin) { std::memcpy(d + size_t(i) * es, s + size_t(lin) * es, es); });
}

// ---------------------------------------------------------------- GatherND
std::vector<TypeShape> infer_gather_nd(const Node& n, const std::vector<TypeShape>& in) {
  need(n, in, 0);
  need(n, in, 1);
  const Shape& x = in[0].shape;
  const Shape& is = in[1].shape;
  int64_t b = n.attr_i("batch_dims", 0);
  if (is.empty()) node_error(n, "indices must have rank >= 1");
  int64_t last = is.back();
  TypeShape o;
  o.dtype = in[0].dtype;
  o.shape.assign(is.begin(), is.end() - 1);
  if (last < 0) return {o};  // rank unknown in truth; best effort
  if (b + last > int64_t(x.size())) node_error(n, "indices last dim too large");
  o.shape.insert(o.shape.end(), x.begin() + b + last, x.end());
  return {o};
}

void ref_gather_nd(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  const Tensor& x = in[0];
  const Shape& is = in[1].shape;
  int64_t b = n.attr_i("batch_dims", 0);
  std::vector<TypeShape> ts = {{x.dtype, x.shape, &x}, {in[1].dtype, is, &in[1]}};
  Shape os = infer_gather_nd(n, ts)[0].shape;
  Tensor& o = ref_output(out, 0, x.dtype, os);
  int64_t last = is.back();
  int64_t batch = 1;
  for (int64_t d = 0; d < b; ++d) batch *= x.shape[size_t(d)];
  int64_t inner = 1;
  for (size_t d = size_t(b + last); d < x.shape.size(); ++d) inner *= x.shape[d];
  int64_t per_batch_data = 1;
  for (size_t d = size_t(b); d < x.shape.size(); ++d) per_batch_data *= x.shape[d];
  int64_t nidx = shape_numel(Shape(is.begin(), is.end() - 1));
  int64_t per_batch_idx = nidx / std::max<int64_t>(batch, 1);
  auto ist = row_strides(x.shape);
  auto idx = in[1].to_i64_vector();
  size_t row = size_t(inner) * dtype_size(x.dtype);
  const uint8_t* s = static_cast<const uint8_t*>(x.raw());
  uint8_t* d = static_cast<uint8_t*>(o.raw());
  for (int64_t k = 0; k < nidx; ++k) {
    int64_t bb = per_batch_idx ? k / per_batch_idx : 0;
    int64_t lin = bb * per_batch_data;
    for (int64_t j = 0; j < last; ++j) {
      size_t dim = size_t(b + j);
      lin += fix_index(n, idx[size_t(k * last + j)], x.shape[dim]) * ist[dim];
    }
    if (row) std::memcpy(d + size_t(k) * row, s + size_t(lin) * dtype_size(x.dtype), row);
  }
}

// ---------------------------------------------------------------- Scatter
std::vector<TypeShape> infer_same_as_data(const Node& n, const std::vector<TypeShape>& in) {
  need(n, in, 0);
  need(n, in, 1);
  need(n, in, 2);
  TypeShape o;
  o.dtype = in[0].dtype;
  o.shape = in[0].shape;
  return {o};
}

template <class T>
void reduce_into(T& dst, T v, const std::string& red) {
  if (red == "add") dst = T(dst + v);
  else if (red == "mul") dst = T(dst * v);
  else if (red == "max") dst = std::max(dst, v);
  else if (red == "min") dst = std::min(dst, v);
  else dst = v;
}

// Applies update (from upd element ui) into data element di with `reduction`.
void apply_update(const Node& n, Tensor& o, int64_t di, const Tensor& upd, int64_t ui, size_t count,
                  const std::string& red) {
  size_t es = dtype_size(o.dtype);
  if (red == "none") {
    std::memcpy(static_cast<uint8_t*>(o.raw()) + size_t(di) * es,
                static_cast<const uint8_t*>(upd.raw()) + size_t(ui) * es, es * count);
    return;
  }
  if (o.dtype == DType::F16) {
    uint16_t* od = o.data<uint16_t>();
    for (size_t c = 0; c < count; ++c) {
      float a = half_to_float(od[di + int64_t(c)]);
      reduce_into(a, half_to_float(upd.data<uint16_t>()[ui + int64_t(c)]), red);
      od[di + int64_t(c)] = float_to_half(a);
    }
    return;
  }
  dispatch_numeric(n, o.dtype, [&](auto t) {
    using T = decltype(t);
    for (size_t c = 0; c < count; ++c) reduce_into(o.data<T>()[di + int64_t(c)], upd.data<T>()[ui + int64_t(c)], red);
  }, true);
}

void ref_scatter_el(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  const Tensor& x = in[0];
  int64_t axis = norm_axis(n, n.attr_i("axis", 0), x.rank());
  std::string red = n.attr_s("reduction", "none");
  if (in[1].shape != in[2].shape) node_error(n, "indices and updates shapes differ");
  Tensor& o = ref_output(out, 0, x.dtype, x.shape);
  if (o.raw() != x.raw() && x.nbytes()) std::memcpy(o.raw(), x.raw(), x.nbytes());
  for_each_elem(n, x.shape, in[1].shape, in[1].to_i64_vector(), axis,
                [&](int64_t i, int64_t lin) { apply_update(n, o, lin, in[2], i, 1, red); });
}

void ref_scatter_nd(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  const Tensor& x = in[0];
  std::string red = n.attr_s("reduction", "none");
  Tensor& o = ref_output(out, 0, x.dtype, x.shape);
  if (o.raw() != x.raw() && x.nbytes()) std::memcpy(o.raw(), x.raw(), x.nbytes());
  const Shape& is = in[1].shape;
  int64_t last = is.back();
  if (last > x.rank()) node_error(n, "indices last dim exceeds data rank");
  int64_t inner = 1;
  for (size_t d = size_t(last); d < x.shape.size(); ++d) inner *= x.shape[d];
  int64_t nidx = last ? shape_numel(is) / last : 0;
  auto ist = row_strides(x.shape);
  auto idx = in[1].to_i64_vector();
  for (int64_t k = 0; k < nidx; ++k) {
    int64_t lin = 0;
    for (int64_t j = 0; j < last; ++j)
      lin += fix_index(n, idx[size_t(k * last + j)], x.shape[size_t(j)]) * ist[size_t(j)];
    apply_update(n, o, lin, in[2], k * inner, size_t(inner), red);
  }
}

}  // namespace

C8_REGISTER_OPS({
    {"Gather", "", 1, infer_gather, ref_gather},
    {"GatherElements", "", 11, infer_gather_el, ref_gather_el},
    {"GatherND", "", 11, infer_gather_nd, ref_gather_nd},
    {"ScatterElements", "", 11, infer_same_as_data, ref_scatter_el},
    {"Scatter", "", 9, infer_same_as_data, ref_scatter_el},
    {"ScatterND", "", 11, infer_same_as_data, ref_scatter_nd},
});

}  // namespace c8
