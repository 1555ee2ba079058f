// Shape-manipulating ops: Reshape, Flatten, Squeeze, Unsqueeze, Shape, Size,
// Expand, Tile, DepthToSpace, SpaceToDepth. All dtypes (bytes are copied).
#include <algorithm>
#include <cstring>

#include "ops/ref/broadcast.h"
#include "ops/op_registry.h"

namespace c8 {
namespace {

bool all_known(const Shape& s) {
  for (int64_t d : s)
    if (d < 0) return false;
  return true;
}

// Output 0 = a byte copy of input 0 with the inferred shape.
void copy_as(const Node& n, const InferFn& infer, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  auto ts = infer(n, type_shapes_of(in));
  if (!all_known(ts[0].shape)) node_error(n, "cannot determine output shape " + shape_str(ts[0].shape));
  if (shape_numel(ts[0].shape) != in[0].numel())
    node_error(n, "cannot reshape " + shape_str(in[0].shape) + " to " + shape_str(ts[0].shape));
  Tensor& o = ref_output(out, 0, in[0].dtype, ts[0].shape);
  if (in[0].nbytes() && o.raw() != in[0].raw()) std::memcpy(o.raw(), in[0].raw(), in[0].nbytes());
}

void need(const Node& n, const std::vector<TypeShape>& in, size_t k) {
  if (in.size() <= k || !in[k].present()) node_error(n, "required input " + std::to_string(k) + " is missing");
}

// ---------------------------------------------------------------- Reshape
std::vector<TypeShape> infer_reshape(const Node& n, const std::vector<TypeShape>& in) {
  need(n, in, 0);
  need(n, in, 1);
  TypeShape o;
  o.dtype = in[0].dtype;
  if (!in[1].value) {
    int64_t k = in[1].shape.size() == 1 ? in[1].shape[0] : -1;
    o.shape.assign(size_t(std::max<int64_t>(k, 0)), -1);
    return {o};
  }
  std::vector<int64_t> s = in[1].value->to_i64_vector();
  bool allowzero = n.attr_i("allowzero", 0) != 0;
  const Shape& x = in[0].shape;
  int infer_at = -1;
  int64_t known = 1;
  bool unknown = false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == 0 && !allowzero) {
      if (i >= x.size()) node_error(n, "shape entry 0 at " + std::to_string(i) + " beyond input rank");
      s[i] = x[i];
      if (s[i] < 0) {  // copied an unknown dim
        unknown = true;
        continue;
      }
    }
    if (s[i] == -1) {
      if (infer_at >= 0) node_error(n, "more than one -1 in shape");
      infer_at = int(i);
    } else if (s[i] < -1) {
      node_error(n, "invalid shape entry " + std::to_string(s[i]));
    } else if (__builtin_mul_overflow(known, s[i], &known)) {
      node_error(n, "shape " + shape_str(s) + " has too many elements");
    }
  }
  if (infer_at >= 0) {
    if (!all_known(x) || unknown) {
      s[size_t(infer_at)] = -1;
    } else {
      int64_t total = shape_numel(x);
      if (known == 0 || total % known != 0)
        node_error(n, "cannot reshape " + shape_str(x) + " to " + shape_str(s));
      s[size_t(infer_at)] = total / known;
    }
  } else if (all_known(x) && !unknown && shape_numel(x) != known) {
    node_error(n, "cannot reshape " + shape_str(x) + " to " + shape_str(s));
  }
  o.shape = s;
  return {o};
}

// ---------------------------------------------------------------- Flatten
std::vector<TypeShape> infer_flatten(const Node& n, const std::vector<TypeShape>& in) {
  need(n, in, 0);
  const Shape& x = in[0].shape;
  int64_t r = int64_t(x.size());
  int64_t a = n.attr_i("axis", 1);
  if (a < -r || a > r) node_error(n, "axis " + std::to_string(a) + " out of range for rank " + std::to_string(r));
  if (a < 0) a += r;
  auto prod = [&](size_t b, size_t e) {
    int64_t p = 1;
    for (size_t i = b; i < e; ++i) {
      if (x[i] < 0) return int64_t(-1);
      p *= x[i];
    }
    return p;
  };
  TypeShape o;
  o.dtype = in[0].dtype;
  o.shape = {prod(0, size_t(a)), prod(size_t(a), x.size())};
  return {o};
}

