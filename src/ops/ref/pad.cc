// Pad: modes constant / reflect / edge (and wrap); pads as attribute
// (opset < 11) or input (>= 11), constant_value input, axes input (18).
// Negative pads crop. All dtypes.
#include <algorithm>
#include <cstring>

#include "ops/ref/broadcast.h"
#include "ops/op_registry.h"

namespace c8 {
namespace {

// Full per-dim (begin, end) pads; false when not known.
bool get_pads(const Node& n, const std::vector<TypeShape>& in, std::vector<int64_t>& pb, std::vector<int64_t>& pe) {
  size_t r = in[0].shape.size();
  std::vector<int64_t> pads;
  if (n.has("pads")) {
    pads = n.attr_ints("pads");
  } else {
    if (in.size() < 2 || !in[1].present()) node_error(n, "pads input is required");
    if (!in[1].value) return false;
    pads = in[1].value->to_i64_vector();
  }
  std::vector<int64_t> axes;
  if (in.size() > 3 && in[3].present()) {
    if (!in[3].value) return false;
    axes = in[3].value->to_i64_vector();
  } else {
    for (size_t i = 0; i < r; ++i) axes.push_back(int64_t(i));
  }
  if (pads.size() != 2 * axes.size())
    node_error(n, "pads has " + std::to_string(pads.size()) + " entries, expected " + std::to_string(2 * axes.size()));
  pb.assign(r, 0);
  pe.assign(r, 0);
  for (size_t i = 0; i < axes.size(); ++i) {
    int64_t a = norm_axis(n, axes[i], int64_t(r));
    pb[size_t(a)] = pads[i];
    pe[size_t(a)] = pads[i + axes.size()];
  }
  return true;
}

std::vector<TypeShape> infer_pad(const Node& n, const std::vector<TypeShape>& in) {
  if (in.empty() || !in[0].present()) node_error(n, "required input 0 is missing");
  TypeShape o;
  o.dtype = in[0].dtype;
  std::vector<int64_t> pb, pe;
  const Shape& x = in[0].shape;
  if (!get_pads(n, in, pb, pe)) {
    o.shape.assign(x.size(), -1);
    return {o};
  }
  for (size_t i = 0; i < x.size(); ++i) {
    int64_t d = x[i] < 0 ? -1 : x[i] + pb[i] + pe[i];
    if (x[i] >= 0 && d < 0) node_error(n, "negative output dimension");
    o.shape.push_back(d);
  }
  return {o};
}

void ref_pad(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  std::vector<TypeShape> ts(in.size());
  for (size_t i = 0; i < in.size(); ++i)
    if (in[i].defined()) ts[i] = TypeShape{in[i].dtype, in[i].shape, &in[i]};
  std::vector<int64_t> pb, pe;
  get_pads(n, ts, pb, pe);
  Shape os = infer_pad(n, ts)[0].shape;
  const Tensor& x = in[0];
  Tensor& o = ref_output(out, 0, x.dtype, os);
  std::string mode = n.attr_s("mode", "constant");
  if (mode != "constant" && mode != "reflect" && mode != "edge" && mode != "wrap")
    node_error(n, "unsupported mode '" + mode + "'");
  size_t es = dtype_size(x.dtype);
  // The constant as bytes of the data dtype.
  std::vector<uint8_t> cval(es, 0);
  if (mode == "constant") {
    Tensor c;
    if (in.size() > 2 && in[2].defined() && in[2].numel() > 0) {
      c = in[2].dtype == x.dtype ? in[2] : in[2].cast(x.dtype);
    } else if (n.has("value")) {
      c = Tensor::scalar_f32(n.attr_f("value", 0.f)).cast(x.dtype);
    }
    if (c.defined()) std::memcpy(cval.data(), c.raw(), es);
  }
  int64_t total = o.numel();
  if (total == 0) return;
  size_t r = os.size();
  if (x.numel() == 0 && mode != "constant") node_error(n, "cannot " + mode + "-pad an empty tensor");
  auto ist = row_strides(x.shape);
  const uint8_t* s = static_cast<const uint8_t*>(x.raw());
  uint8_t* dp = static_cast<uint8_t*>(o.raw());
  std::vector<int64_t> pos(r, 0);
  for (int64_t i = 0; i < total; ++i) {
    int64_t src = 0;
    bool outside = false;
    for (size_t d = 0; d < r; ++d) {
      int64_t dim = x.shape[d];
      int64_t c = pos[d] - pb[d];
      if (c < 0 || c >= dim) {
        if (mode == "constant") { outside = true; break; }
        if (mode == "edge") c = std::clamp<int64_t>(c, 0, dim - 1);
        else if (mode == "wrap") c = ((c % dim) + dim) % dim;
        else if (dim == 1) c = 0;
        else {
          int64_t period = 2 * (dim - 1);
          c = ((c % period) + period) % period;
          if (c >= dim) c = period - c;
        }
      }
      src += c * ist[d];
    }
    if (outside) std::memcpy(dp + size_t(i) * es, cval.data(), es);
    else std::memcpy(dp + size_t(i) * es, s + size_t(src) * es, es);
    for (int k = int(r) - 1; k >= 0; --k) {
      if (++pos[size_t(k)] < os[size_t(k)]) break;
      pos[size_t(k)] = 0;
    }
  }
}

}  // namespace

C8_REGISTER_OPS({{"Pad", "", 2, infer_pad, ref_pad}});

}  // namespace c8
