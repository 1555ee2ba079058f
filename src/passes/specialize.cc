// Shape specialisation: with concrete input shapes, every shape sub-graph
// (Shape -> Gather -> Concat -> Reshape ...) becomes constant and is folded,
// which is what lets the planner create oneDNN primitives with fixed dims.
#include <omp.h>

#include <algorithm>

#include "ops/op_registry.h"
#include "passes/passes.h"

namespace c8 {

namespace {

// Folding large tensors would bloat the plan (e.g. Expand of an activation-sized
// constant); above this the node stays and runs at run time.
constexpr int64_t kMaxFoldElements = 1 << 24;

bool foldable(const Node& n) {
  static const char* kNever[] = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
                                 "Multinomial", "Bernoulli"};
  for (const char* op : kNever)
    if (n.op == op) return false;
  return true;
}

}  // namespace

void specialize(Graph& g, const std::vector<Shape>& input_shapes, int64_t max_fold_elements) {
  if (input_shapes.size() != g.inputs.size())
    throw Error("model has " + std::to_string(g.inputs.size()) + " inputs, got " + std::to_string(input_shapes.size()));
  for (size_t i = 0; i < g.inputs.size(); ++i) {
    Value& v = g.values[size_t(g.inputs[i])];
    const Shape& s = input_shapes[i];
    if (v.has_shape) {
      bool ok = v.shape.size() == s.size();
      for (size_t d = 0; ok && d < s.size(); ++d) ok = v.shape[d] < 0 || v.shape[d] == s[d];
      if (!ok)
        throw Error("input '" + v.name + "' expects shape " + shape_str(v.shape) + ", got " + shape_str(s));
    }
    v.shape = s;
    v.has_shape = true;
  }
  for (int ni : g.topo_order()) {
    Node& n = g.nodes[size_t(ni)];
    const OpDef* def = find_op(n.op, n.domain);
    if (!def) throw Error(node_label(n) + ": unsupported operator");
    std::vector<TypeShape> in;
    bool all_const = true;
    for (int v : n.inputs) {
      TypeShape ts;
      if (v >= 0) {
        const Value& val = g.values[size_t(v)];
        ts.dtype = val.dtype;
        ts.shape = val.shape;
        if (val.constant) ts.value = &*val.constant;
        else all_const = false;
        if (!val.has_shape) throw Error(node_label(n) + ": shape of input '" + val.name + "' is unknown");
      }
      in.push_back(ts);
    }
    // Shape/Size only need the input's (now known) shape.
    if ((n.op == "Shape" || n.op == "Size") && n.inputs.size() == 1 && n.inputs[0] >= 0) {
      const Value& x = g.values[size_t(n.inputs[0])];
      bool known = true;
      for (int64_t d : x.shape) known &= d >= 0;
      if (known) {
        Tensor probe(x.dtype == DType::Undefined ? DType::F32 : x.dtype, {0});
        probe.shape = x.shape;  // the reference Shape/Size kernels read only the shape
        std::vector<Tensor> out(1);
        def->ref(n, {probe}, out);
        Value& o = g.values[size_t(n.outputs[0])];
        o.dtype = out[0].dtype;
        o.shape = out[0].shape;
        o.has_shape = true;
        o.constant = out[0];
        n.dead = true;
        continue;
      }
    }
    std::vector<TypeShape> out;
    try {
      out = def->infer(n, in);
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      throw Error(node_label(n) + ": " + e.what());
    }
    if (out.size() < n.outputs.size()) throw Error(node_label(n) + ": shape inference returned too few outputs");
    int64_t out_elems = 0;
    for (size_t k = 0; k < n.outputs.size(); ++k) {
      if (n.outputs[k] < 0) continue;
      Value& o = g.values[size_t(n.outputs[k])];
      o.dtype = out[k].dtype;
      o.shape = out[k].shape;
      o.has_shape = true;
      for (int64_t d : o.shape)
        if (d < 0) throw Error(node_label(n) + ": output '" + o.name + "' has a data-dependent shape " + shape_str(o.shape) + ", which the fast runtime cannot plan");
      out_elems += shape_numel(o.shape);
    }
    if (all_const && foldable(n) && out_elems <= std::min(max_fold_elements, kMaxFoldElements)) {
      std::vector<Tensor> inputs;
      for (int v : n.inputs) inputs.push_back(v >= 0 ? *g.values[size_t(v)].constant : Tensor());
      std::vector<Tensor> res(n.outputs.size());
      def->ref(n, inputs, res);
      for (size_t k = 0; k < n.outputs.size(); ++k) {
        if (n.outputs[k] < 0) continue;
        Value& o = g.values[size_t(n.outputs[k])];
        o.constant = res[k];
        o.dtype = res[k].dtype;
        o.shape = res[k].shape;
      }
      n.dead = true;
    }
  }
  // Graph outputs that became constants stay as values; compact drops dead nodes.
  g.compact();
}

}  // namespace c8
