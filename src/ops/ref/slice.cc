// Slice: opset >= 10 input form (starts, ends, axes, steps; negative steps,
// clamping) and the opset 1 attribute form. All dtypes.
#include <algorithm>
#include <cstring>
#include <limits>

#include "ops/ref/broadcast.h"
#include "ops/op_registry.h"

namespace c8 {
namespace {

struct SliceSpec {
  std::vector<int64_t> start, step, len;  // per input dim
};

// Returns false when the slice parameters are not known (non-constant inputs).
bool slice_spec(const Node& n, const std::vector<TypeShape>& in, SliceSpec& sp, Shape& out_shape) {
  if (in.empty() || !in[0].present()) node_error(n, "required input 0 is missing");
  const Shape& x = in[0].shape;
  int64_t r = int64_t(x.size());
  std::vector<int64_t> starts, ends, axes, steps;
  if (n.has("starts")) {  // opset 1
    starts = n.attr_ints("starts");
    ends = n.attr_ints("ends");
    axes = n.attr_ints("axes");
  } else {
    if (in.size() < 3 || !in[1].present() || !in[2].present()) node_error(n, "starts and ends inputs are required");
    for (size_t k = 1; k < in.size() && k < 5; ++k)
      if (in[k].present() && !in[k].value) return false;
    starts = in[1].value->to_i64_vector();
    ends = in[2].value->to_i64_vector();
    if (in.size() > 3 && in[3].present()) axes = in[3].value->to_i64_vector();
    if (in.size() > 4 && in[4].present()) steps = in[4].value->to_i64_vector();
  }
  if (ends.size() != starts.size()) node_error(n, "starts and ends differ in length");
  if (axes.empty()) {
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(int64_t(i));
  }
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (axes.size() != starts.size() || steps.size() != starts.size())
    node_error(n, "starts, ends, axes and steps must have the same length");
  sp.start.assign(size_t(r), 0);
  sp.step.assign(size_t(r), 1);
  sp.len = x;
  std::vector<bool> seen(size_t(r), false);
  for (size_t i = 0; i < starts.size(); ++i) {
    int64_t a = norm_axis(n, axes[i], r);
    if (seen[size_t(a)]) node_error(n, "axis " + std::to_string(a) + " repeated");
    seen[size_t(a)] = true;
    int64_t st = steps[i];
    if (st == 0) node_error(n, "step cannot be 0");
    int64_t d = x[size_t(a)];
    sp.step[size_t(a)] = st;
    if (d < 0) {
      sp.len[size_t(a)] = -1;
      continue;
    }
    int64_t b = starts[i], e = ends[i];
    if (b < 0) b = b < -d ? -1 : b + d;  // avoid overflow for INT64_MIN
    if (e < 0) e = e < -d ? -1 : e + d;
    if (st > 0) {
      b = std::clamp<int64_t>(b, 0, d);
      e = std::clamp<int64_t>(e, 0, d);
    } else {
      b = std::clamp<int64_t>(b, 0, d - 1);
      e = std::clamp<int64_t>(e, -1, d - 1);
    }
    int64_t len = st > 0 ? (e - b + st - 1) / st : (b - e + (-st) - 1) / (-st);
    if (len < 0) len = 0;
    sp.start[size_t(a)] = b;
    sp.len[size_t(a)] = len;
  }
  out_shape = sp.len;
  return true;
}

std::vector<TypeShape> infer_slice(const Node& n, const std::vector<TypeShape>& in) {
  SliceSpec sp;
  TypeShape o;
  o.dtype = in.empty() ? DType::Undefined : in[0].dtype;
  if (!slice_spec(n, in, sp, o.shape)) o.shape.assign(in[0].shape.size(), -1);
  return {o};
}

void ref_slice(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  std::vector<TypeShape> ts(in.size());
  for (size_t i = 0; i < in.size(); ++i)
    if (in[i].defined()) ts[i] = TypeShape{in[i].dtype, in[i].shape, &in[i]};
  SliceSpec sp;
  Shape os;
  slice_spec(n, ts, sp, os);
  const Tensor& x = in[0];
  Tensor& o = ref_output(out, 0, x.dtype, os);
  int64_t total = o.numel();
  if (total == 0) return;
  size_t r = os.size(), es = dtype_size(x.dtype);
  auto ist = row_strides(x.shape);
  int64_t src = 0;
  for (size_t d = 0; d < r; ++d) src += sp.start[d] * ist[d];
  const uint8_t* s = static_cast<const uint8_t*>(x.raw());
  uint8_t* dp = static_cast<uint8_t*>(o.raw());
  std::vector<int64_t> pos(r, 0);
  for (int64_t i = 0; i < total; ++i) {
    std::memcpy(dp + size_t(i) * es, s + size_t(src) * es, es);
    for (int k = int(r) - 1; k >= 0; --k) {
      size_t ku = size_t(k);
      if (++pos[ku] < os[ku]) { src += sp.step[ku] * ist[ku]; break; }
      src -= sp.step[ku] * ist[ku] * (pos[ku] - 1);
      pos[ku] = 0;
    }
  }
}

}  // namespace

C8_REGISTER_OPS({{"Slice", "", 1, infer_slice, ref_slice}});

}  // namespace c8
