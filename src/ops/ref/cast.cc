// Cast and CastLike: every numeric dtype, bool, float16 and bfloat16.
// float -> int truncates toward zero (C semantics); bfloat16 rounds to
// nearest even.
#include <cmath>
#include <cstring>

#include "ops/ref/broadcast.h"
#include "ops/op_registry.h"

namespace c8 {
namespace {

float bf16_to_f32(uint16_t b) {
  uint32_t bits = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

uint16_t f32_to_bf16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  if (std::isnan(f)) return uint16_t((bits >> 16) | 0x40);
  uint32_t rounding = 0x7fff + ((bits >> 16) & 1);
  return uint16_t((bits + rounding) >> 16);
}

DType target(const Node& n, const std::vector<TypeShape>& in) {
  if (n.op == "CastLike") {
    if (in.size() < 2 || !in[1].present()) node_error(n, "target_type input is missing");
    return in[1].dtype;
  }
  int64_t to = n.attr_i("to", 0);
  if (!dtype_valid(int32_t(to))) node_error(n, "unsupported target type " + std::to_string(to));
  DType t = DType(to);
  if (t == DType::String) node_error(n, "unsupported target type string");
  return t;
}

std::vector<TypeShape> infer_cast(const Node& n, const std::vector<TypeShape>& in) {
  if (in.empty() || !in[0].present()) node_error(n, "required input 0 is missing");
  if (in[0].dtype == DType::String) node_error(n, "unsupported input type string");
  TypeShape o;
  o.dtype = target(n, in);
  o.shape = in[0].shape;
  return {o};
}

void ref_cast(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  std::vector<TypeShape> ts(in.size());
  for (size_t i = 0; i < in.size(); ++i)
    if (in[i].defined()) ts[i] = TypeShape{in[i].dtype, in[i].shape, nullptr};
  DType to = infer_cast(n, ts)[0].dtype;
  Tensor x = in[0];
  Tensor& o = ref_output(out, 0, to, x.shape);
  int64_t cnt = x.numel();
  if (x.dtype == to) {
    if (x.nbytes()) std::memcpy(o.raw(), x.raw(), x.nbytes());
    return;
  }
  if (x.dtype == DType::BF16) {
    Tensor f(DType::F32, x.shape);
    for (int64_t i = 0; i < cnt; ++i) f.data<float>()[i] = bf16_to_f32(x.data<uint16_t>()[i]);
    x = f;
    if (to == DType::F32) {
      if (x.nbytes()) std::memcpy(o.raw(), x.raw(), x.nbytes());
      return;
    }
  }
  if (to == DType::BF16) {
    Tensor f = x.cast(DType::F32);
    for (int64_t i = 0; i < cnt; ++i) o.data<uint16_t>()[i] = f32_to_bf16(f.data<float>()[i]);
    return;
  }
  Tensor c;
  try {
    c = x.cast(to);
  } catch (const std::exception& e) {
    node_error(n, e.what());
  }
  if (o.nbytes()) std::memcpy(o.raw(), c.raw(), o.nbytes());
}

}  // namespace

C8_REGISTER_OPS({
    {"Cast", "", 1, infer_cast, ref_cast},
    {"CastLike", "", 15, infer_cast, ref_cast},
});

}  // namespace c8
