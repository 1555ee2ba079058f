#include "ops/op_registry.h"

#include <map>
#include <mutex>

namespace c8 {

static std::map<std::string, OpDef>& table() {
  static std::map<std::string, OpDef> t;
  return t;
}

static std::string key(const std::string& op, const std::string& domain) {
  std::string d = domain == "ai.onnx" ? "" : domain;
  return d + "::" + op;
}

void register_op(OpDef def) {
  std::string k = key(def.op, def.domain);
  table()[k] = std::move(def);
}

const OpDef* find_op(const std::string& op, const std::string& domain) {
  auto it = table().find(key(op, domain));
  return it == table().end() ? nullptr : &it->second;
}

std::vector<std::string> registered_ops() {
  std::vector<std::string> r;
  for (auto& [k, d] : table()) r.push_back(d.domain.empty() ? d.op : d.domain + "." + d.op);
  return r;
}

Tensor& ref_output(std::vector<Tensor>& out, size_t k, DType dt, const Shape& shape) {
  if (out.size() <= k) out.resize(k + 1);
  Tensor& t = out[k];
  if (!(t.defined() && t.dtype == dt && t.shape == shape && t.raw())) t = Tensor(dt, shape);
  return t;
}

std::vector<TypeShape> type_shapes_of(const std::vector<Tensor>& in) {
  std::vector<TypeShape> r(in.size());
  for (size_t i = 0; i < in.size(); ++i)
    if (in[i].defined()) {
      r[i].dtype = in[i].dtype;
      r[i].shape = in[i].shape;
      r[i].value = &in[i];
    }
  return r;
}

std::string node_label(const Node& n) { return "node '" + n.name + "' (" + n.op + ")"; }

void node_error(const Node& n, const std::string& what) { throw Error(node_label(n) + ": " + what); }

}  // namespace c8
