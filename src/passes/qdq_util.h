#pragma once
// What the QDQ passes (fuse_qdq.cc and the steps it calls) share.
#include <map>
#include <string>

#include "ir/graph.h"

namespace c8 {

struct QParams {
  float scale = 1.f;
  int64_t zp = 0;
  DType type = DType::U8;
  int q = -1;  // quantized value id (DQ input) / Q output
};

// v is a constant with one element (shape [] or [1]).
bool scalar_const(const Graph& g, int v);
// Per-tensor QuantizeLinear / DequantizeLinear with constant parameters.
bool per_tensor_params(const Graph& g, const Node& n, QParams& p);
// v = DequantizeLinear(q) per-tensor; returns its node id or -1.
int dq_of(const Graph& g, int v, QParams& p);

// Value shapes by name for graphs whose values carry none (hand-built or
// without value_info): the graph specialised to its input shapes (unknown
// dims as 1) on a copy. Empty when that is not possible.
using ShapeMap = std::map<std::string, Shape>;
ShapeMap infer_shapes(const Graph& g);
// v's shape from the graph, else from sm; false when unknown.
bool shape_of(const Graph& g, const ShapeMap& sm, int v, Shape& s);

// Shapes for same-shape checks, inferred (infer_shapes) on first need only.
struct LazyShapes {
  const Graph& g;
  ShapeMap sm;
  bool done = false;
  explicit LazyShapes(const Graph& graph) : g(graph) {}
  const ShapeMap& map() {
    if (!done) sm = infer_shapes(g);
    done = true;
    return sm;
  }
  // Both shapes known and equal.
  bool same(int a, int b) {
    Shape sa, sb;
    return shape_of(g, map(), a, sa) && shape_of(g, map(), b, sb) && sa == sb;
  }
};

// fuse_qdq step 4d (fuse_qlut.cc): element-wise float islands between
// DequantizeLinear inputs and a QuantizeLinear -> calibr8::QLut.
int fuse_qlut(Graph& g);

}  // namespace c8