// ---------------------------------------------------------------- Squeeze / Unsqueeze
// Axes from the attribute (opset < 13) or input 1 (>= 13). Returns false if
// the axes input is present but not constant.
bool get_axes(const Node& n, const std::vector<TypeShape>& in, std::vector<int64_t>& axes, bool& given) {
  given = false;
  if (n.has("axes")) {
    axes = n.attr_ints("axes");
    given = true;
    return true;
  }
  if (in.size() > 1 && in[1].present()) {
    if (!in[1].value) return false;
    axes = in[1].value->to_i64_vector();
    given = true;
  }
  return true;
}

std::vector<TypeShape> infer_squeeze(const Node& n, const std::vector<TypeShape>& in) {
  need(n, in, 0);
  const Shape& x = in[0].shape;
  int64_t r = int64_t(x.size());
  std::vector<int64_t> axes;
  bool given;
  TypeShape o;
  o.dtype = in[0].dtype;
  if (!get_axes(n, in, axes, given)) {
    int64_t k = in[1].shape.size() == 1 ? in[1].shape[0] : -1;
    o.shape.assign(size_t(std::max<int64_t>(r - std::max<int64_t>(k, 0), 0)), -1);
    return {o};
  }
  std::vector<bool> drop(size_t(r), false);
  if (!given || axes.empty()) {
    for (size_t i = 0; i < x.size(); ++i) drop[i] = x[i] == 1;
  } else {
    for (int64_t a : axes) {
      a = norm_axis(n, a, r);
      if (x[size_t(a)] > 1) node_error(n, "cannot squeeze axis " + std::to_string(a) + " of size " + std::to_string(x[size_t(a)]));
      drop[size_t(a)] = true;
    }
  }
  for (size_t i = 0; i < x.size(); ++i)
    if (!drop[i]) o.shape.push_back(x[i]);
  return {o};
}

std::vector<TypeShape> infer_unsqueeze(const Node& n, const std::vector<TypeShape>& in) {
  need(n, in, 0);
  const Shape& x = in[0].shape;
  std::vector<int64_t> axes;
  bool given;
  TypeShape o;
  o.dtype = in[0].dtype;
  if (!get_axes(n, in, axes, given)) {
    int64_t k = in[1].shape.size() == 1 ? in[1].shape[0] : 0;
    o.shape.assign(x.size() + size_t(std::max<int64_t>(k, 0)), -1);
    return {o};
  }
  if (!given) node_error(n, "axes are required");
  int64_t r = int64_t(x.size() + axes.size());
  std::vector<bool> ins(size_t(r), false);
  for (int64_t a : axes) {
    a = norm_axis(n, a, r);
    if (ins[size_t(a)]) node_error(n, "duplicate axis " + std::to_string(a));
    ins[size_t(a)] = true;
  }
  size_t k = 0;
  for (int64_t i = 0; i < r; ++i) o.shape.push_back(ins[size_t(i)] ? 1 : x[k++]);
  return {o};
}

// ---------------------------------------------------------------- Shape / Size
void shape_range(const Node& n, int64_t r, int64_t& b, int64_t& e) {
  b = n.attr_i("start", 0);
  e = n.has("end") ? n.attr_i("end", r) : r;
  if (b < 0) b += r;
  if (e < 0) e += r;
  b = std::clamp<int64_t>(b, 0, r);
  e = std::clamp<int64_t>(e, 0, r);
  if (e < b) e = b;
}

std::vector<TypeShape> infer_shape(const Node& n, const std::vector<TypeShape>& in) {
  need(n, in, 0);
  int64_t b, e;
  shape_range(n, int64_t(in[0].shape.size()), b, e);
  TypeShape o;
  o.dtype = DType::I64;
  o.shape = {e - b};
  return {o};
}

void ref_shape(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  int64_t b, e;
  shape_range(n, in[0].rank(), b, e);
  Tensor& o = ref_output(out, 0, DType::I64, {e - b});
  for (int64_t i = b; i < e; ++i) o.data<int64_t>()[i - b] = in[0].shape[size_t(i)];
}

