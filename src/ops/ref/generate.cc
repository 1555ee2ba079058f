// Tensor generators: Constant, ConstantOfShape, Range, EyeLike.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "ops/ref/broadcast.h"
#include "ops/op_registry.h"

namespace c8 {
namespace {

// ---------------------------------------------------------------- Constant
Tensor constant_value(const Node& n) {
  if (n.has("value")) {
    const Attribute& a = n.attrs.at("value");
    if (a.kind != Attribute::TensorKind || !a.t.defined()) node_error(n, "attribute 'value' is not a tensor");
    return a.t;
  }
  if (n.has("value_float")) return Tensor::scalar_f32(n.attr_f("value_float", 0));
  if (n.has("value_floats")) {
    auto v = n.attr_floats("value_floats");
    return Tensor::from_f32({int64_t(v.size())}, v);
  }
  if (n.has("value_int")) return Tensor::from_i64({}, {n.attr_i("value_int", 0)});
  if (n.has("value_ints")) {
    auto v = n.attr_ints("value_ints");
    return Tensor::from_i64({int64_t(v.size())}, v);
  }
  node_error(n, "unsupported Constant form (needs value, value_float(s) or value_int(s))");
}

std::vector<TypeShape> infer_constant(const Node& n, const std::vector<TypeShape>&) {
  Tensor t = constant_value(n);
  TypeShape o;
  o.dtype = t.dtype;
  o.shape = t.shape;
  return {o};
}

void ref_constant(const Node& n, const std::vector<Tensor>&, std::vector<Tensor>& out) {
  Tensor t = constant_value(n);
  Tensor& o = ref_output(out, 0, t.dtype, t.shape);
  if (t.nbytes()) std::memcpy(o.raw(), t.raw(), t.nbytes());
}

// ---------------------------------------------------------------- ConstantOfShape
Tensor fill_value(const Node& n) {
  if (!n.has("value")) return Tensor::scalar_f32(0.f);
  const Tensor& t = n.attrs.at("value").t;
  if (t.numel() != 1) node_error(n, "value must have exactly one element");
  return t;
}

std::vector<TypeShape> infer_cos(const Node& n, const std::vector<TypeShape>& in) {
  if (in.empty() || !in[0].present()) node_error(n, "required input 0 is missing");
  TypeShape o;
  o.dtype = fill_value(n).dtype;
  if (in[0].value) {
    o.shape = in[0].value->to_i64_vector();
    for (int64_t d : o.shape)
      if (d < 0) node_error(n, "negative dimension in shape " + shape_str(o.shape));
  } else {
    o.shape.assign(in[0].shape.size() == 1 ? size_t(std::max<int64_t>(in[0].shape[0], 0)) : 0, -1);
  }
  return {o};
}

void ref_cos(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  Tensor v = fill_value(n);
  Shape s = in[0].to_i64_vector();
  for (int64_t d : s)
    if (d < 0) node_error(n, "negative dimension in shape " + shape_str(s));
  Tensor& o = ref_output(out, 0, v.dtype, s);
  size_t es = dtype_size(v.dtype);
  uint8_t* d = static_cast<uint8_t*>(o.raw());
  for (int64_t i = 0; i < o.numel(); ++i) std::memcpy(d + size_t(i) * es, v.raw(), es);
}

// ---------------------------------------------------------------- Range
int64_t range_count(double start, double limit, double delta) {
  if (delta == 0) return 0;
  return std::max<int64_t>(int64_t(std::ceil((limit - start) / delta)), 0);
}

std::vector<TypeShape> infer_range(const Node& n, const std::vector<TypeShape>& in) {
  if (in.size() < 3 || !in[0].present() || !in[1].present() || !in[2].present())
    node_error(n, "start, limit and delta are required");
  TypeShape o;
  o.dtype = in[0].dtype;
  if (in[0].value && in[1].value && in[2].value) {
    double d = in[2].value->get_f64(0);
    if (d == 0) node_error(n, "delta cannot be 0");
    o.shape = {range_count(in[0].value->get_f64(0), in[1].value->get_f64(0), d)};
  } else {
    o.shape = {-1};
  }
  return {o};
}

void ref_range(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  DType dt = in[0].dtype;
  dispatch_numeric(n, dt, [&](auto t) {
    using T = decltype(t);
    T start = T(in[0].get_f64(0)), limit = T(in[1].get_f64(0)), delta = T(in[2].get_f64(0));
    if (std::is_integral<T>::value) {
      start = T(in[0].get_i64(0));
      limit = T(in[1].get_i64(0));
      delta = T(in[2].get_i64(0));
    }
    if (delta == T(0)) node_error(n, "delta cannot be 0");
    int64_t cnt = range_count(double(start), double(limit), double(delta));
    Tensor& o = ref_output(out, 0, dt, {cnt});
    T* od = o.data<T>();
    for (int64_t i = 0; i < cnt; ++i) od[i] = T(start + T(i) * delta);
  });
}

// ---------------------------------------------------------------- EyeLike
std::vector<TypeShape> infer_eyelike(const Node& n, const std::vector<TypeShape>& in) {
  if (in.empty() || !in[0].present()) node_error(n, "required input 0 is missing");
  if (in[0].shape.size() != 2) node_error(n, "input must be 2-D, got " + shape_str(in[0].shape));
  TypeShape o;
  o.dtype = n.has("dtype") ? DType(n.attr_i("dtype", 1)) : in[0].dtype;
  o.shape = in[0].shape;
  return {o};
}

void ref_eyelike(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  std::vector<TypeShape> ts = {{in[0].dtype, in[0].shape, nullptr}};
  auto o_ts = infer_eyelike(n, ts)[0];
  int64_t k = n.attr_i("k", 0);
  Tensor f(DType::F32, o_ts.shape);
  int64_t R = o_ts.shape[0], C = o_ts.shape[1];
  for (int64_t i = 0; i < R; ++i)
    if (i + k >= 0 && i + k < C) f.data<float>()[i * C + i + k] = 1.f;
  Tensor c = f.cast(o_ts.dtype);
  Tensor& o = ref_output(out, 0, o_ts.dtype, o_ts.shape);
  if (o.nbytes()) std::memcpy(o.raw(), c.raw(), o.nbytes());
}

}  // namespace

C8_REGISTER_OPS({
    {"Constant", "", 1, infer_constant, ref_constant},
    {"ConstantOfShape", "", 9, infer_cos, ref_cos},
    {"Range", "", 11, infer_range, ref_range},
    {"EyeLike", "", 9, infer_eyelike, ref_eyelike},
});

}  // namespace c8
