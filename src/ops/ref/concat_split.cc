// Concat and Split (all dtypes; bytes are copied).
#include <algorithm>
#include <cstring>

#include "ops/ref/broadcast.h"
#include "ops/op_registry.h"

namespace c8 {
namespace {

// ---------------------------------------------------------------- Concat
std::vector<TypeShape> infer_concat(const Node& n, const std::vector<TypeShape>& in) {
  if (in.empty()) node_error(n, "needs at least one input");
  for (size_t i = 0; i < in.size(); ++i)
    if (!in[i].present()) node_error(n, "input " + std::to_string(i) + " is missing");
  size_t r = in[0].shape.size();
  int64_t axis = norm_axis(n, n.attr_i("axis", 0), int64_t(r));
  TypeShape o;
  o.dtype = in[0].dtype;
  o.shape = in[0].shape;
  o.shape[size_t(axis)] = 0;
  for (size_t i = 0; i < in.size(); ++i) {
    const Shape& s = in[i].shape;
    if (s.size() != r) node_error(n, "input ranks differ: " + shape_str(in[0].shape) + " vs " + shape_str(s));
    if (in[i].dtype != o.dtype) node_error(n, "input dtypes differ");
    for (size_t d = 0; d < r; ++d) {
      if (d == size_t(axis)) {
        if (s[d] < 0 || o.shape[d] < 0) o.shape[d] = -1;
        else o.shape[d] += s[d];
      } else if (o.shape[d] < 0) {
        o.shape[d] = s[d];
      } else if (s[d] >= 0 && s[d] != o.shape[d]) {
        node_error(n, "shapes differ outside the concat axis: " + shape_str(in[0].shape) + " vs " + shape_str(s));
      }
    }
  }
  return {o};
}

void ref_concat(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  auto ts = infer_concat(n, type_shapes_of(in));
  const Shape& os = ts[0].shape;
  int64_t axis = norm_axis(n, n.attr_i("axis", 0), int64_t(os.size()));
  Tensor& o = ref_output(out, 0, in[0].dtype, os);
  size_t es = dtype_size(o.dtype);
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= os[size_t(d)];
  for (size_t d = size_t(axis) + 1; d < os.size(); ++d) inner *= os[d];
  size_t orow = size_t(os[size_t(axis)] * inner) * es;
  uint8_t* dst = static_cast<uint8_t*>(o.raw());
  size_t off = 0;
  for (const Tensor& t : in) {
    size_t row = size_t(t.shape[size_t(axis)] * inner) * es;
    const uint8_t* src = static_cast<const uint8_t*>(t.raw());
    if (row)
      for (int64_t k = 0; k < outer; ++k) std::memcpy(dst + size_t(k) * orow + off, src + size_t(k) * row, row);
    off += row;
  }
}

// ---------------------------------------------------------------- Split
// Sizes of the parts along the axis; empty when they cannot be known.
std::vector<int64_t> split_sizes(const Node& n, const std::vector<TypeShape>& in, int64_t dim, bool& known) {
  known = true;
  size_t nout = n.outputs.size();
  std::vector<int64_t> sp;
  if (n.has("split")) {
    sp = n.attr_ints("split");
  } else if (in.size() > 1 && in[1].present()) {
    if (!in[1].value) { known = false; return {}; }
    sp = in[1].value->to_i64_vector();
  } else {
    int64_t parts = n.has("num_outputs") ? n.attr_i("num_outputs", 1) : int64_t(nout);
    if (parts <= 0) node_error(n, "num_outputs must be positive");
    if (dim < 0) { known = false; return {}; }
    int64_t chunk = (dim + parts - 1) / parts;
    for (int64_t i = 0; i < parts; ++i) sp.push_back(std::max<int64_t>(0, std::min(chunk, dim - i * chunk)));
    return sp;
  }
  if (sp.size() != nout) node_error(n, "split has " + std::to_string(sp.size()) + " entries for " + std::to_string(nout) + " outputs");
  int64_t sum = 0;
  for (int64_t s : sp) {
    if (s < 0) node_error(n, "negative split size");
    sum += s;
  }
  if (dim >= 0 && sum != dim) node_error(n, "split sizes sum to " + std::to_string(sum) + ", axis has " + std::to_string(dim));
  return sp;
}

std::vector<TypeShape> infer_split(const Node& n, const std::vector<TypeShape>& in) {
  if (in.empty() || !in[0].present()) node_error(n, "required input 0 is missing");
  const Shape& x = in[0].shape;
  int64_t axis = norm_axis(n, n.attr_i("axis", 0), int64_t(x.size()));
  bool known;
  auto sp = split_sizes(n, in, x[size_t(axis)], known);
  std::vector<TypeShape> outs(n.outputs.size());
  for (size_t i = 0; i < outs.size(); ++i) {
    outs[i].dtype = in[0].dtype;
    outs[i].shape = x;
    outs[i].shape[size_t(axis)] = known && i < sp.size() ? sp[i] : -1;
  }
  return outs;
}

void ref_split(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  auto ts = infer_split(n, type_shapes_of(in));
  const Shape& x = in[0].shape;
  int64_t axis = norm_axis(n, n.attr_i("axis", 0), int64_t(x.size()));
  size_t es = dtype_size(in[0].dtype);
  int64_t outer = 1, inner = 1;
  for (int64_t d = 0; d < axis; ++d) outer *= x[size_t(d)];
  for (size_t d = size_t(axis) + 1; d < x.size(); ++d) inner *= x[d];
  size_t irow = size_t(x[size_t(axis)] * inner) * es;
  const uint8_t* src = static_cast<const uint8_t*>(in[0].raw());
  size_t off = 0;
  for (size_t i = 0; i < ts.size(); ++i) {
    Tensor& o = ref_output(out, i, ts[i].dtype, ts[i].shape);
    size_t row = size_t(ts[i].shape[size_t(axis)] * inner) * es;
    uint8_t* dst = static_cast<uint8_t*>(o.raw());
    if (row)
      for (int64_t k = 0; k < outer; ++k) std::memcpy(dst + size_t(k) * row, src + size_t(k) * irow + off, row);
    off += row;
  }
}

}  // namespace

C8_REGISTER_OPS({
    {"Concat", "", 1, infer_concat, ref_concat},
    {"Split", "", 1, infer_split, ref_split},
});

}  // namespace c8