std::vector<TypeShape> infer_size(const Node& n, const std::vector<TypeShape>& in) {
  need(n, in, 0);
  TypeShape o;
  o.dtype = DType::I64;
  return {o};
}

void ref_size(const Node&, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  ref_output(out, 0, DType::I64, {}).data<int64_t>()[0] = in[0].numel();
}

// ---------------------------------------------------------------- Expand
std::vector<TypeShape> infer_expand(const Node& n, const std::vector<TypeShape>& in) {
  need(n, in, 0);
  need(n, in, 1);
  TypeShape o;
  o.dtype = in[0].dtype;
  if (!in[1].value) {
    int64_t k = in[1].shape.size() == 1 ? in[1].shape[0] : -1;
    o.shape.assign(std::max<size_t>(in[0].shape.size(), size_t(std::max<int64_t>(k, 0))), -1);
    return {o};
  }
  Shape s = in[1].value->to_i64_vector();
  if (!broadcast_shapes(in[0].shape, s, o.shape))
    node_error(n, "cannot expand " + shape_str(in[0].shape) + " to " + shape_str(s));
  return {o};
}

// out[i] = in[idx[i]] bytewise.
void gather_bytes(Tensor& o, const Tensor& in, const std::vector<int64_t>& idx) {
  size_t es = dtype_size(in.dtype);
  const uint8_t* s = static_cast<const uint8_t*>(in.raw());
  uint8_t* d = static_cast<uint8_t*>(o.raw());
  for (size_t i = 0; i < idx.size(); ++i) std::memcpy(d + i * es, s + size_t(idx[i]) * es, es);
}

void ref_expand(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  auto ts = infer_expand(n, type_shapes_of(in));
  Tensor& o = ref_output(out, 0, in[0].dtype, ts[0].shape);
  gather_bytes(o, in[0], broadcast_index(in[0].shape, ts[0].shape));
}

// ---------------------------------------------------------------- Tile
std::vector<TypeShape> infer_tile(const Node& n, const std::vector<TypeShape>& in) {
  need(n, in, 0);
  need(n, in, 1);
  TypeShape o;
  o.dtype = in[0].dtype;
  const Shape& x = in[0].shape;
  if (!in[1].value) {
    o.shape.assign(x.size(), -1);
    return {o};
  }
  std::vector<int64_t> rep = in[1].value->to_i64_vector();
  if (rep.size() != x.size()) node_error(n, "repeats length " + std::to_string(rep.size()) + " != input rank " + std::to_string(x.size()));
  for (size_t i = 0; i < x.size(); ++i) {
    if (rep[i] < 0) node_error(n, "negative repeat");
    o.shape.push_back(x[i] < 0 ? -1 : x[i] * rep[i]);
  }
  return {o};
}

void ref_tile(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  auto ts = infer_tile(n, type_shapes_of(in));
  const Shape& os = ts[0].shape;
  Tensor& o = ref_output(out, 0, in[0].dtype, os);
  int64_t total = o.numel();
  std::vector<int64_t> idx(size_t(std::max<int64_t>(total, 0)));
  auto ist = row_strides(in[0].shape);
  size_t r = os.size();
  std::vector<int64_t> pos(r, 0);
  for (int64_t i = 0; i < total; ++i) {
    int64_t src = 0;
    for (size_t d = 0; d < r; ++d) src += (pos[d] % in[0].shape[d]) * ist[d];
    idx[size_t(i)] = src;
    for (int d = int(r) - 1; d >= 0; --d) {
      if (++pos[size_t(d)] < os[size_t(d)]) break;
      pos[size_t(d)] = 0;
    }
  }
  gather_bytes(o, in[0], idx);
}

// ---------------------------------------------------------------- DepthToSpace / SpaceToDepth
std::vector<TypeShape> infer_d2s(const Node& n, const std::vector<TypeShape>& in) {
  need(n, in, 0);
  const Shape& x = in[0].shape;
  if (x.size() != 4) node_error(n, "expects a 4-D input, got " + shape_str(x));
  int64_t b = n.attr_i("blocksize", 0);
  if (b <= 0) node_error(n, "blocksize must be positive");
  TypeShape o;
  o.dtype = in[0].dtype;
  if (x[1] >= 0 && x[1] % (b * b) != 0) node_error(n, "channels " + std::to_string(x[1]) + " not divisible by blocksize^2");
  o.shape = {x[0], x[1] < 0 ? -1 : x[1] / (b * b), x[2] < 0 ? -1 : x[2] * b, x[3] < 0 ? -1 : x[3] * b};
  return {o};
}

