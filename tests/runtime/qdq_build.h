#pragma once
// Building QDQ graphs by hand in the INT8 runtime tests.
#include <set>
#include <string>

#include "ir/graph.h"

namespace c8test {

// A scalar constant of type t (QuantizeLinear/DequantizeLinear scale or zero point).
inline int scalar_const(c8::Graph& g, const std::string& n, c8::DType t, double v) {
  c8::Tensor s(t, {});
  if (t == c8::DType::F32) s.data<float>()[0] = float(v);
  else if (t == c8::DType::U8) s.data<uint8_t>()[0] = uint8_t(v);
  else s.data<int8_t>()[0] = int8_t(v);
  return g.add_constant(n, s);
}

// x -> QuantizeLinear (per tensor); returns the quantized value.
inline int quantize(c8::Graph& g, int x, const std::string& n, float scale, c8::DType t, int zp) {
  int y = g.add_value(n, t);
  g.add_node("QuantizeLinear", {x, scalar_const(g, n + "_s", c8::DType::F32, scale), scalar_const(g, n + "_z", t, zp)},
             {y}, n + "_Q");
  return y;
}

// q -> DequantizeLinear (per tensor); returns the float value.
inline int dequantize(c8::Graph& g, int q, const std::string& n, float scale, c8::DType t, int zp) {
  int y = g.add_value(n, c8::DType::F32);
  g.add_node("DequantizeLinear", {q, scalar_const(g, n + "_s", c8::DType::F32, scale), scalar_const(g, n + "_z", t, zp)},
             {y}, n + "_DQ");
  return y;
}

// x -> Q -> DQ (per tensor); returns the float value.
inline int qdq(c8::Graph& g, int x, const std::string& n, float scale, c8::DType t, int zp) {
  return dequantize(g, quantize(g, x, n + "_q", scale, t, zp), n + "_dq", scale, t, zp);
}

// A float graph input of a known shape; returns its value id.
inline int float_input(c8::Graph& g, const std::string& n, const c8::Shape& shape) {
  int x = g.add_value(n, c8::DType::F32);
  g.values[size_t(x)].shape = shape;
  g.values[size_t(x)].has_shape = true;
  g.inputs.push_back(x);
  return x;
}

// Bit-identity check of two float outputs of the same shape: how many
// elements differ, and how many distinct values `a` holds (a test whose
// outputs barely vary would not see errors).
struct OutputDiff {
  int64_t differ = 0;
  size_t levels = 0;
};
inline OutputDiff diff_outputs(const c8::Tensor& a, const c8::Tensor& b) {
  OutputDiff d;
  std::set<float> levels;
  for (int64_t i = 0; i < a.numel(); ++i) {
    d.differ += a.data<float>()[i] != b.data<float>()[i];
    levels.insert(a.data<float>()[i]);
  }
  d.levels = levels.size();
  return d;
}

}  // namespace c8test
