#include "ops/ref/broadcast.h"

#include <algorithm>
#include <cstring>

namespace c8 {

bool broadcast_shapes(const Shape& a, const Shape& b, Shape& out) {
  size_t r = std::max(a.size(), b.size());
  Shape o(r);
  for (size_t i = 0; i < r; ++i) {
    int64_t da = i < r - a.size() ? 1 : a[i - (r - a.size())];
    int64_t db = i < r - b.size() ? 1 : b[i - (r - b.size())];
    if (da == db) o[i] = da;
    else if (da == 1) o[i] = db;
    else if (db == 1) o[i] = da;
    else if (da < 0) o[i] = db;
    else if (db < 0) o[i] = da;
    else return false;
  }
  out = std::move(o);
  return true;
}

Shape broadcast_all(const Node& n, const std::vector<Shape>& shapes) {
  Shape r;
  for (size_t i = 0; i < shapes.size(); ++i) {
    if (i == 0) { r = shapes[0]; continue; }
    Shape t;
    if (!broadcast_shapes(r, shapes[i], t)) {
      std::string s;
      for (size_t k = 0; k < shapes.size(); ++k) s += (k ? " vs " : "") + shape_str(shapes[k]);
      node_error(n, "shapes are not broadcastable: " + s);
    }
    r = std::move(t);
  }
  return r;
}

bool broadcastable_to(const Shape& from, const Shape& to) {
  if (from.size() > to.size()) return false;
  size_t off = to.size() - from.size();
  for (size_t i = 0; i < from.size(); ++i)
    if (from[i] != 1 && from[i] != to[i + off] && from[i] >= 0 && to[i + off] >= 0) return false;
  return true;
}

std::vector<int64_t> row_strides(const Shape& s) {
  std::vector<int64_t> st(s.size(), 1);
  for (int i = int(s.size()) - 2; i >= 0; --i) st[size_t(i)] = st[size_t(i) + 1] * s[size_t(i) + 1];
  return st;
}

std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out) {
  std::vector<int64_t> st(out.size(), 0);
  std::vector<int64_t> ist = row_strides(in);
  size_t off = out.size() - in.size();
  for (size_t i = 0; i < in.size(); ++i) st[i + off] = in[i] == 1 ? 0 : ist[i];
  return st;
}

std::vector<int64_t> broadcast_index(const Shape& in, const Shape& out) {
  int64_t n = shape_numel(out);
  std::vector<int64_t> idx(size_t(std::max<int64_t>(n, 0)));
  if (n <= 0) return idx;
  std::vector<int64_t> st = broadcast_strides(in, out);
  size_t r = out.size();
  std::vector<int64_t> pos(r, 0);
  int64_t cur = 0;
  for (int64_t i = 0; i < n; ++i) {
    idx[size_t(i)] = cur;
    // increment multi-index
    for (int d = int(r) - 1; d >= 0; --d) {
      size_t du = size_t(d);
      if (++pos[du] < out[du]) { cur += st[du]; break; }
      cur -= st[du] * (pos[du] - 1);
      pos[du] = 0;
    }
  }
  return idx;
}

int64_t norm_axis(const Node& n, int64_t axis, int64_t rank, const char* what) {
  if (axis < -rank || axis >= rank)
    node_error(n, std::string(what) + " " + std::to_string(axis) + " out of range for rank " + std::to_string(rank));
  return axis < 0 ? axis + rank : axis;
}

bool is_float_dtype(DType t) {
  return t == DType::F32 || t == DType::F64 || t == DType::F16 || t == DType::BF16;
}

bool is_int_dtype(DType t) {
  switch (t) {
    case DType::I8: case DType::U8: case DType::I16: case DType::U16:
    case DType::I32: case DType::U32: case DType::I64: case DType::U64: return true;
    default: return false;
  }
}

void require_inputs(const Node& n, const std::vector<TypeShape>& in, size_t min_count, size_t max_count) {
  if (in.size() < min_count || in.size() > max_count)
    node_error(n, "expected " + std::to_string(min_count) +
                      (max_count != min_count ? ".." + std::to_string(max_count) : std::string()) +
                      " inputs, got " + std::to_string(in.size()));
  for (size_t i = 0; i < min_count; ++i)
    if (!in[i].present()) node_error(n, "required input " + std::to_string(i) + " is missing");
}

}  // namespace c8

