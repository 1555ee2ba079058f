// An FP16-compressed model (FP16 initializers, often behind Cast nodes) runs
// as FP32: weights are widened once, Casts to FP16 become Casts to FP32.
#include "passes/passes.h"

namespace c8 {

int convert_fp16_to_fp32(Graph& g) {
  int n = 0;
  for (Value& v : g.values) {
    if (v.constant && v.constant->dtype == DType::F16) {
      v.constant = v.constant->cast(DType::F32);
      ++n;
    }
    if (v.dtype == DType::F16) v.dtype = DType::F32;
  }
  for (Node& node : g.nodes) {
    if (node.dead) continue;
    if ((node.op == "Cast" || node.op == "CastLike") && node.attr_i("to", 0) == int64_t(DType::F16)) {
      node.set_i("to", int64_t(DType::F32));
      ++n;
    }
    if (node.op == "ConstantOfShape" && node.has("value") && node.attrs["value"].t.dtype == DType::F16) {
      node.attrs["value"].t = node.attrs["value"].t.cast(DType::F32);
      ++n;
    }
  }
  return n;
}

}  // namespace c8
