#pragma once
// Numpy-style multidirectional broadcasting and dtype dispatch helpers shared
// by the reference kernels.
#include <cstdint>
#include <string>
#include <vector>

#include "ir/graph.h"
#include "ops/op_registry.h"

namespace c8 {

// Broadcast two shapes (numpy rules). Unknown dims (-1) are allowed: 1 vs ?
// gives ?, n vs ? gives n. Returns false if incompatible.
bool broadcast_shapes(const Shape& a, const Shape& b, Shape& out);
// Broadcast all shapes; throws node_error naming the shapes on mismatch.
Shape broadcast_all(const Node& n, const std::vector<Shape>& shapes);
// True if `from` broadcasts unidirectionally to `to`.
bool broadcastable_to(const Shape& from, const Shape& to);

// Element strides of `in` viewed as broadcast to `out` (0 for broadcast dims),
// one per dim of `out`. in.size() must be <= out.size().
std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out);
// For every element of `out` (row-major), the linear index into `in`.
std::vector<int64_t> broadcast_index(const Shape& in, const Shape& out);

// Row-major strides of a shape.
std::vector<int64_t> row_strides(const Shape& s);
// Normalise an axis in [-rank, rank) (or [-rank-1, rank] with `extra`).
int64_t norm_axis(const Node& n, int64_t axis, int64_t rank, const char* what = "axis");

bool is_float_dtype(DType t);  // F32, F64, F16, BF16
bool is_int_dtype(DType t);    // signed/unsigned integer types (not bool)

// Calls f(T{}) with T the C++ type of dtype `t` for numeric dtypes (and bool
// as uint8_t when allow_bool). F16 is not dispatched: callers convert it.
template <class F>
void dispatch_numeric(const Node& n, DType t, F&& f, bool allow_bool = false) {
  switch (t) {
    case DType::F32: f(float{}); return;
    case DType::F64: f(double{}); return;
    case DType::I8: f(int8_t{}); return;
    case DType::U8: f(uint8_t{}); return;
    case DType::I16: f(int16_t{}); return;
    case DType::U16: f(uint16_t{}); return;
    case DType::I32: f(int32_t{}); return;
    case DType::U32: f(uint32_t{}); return;
    case DType::I64: f(int64_t{}); return;
    case DType::U64: f(uint64_t{}); return;
    case DType::Bool:
      if (allow_bool) { f(uint8_t{}); return; }
      break;
    default: break;
  }
  node_error(n, std::string("unsupported dtype ") + dtype_name(t));
}

// If any input is float16, runs `fn` on float32 copies of the inputs and
// converts float32 outputs back to float16 into `out`; returns false (doing
// nothing) when no input is float16.
bool run_half_as_float(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out,
                       void (*fn)(const Node&, const std::vector<Tensor>&, std::vector<Tensor>&));

// Spatial geometry of a conv / pool window (ONNX formulas, auto_pad,
// ceil_mode). in_spatial and kernel have one entry per spatial dim.
struct WindowGeom {
  std::vector<int64_t> kernel, strides, dilations, pad_begin, pad_end, out;
};
// Reads strides, dilations, pads, auto_pad from n. Unknown input dims give -1
// outputs. Throws node_error on invalid attributes or an empty output.
WindowGeom window_geometry(const Node& n, const Shape& in_spatial, const std::vector<int64_t>& kernel,
                           bool ceil_mode);

// Checks that an input is present; throws otherwise.
void require_inputs(const Node& n, const std::vector<TypeShape>& in, size_t min_count, size_t max_count);

}  // namespace c8