namespace c8 {

bool run_half_as_float(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out,
                       void (*fn)(const Node&, const std::vector<Tensor>&, std::vector<Tensor>&)) {
  bool any = false;
  for (const Tensor& t : in) any = any || t.dtype == DType::F16;
  if (!any) return false;
  std::vector<Tensor> in2;
  for (const Tensor& t : in) in2.push_back(t.dtype == DType::F16 ? t.cast(DType::F32) : t);
  std::vector<Tensor> out2(out.size());
  fn(n, in2, out2);
  for (size_t k = 0; k < out2.size(); ++k) {
    if (!out2[k].defined()) continue;
    Tensor r = out2[k].dtype == DType::F32 ? out2[k].cast(DType::F16) : out2[k];
    Tensor& y = ref_output(out, k, r.dtype, r.shape);
    if (r.nbytes()) std::memcpy(y.raw(), r.raw(), r.nbytes());
  }
  return true;
}

static int64_t floordiv(int64_t a, int64_t b) {
  int64_t q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}

WindowGeom window_geometry(const Node& n, const Shape& in, const std::vector<int64_t>& kernel, bool ceil_mode) {
  size_t r = in.size();
  WindowGeom g;
  g.kernel = kernel;
  if (kernel.size() != r)
    node_error(n, "kernel has " + std::to_string(kernel.size()) + " spatial dims, input has " + std::to_string(r));
  g.strides = n.attr_ints("strides", std::vector<int64_t>(r, 1));
  g.dilations = n.attr_ints("dilations", std::vector<int64_t>(r, 1));
  if (g.strides.empty()) g.strides.assign(r, 1);
  if (g.dilations.empty()) g.dilations.assign(r, 1);
  if (g.strides.size() != r) node_error(n, "strides has " + std::to_string(g.strides.size()) + " entries, expected " + std::to_string(r));
  if (g.dilations.size() != r) node_error(n, "dilations has " + std::to_string(g.dilations.size()) + " entries, expected " + std::to_string(r));
  for (size_t i = 0; i < r; ++i) {
    if (g.strides[i] < 1) node_error(n, "strides must be >= 1");
    if (g.dilations[i] < 1) node_error(n, "dilations must be >= 1");
    if (kernel[i] < 1) node_error(n, "kernel dims must be >= 1");
  }
  std::string ap = n.attr_s("auto_pad", "NOTSET");
  g.pad_begin.assign(r, 0);
  g.pad_end.assign(r, 0);
  g.out.assign(r, -1);
  if (ap == "NOTSET" || ap.empty()) {
    auto pads = n.attr_ints("pads", std::vector<int64_t>(2 * r, 0));
    if (pads.empty()) pads.assign(2 * r, 0);
    if (pads.size() != 2 * r) node_error(n, "pads has " + std::to_string(pads.size()) + " entries, expected " + std::to_string(2 * r));
    for (size_t i = 0; i < r; ++i) {
      g.pad_begin[i] = pads[i];
      g.pad_end[i] = pads[i + r];
      if (pads[i] < 0 || pads[i + r] < 0) node_error(n, "negative pads are not supported");
    }
  } else if (ap != "VALID" && ap != "SAME_UPPER" && ap != "SAME_LOWER") {
    node_error(n, "unknown auto_pad '" + ap + "'");
  }
  for (size_t i = 0; i < r; ++i) {
    if (in[i] < 0) continue;
    int64_t ek = (kernel[i] - 1) * g.dilations[i] + 1;
    int64_t s = g.strides[i];
    if (ap == "SAME_UPPER" || ap == "SAME_LOWER") {
      int64_t o = (in[i] + s - 1) / s;
      int64_t total = std::max<int64_t>(0, (o - 1) * s + ek - in[i]);
      g.pad_begin[i] = ap == "SAME_UPPER" ? total / 2 : total - total / 2;
      g.pad_end[i] = total - g.pad_begin[i];
      g.out[i] = o;
      continue;
    }
    int64_t span = in[i] + g.pad_begin[i] + g.pad_end[i] - ek;
    if (span < 0)
      node_error(n, "window of extent " + std::to_string(ek) + " is larger than padded input " +
                        std::to_string(in[i] + g.pad_begin[i] + g.pad_end[i]) + " in spatial dim " + std::to_string(i));
    int64_t o = ceil_mode ? -floordiv(-span, s) + 1 : span / s + 1;
    // ceil_mode: drop a last window that would start in the end padding.
    if (ceil_mode && (o - 1) * s >= in[i] + g.pad_begin[i]) --o;
    g.out[i] = o;
  }
  return g;
}

}  // namespace c8