std::vector<TypeShape> infer_s2d(const Node& n, const std::vector<TypeShape>& in) {
  need(n, in, 0);
  const Shape& x = in[0].shape;
  if (x.size() != 4) node_error(n, "expects a 4-D input, got " + shape_str(x));
  int64_t b = n.attr_i("blocksize", 0);
  if (b <= 0) node_error(n, "blocksize must be positive");
  if ((x[2] >= 0 && x[2] % b) || (x[3] >= 0 && x[3] % b)) node_error(n, "spatial dims not divisible by blocksize");
  TypeShape o;
  o.dtype = in[0].dtype;
  o.shape = {x[0], x[1] < 0 ? -1 : x[1] * b * b, x[2] < 0 ? -1 : x[2] / b, x[3] < 0 ? -1 : x[3] / b};
  return {o};
}

void ref_d2s(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  auto ts = infer_d2s(n, type_shapes_of(in));
  const Shape& os = ts[0].shape;
  Tensor& o = ref_output(out, 0, in[0].dtype, os);
  int64_t b = n.attr_i("blocksize", 0);
  bool crd = n.attr_s("mode", "DCR") == "CRD";
  int64_t N = os[0], C = os[1], H = os[2], W = os[3];
  int64_t IC = in[0].shape[1], IH = in[0].shape[2], IW = in[0].shape[3];
  std::vector<int64_t> idx(size_t(o.numel()));
  size_t k = 0;
  for (int64_t nn = 0; nn < N; ++nn)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t w = 0; w < W; ++w) {
          int64_t bh = h % b, bw = w % b;
          int64_t ic = crd ? c * b * b + bh * b + bw : (bh * b + bw) * C + c;
          idx[k++] = ((nn * IC + ic) * IH + h / b) * IW + w / b;
        }
  gather_bytes(o, in[0], idx);
}

void ref_s2d(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  auto ts = infer_s2d(n, type_shapes_of(in));
  const Shape& os = ts[0].shape;
  Tensor& o = ref_output(out, 0, in[0].dtype, os);
  int64_t b = n.attr_i("blocksize", 0);
  int64_t N = os[0], C = os[1], H = os[2], W = os[3];
  int64_t IC = in[0].shape[1], IH = in[0].shape[2], IW = in[0].shape[3];
  std::vector<int64_t> idx(size_t(o.numel()));
  size_t k = 0;
  for (int64_t nn = 0; nn < N; ++nn)
    for (int64_t c = 0; c < C; ++c)
      for (int64_t h = 0; h < H; ++h)
        for (int64_t w = 0; w < W; ++w) {
          // output channel c = (bh * b + bw) * IC + ic
          int64_t ic = c % IC, blk = c / IC, bh = blk / b, bw = blk % b;
          idx[k++] = ((nn * IC + ic) * IH + h * b + bh) * IW + w * b + bw;
        }
  gather_bytes(o, in[0], idx);
}

OpDef copy_op(const std::string& op, int since, InferFn f) {
  OpDef d;
  d.op = op;
  d.since_opset = since;
  d.infer = f;
  d.ref = [f](const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) { copy_as(n, f, in, out); };
  return d;
}

}  // namespace

C8_REGISTER_OPS({
    copy_op("Reshape", 5, infer_reshape),
    copy_op("Flatten", 1, infer_flatten),
    copy_op("Squeeze", 1, infer_squeeze),
    copy_op("Unsqueeze", 1, infer_unsqueeze),
    {"Shape", "", 1, infer_shape, ref_shape},
    {"Size", "", 1, infer_size, ref_size},
    {"Expand", "", 8, infer_expand, ref_expand},
    {"Tile", "", 6, infer_tile, ref_tile},
    {"DepthToSpace", "", 1, infer_d2s, ref_d2s},
    {"SpaceToDepth", "", 1, infer_s2d, ref_s2d},
});

}  // namespace c8
