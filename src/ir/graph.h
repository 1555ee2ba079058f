#pragma once
// The calibr8 IR: plain structs addressed by integer ids. A Value is an edge
// (tensor), a Node an operator. Nodes are stored in a vector; passes mark
// nodes dead and call Graph::compact() to renumber, so ids are only stable
// between compactions.
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ir/tensor.h"

namespace c8 {

struct Attribute {
  enum Kind { Float, Int, String, TensorKind, Floats, Ints, Strings, GraphKind } kind = Int;
  float f = 0;
  int64_t i = 0;
  std::string s;
  Tensor t;
  std::vector<float> floats;
  std::vector<int64_t> ints;
  std::vector<std::string> strings;
};

struct Value {
  std::string name;
  DType dtype = DType::Undefined;
  Shape shape;             // dims < 0 are unknown (symbolic / dynamic)
  bool has_shape = false;  // false: rank unknown
  std::optional<Tensor> constant;  // initializer or folded constant
  int producer = -1;               // node id, -1 for graph inputs / constants
  std::string dim_param0;          // symbolic name of dim 0 if any (e.g. "batch")
};

// An operation fused into its producer, applied in order after the main op
// (oneDNN post-ops). Sum adds node input `input_index` (same shape as output).
struct PostOp {
  enum Kind { Eltwise, Sum } kind = Eltwise;
  std::string op;  // ONNX op name for Eltwise: Relu, Clip, Sigmoid, HardSwish, HardSigmoid, LeakyRelu, Elu, Tanh, Mul(=SiLU when op=="SiLU")
  float alpha = 0.f, beta = 0.f;
  int input_index = -1;
};

struct Node {
  std::string name;
  std::string op;      // ONNX op_type
  std::string domain;  // "" for ai.onnx
  std::vector<int> inputs;   // value ids; -1 = omitted optional input
  std::vector<int> outputs;  // value ids; -1 = omitted optional output
  std::map<std::string, Attribute> attrs;
  std::vector<PostOp> post_ops;
  bool dead = false;

  bool has(const std::string& a) const { return attrs.count(a) != 0; }
  int64_t attr_i(const std::string& a, int64_t def) const;
  float attr_f(const std::string& a, float def) const;
  std::string attr_s(const std::string& a, const std::string& def) const;
  std::vector<int64_t> attr_ints(const std::string& a, std::vector<int64_t> def = {}) const;
  std::vector<float> attr_floats(const std::string& a, std::vector<float> def = {}) const;
  void set_i(const std::string& a, int64_t v);
  void set_f(const std::string& a, float v);
  void set_s(const std::string& a, const std::string& v);
  void set_ints(const std::string& a, std::vector<int64_t> v);
  void set_floats(const std::string& a, std::vector<float> v);
  int input(size_t k) const { return k < inputs.size() ? inputs[k] : -1; }
};

struct Graph {
  std::string name;
  std::vector<Value> values;
  std::vector<Node> nodes;
  std::vector<int> inputs;   // value ids of real (non-initializer) inputs
  std::vector<int> outputs;  // value ids
  int64_t ir_version = 8;
  int64_t opset = 13;  // ai.onnx opset
  std::map<std::string, int64_t> other_opsets;  // domain -> version
  std::string producer_name, producer_version;
  std::map<std::string, std::string> metadata;  // model metadata_props
  std::vector<std::string> external_files;       // files the importer read external data from (never exported)

  int add_value(const std::string& name, DType dt = DType::Undefined);
  int add_constant(const std::string& name, Tensor t);
  int add_node(const std::string& op, std::vector<int> inputs, std::vector<int> outputs,
               const std::string& name = "");
  int find_value(const std::string& name) const;  // -1 if absent (linear scan)
  std::string unique_name(const std::string& base) const;

  bool is_const(int v) const { return v >= 0 && values[size_t(v)].constant.has_value(); }
  const Tensor& const_of(int v) const { return *values[size_t(v)].constant; }

  // For every value id, the ids of live nodes that read it (in node order).
  std::vector<std::vector<int>> consumers() const;
  // Live node ids in a topological order (stable: keeps the stored order where valid).
  std::vector<int> topo_order() const;
  // Drop dead nodes and values nobody uses, sort topologically, renumber ids,
  // recompute producers.
  void compact();
  // Redirect every use of value `from` (node inputs and graph outputs) to `to`.
  void replace_uses(int from, int to);
  // Checks structure: ids in range, one producer per value, acyclic, graph
  // outputs produced, inputs defined before use. Empty string when valid,
  // otherwise a message naming the node/value at fault.
  std::string verify() const;

  std::map<std::string, int> op_histogram() const;
  int64_t parameter_count() const;  // elements of floating constants read by nodes
};

}  // namespace c8
