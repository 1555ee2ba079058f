#include "ir/onnx_export.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <onnx/onnx_pb.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <vector>

#include "ir/onnx_validate.h"
#include "base/atomic_file.h"
#include "base/error.h"

namespace c8 {
namespace {

void set_type(const Value& v, onnx::TypeProto* tp) {
  auto* tt = tp->mutable_tensor_type();
  if (v.dtype != DType::Undefined) tt->set_elem_type(int32_t(v.dtype));
  if (!v.has_shape) return;
  auto* sh = tt->mutable_shape();  // rank known (possibly scalar)
  for (size_t i = 0; i < v.shape.size(); ++i) {
    auto* d = sh->add_dim();
    if (v.shape[i] >= 0) d->set_dim_value(v.shape[i]);
    else if (i == 0 && !v.dim_param0.empty()) d->set_dim_param(v.dim_param0);
  }
}

void fill_value_info(const Value& v, onnx::ValueInfoProto* vi) {
  vi->set_name(v.name);
  set_type(v, vi->mutable_type());
}

int64_t ir_for_opset(int64_t opset) {
  if (opset <= 18) return 8;
  if (opset <= 20) return 9;
  return 10;
}

}  // namespace

void tensor_to_proto(const Tensor& t, const std::string& name, onnx::TensorProto& tp) {
  if (t.dtype == DType::Undefined || t.dtype == DType::String || dtype_size(t.dtype) == 0)
    throw Error("tensor '" + name + "': cannot export data type " + dtype_name(t.dtype));
  tp.Clear();
  tp.set_name(name);
  tp.set_data_type(int32_t(t.dtype));
  for (int64_t d : t.shape) tp.add_dims(d);
  size_t n = t.nbytes();
  if (n && !t.raw()) throw Error("tensor '" + name + "' has no data");
  tp.set_raw_data(n ? static_cast<const char*>(t.raw()) : "", n);
}

void graph_to_proto(const Graph& g, onnx::ModelProto& model) {
  std::string err = g.verify();
  if (!err.empty()) throw Error("cannot export an invalid graph: " + err);
  for (const Node& n : g.nodes) {
    if (n.dead) continue;
    if (!n.post_ops.empty())
      throw Error("cannot export node '" + n.name + "' (" + n.op +
                  "): it carries fused post-ops, which ONNX cannot express");
  }

  model.Clear();
  int64_t ir = g.opset <= 17 ? 8 : std::max<int64_t>(g.ir_version, ir_for_opset(g.opset));
  model.set_ir_version(std::max<int64_t>(ir, 7));
  model.set_producer_name(g.producer_name.empty() ? "calibr8" : g.producer_name);
  if (!g.producer_version.empty()) model.set_producer_version(g.producer_version);
  auto* op = model.add_opset_import();
  op->set_domain("");
  op->set_version(g.opset);
  for (const auto& kv : g.other_opsets) {
    if (kv.first.empty() || kv.first == "ai.onnx") continue;
    auto* o = model.add_opset_import();
    o->set_domain(kv.first);
    o->set_version(kv.second);
  }
  for (const auto& kv : g.metadata) {
    if (kv.first == "c8.warnings") continue;
    auto* p = model.add_metadata_props();
    p->set_key(kv.first);
    p->set_value(kv.second);
  }

  onnx::GraphProto* gp = model.mutable_graph();
  gp->set_name(g.name.empty() ? "calibr8" : g.name);

  std::vector<int> order = g.topo_order();
  std::vector<char> used(g.values.size(), 0), is_io(g.values.size(), 0);
  for (int ni : order) {
    for (int v : g.nodes[size_t(ni)].inputs)
      if (v >= 0) used[size_t(v)] = 1;
  }
  for (int v : g.outputs) used[size_t(v)] = 1, is_io[size_t(v)] = 1;
  for (int v : g.inputs) is_io[size_t(v)] = 1;

  for (int v : g.inputs) fill_value_info(g.values[size_t(v)], gp->add_input());
  for (int v : g.outputs) fill_value_info(g.values[size_t(v)], gp->add_output());

  for (size_t v = 0; v < g.values.size(); ++v) {
    const Value& val = g.values[v];
    if (!val.constant || !used[v]) continue;
    tensor_to_proto(*val.constant, val.name, *gp->add_initializer());
  }

  for (int ni : order) {
    const Node& n = g.nodes[size_t(ni)];
    onnx::NodeProto* np = gp->add_node();
    np->set_name(n.name);
    np->set_op_type(n.op);
    if (!n.domain.empty() && n.domain != "ai.onnx") np->set_domain(n.domain);
    size_t nin = n.inputs.size();
    while (nin > 0 && n.inputs[nin - 1] < 0) --nin;  // trailing omitted optionals
    for (size_t k = 0; k < nin; ++k)
      np->add_input(n.inputs[k] >= 0 ? g.values[size_t(n.inputs[k])].name : std::string());
    size_t nout = n.outputs.size();
    while (nout > 1 && n.outputs[nout - 1] < 0) --nout;
    for (size_t k = 0; k < nout; ++k)
      np->add_output(n.outputs[k] >= 0 ? g.values[size_t(n.outputs[k])].name : std::string());
    for (const auto& kv : n.attrs) {
      if (!kv.first.empty() && kv.first[0] == '_') continue;  // internal annotations (e.g. _opset)
      const Attribute& a = kv.second;
      onnx::AttributeProto* ap = np->add_attribute();
      ap->set_name(kv.first);
      switch (a.kind) {
        case Attribute::Float: ap->set_type(onnx::AttributeProto::FLOAT); ap->set_f(a.f); break;
        case Attribute::Int: ap->set_type(onnx::AttributeProto::INT); ap->set_i(a.i); break;
        case Attribute::String: ap->set_type(onnx::AttributeProto::STRING); ap->set_s(a.s); break;
        case Attribute::TensorKind:
          ap->set_type(onnx::AttributeProto::TENSOR);
          try {
            tensor_to_proto(a.t, "", *ap->mutable_t());
          } catch (const Error& e) {
            throw Error("node '" + n.name + "' (" + n.op + "): attribute '" + kv.first + "': " + e.what());
          }
          break;
        case Attribute::Floats:
          ap->set_type(onnx::AttributeProto::FLOATS);
          for (float f : a.floats) ap->add_floats(f);
          break;
        case Attribute::Ints:
          ap->set_type(onnx::AttributeProto::INTS);
          for (int64_t i : a.ints) ap->add_ints(i);
          break;
        case Attribute::Strings:
          ap->set_type(onnx::AttributeProto::STRINGS);
          for (const auto& s : a.strings) ap->add_strings(s);
          break;
        case Attribute::GraphKind:
          throw Error("cannot export node '" + n.name + "' (" + n.op + "): attribute '" + kv.first +
                      "' is a subgraph, which calibr8 does not keep");
      }
    }
    for (int v : n.outputs) {
      if (v < 0 || is_io[size_t(v)]) continue;
      const Value& val = g.values[size_t(v)];
      // The checker wants a shape in every value_info; a type alone adds
      // nothing that shape inference does not recover on load.
      if (val.dtype == DType::Undefined || !val.has_shape) continue;
      fill_value_info(val, gp->add_value_info());
    }
  }
}

std::string onnx_bytes(const Graph& g) {
  onnx::ModelProto model;
  graph_to_proto(g, model);
  size_t sz = model.ByteSizeLong();
  if (sz > size_t(INT_MAX))
    throw Error("model is " + std::to_string(sz >> 20) + " MB; ONNX files over 2 GB need external data, which calibr8 does not write");
  // Never write a model ONNX Runtime would refuse.
  validate_for_writing(model, "");
  std::string out;
  if (!model.SerializeToString(&out)) throw Error("cannot serialize the ONNX model");
  return out;
}

void save_onnx(const Graph& g, const std::string& path) {
  std::string bytes;
  try {
    bytes = onnx_bytes(g);
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
  write_file_atomic(path, bytes);
}

}  // namespace c8
