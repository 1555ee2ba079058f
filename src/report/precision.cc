#include "report/precision.h"

#include <algorithm>
#include <cctype>
#include <map>

namespace c8 {

bool is_layer_op(const Node& n) {
  static const char* ops[] = {"Conv", "ConvTranspose", "Gemm", "MatMul", "QLinearConv", "QLinearMatMul",
                              "ConvInteger", "MatMulInteger"};
  if (n.domain.empty() || n.domain == "ai.onnx")
    for (const char* o : ops)
      if (n.op == o) return true;
  if (n.domain == "calibr8" && !n.op.empty() && n.op[0] == 'Q') return true;
  return false;
}

std::string precision_name(DType t) {
  if (t == DType::U8) return "U8";
  if (t == DType::I8) return "I8";
  return "FP32";
}

static const Node* producer_of(const Graph& g, int v) {
  if (v < 0 || size_t(v) >= g.values.size()) return nullptr;
  int p = g.values[size_t(v)].producer;
  if (p < 0 || size_t(p) >= g.nodes.size() || g.nodes[size_t(p)].dead) return nullptr;
  return &g.nodes[size_t(p)];
}

DType dq_input_dtype(const Graph& g, const Node& dq) {
  int zp = dq.input(2);
  if (zp >= 0 && g.values[size_t(zp)].dtype != DType::Undefined) return g.values[size_t(zp)].dtype;
  int x = dq.input(0);
  if (x < 0) return DType::Undefined;
  const Value& xv = g.values[size_t(x)];
  if (xv.constant) return xv.constant->dtype;
  if (xv.dtype != DType::Undefined) return xv.dtype;
  if (const Node* q = producer_of(g, x)) {
    if (q->op == "QuantizeLinear") {
      int qzp = q->input(2);
      if (qzp >= 0 && g.values[size_t(qzp)].dtype != DType::Undefined) return g.values[size_t(qzp)].dtype;
      return DType::U8;  // ONNX default
    }
  }
  return DType::Undefined;
}

// Precision of an operand: DequantizeLinear of a U8/I8 tensor, or a U8/I8 value itself.
static std::string operand_precision(const Graph& g, int v, const Node** dq_out = nullptr) {
  if (v < 0) return "FP32";
  const Node* p = producer_of(g, v);
  if (p && p->op == "DequantizeLinear") {
    if (dq_out) *dq_out = p;
    return precision_name(dq_input_dtype(g, *p));
  }
  const Value& val = g.values[size_t(v)];
  return precision_name(val.constant ? val.constant->dtype : val.dtype);
}

LayerPrecision static_precision(const Graph& g, const Node& n) {
  LayerPrecision r;
  int x = n.input(0), w = -1;
  if (n.op == "QLinearConv" || n.op == "QLinearMatMul") {
    w = n.input(3);
    int xzp = n.input(2), wzp = n.input(5);
    DType xd = xzp >= 0 ? g.values[size_t(xzp)].dtype : g.values[size_t(x)].dtype;
    r.input = precision_name(xd == DType::Undefined ? DType::U8 : xd);
    DType wd = g.is_const(w) ? g.const_of(w).dtype : (wzp >= 0 ? g.values[size_t(wzp)].dtype : DType::Undefined);
    r.weights = precision_name(wd);
    int ws = n.input(4);
    if (r.weights != "FP32") {
      bool per_ch = g.is_const(ws) && g.const_of(ws).numel() > 1;
      r.weight_quant = per_ch ? "per-channel" : "per-tensor";
      if (per_ch) r.weight_axis = n.op == "QLinearConv" ? 0 : 1;
    }
    return r;
  }
  w = n.input(1);
  r.input = operand_precision(g, x);
  const Node* wdq = nullptr;
  r.weights = operand_precision(g, w, &wdq);
  bool w_const = g.is_const(w) || (wdq && g.is_const(wdq->input(0)));
  if (!w_const && r.weights == "FP32") r.weights = "-";
  if (r.weights == "U8" || r.weights == "I8") {
    if (wdq) {
      int s = wdq->input(1);
      bool per_ch = s >= 0 && ((g.is_const(s) && g.const_of(s).numel() > 1) ||
                               (g.values[size_t(s)].has_shape && shape_numel(g.values[size_t(s)].shape) > 1));
      r.weight_quant = per_ch ? "per-channel" : "per-tensor";
      if (per_ch) r.weight_axis = int(wdq->attr_i("axis", 1));
    } else {
      r.weight_quant = "per-tensor";
    }
  }
  return r;
}

std::string kernel_precision(const std::string& impl, DType in_dtype) {
  // Parenthesised parts explain a float fallback ("f32(u8->u8: reason)"):
  // they describe the tensors, not the arithmetic, so they are ignored.
  std::string s;
  int depth = 0;
  for (char ch : impl) {
    if (ch == '(') ++depth;
    else if (ch == ')') depth = std::max(0, depth - 1);
    else if (depth == 0) s += char(std::tolower(static_cast<unsigned char>(ch)));
  }
  auto has = [&](const char* t) { return s.find(t) != std::string::npos; };
  if (has("u8s8") || has("u8:s8") || has("u8 s8") || has("u8u8")) return "U8";
  if (has("s8s8") || has("s8:s8") || has("s8 s8")) return "I8";
  if (has("int8")) {
    if (in_dtype == DType::U8) return "U8";
    if (in_dtype == DType::I8) return "I8";
    return "I8";
  }
  return "";
}

RanAs find_kernel_for_layer(const Graph& g, int node_id, const Session& s) {
  RanAs r;
  std::vector<KernelRecord> recs = s.kernels();
  const Graph* pgp = nullptr;
  try {
    pgp = &s.planned_graph();
  } catch (const std::exception&) {
    return r;
  }
  const Graph& pg = *pgp;
  const Node& n = g.nodes[size_t(node_id)];
  // Names to look for: the node's output, then Q(output), then DQ(Q(output)).
  std::vector<std::string> names;
  auto cons = g.consumers();
  int out = n.outputs.empty() ? -1 : n.outputs[0];
  if (out >= 0) {
    names.push_back(g.values[size_t(out)].name);
    for (int c : cons[size_t(out)]) {
      const Node& q = g.nodes[size_t(c)];
      if (q.op != "QuantizeLinear" || q.outputs.empty() || q.outputs[0] < 0) continue;
      names.push_back(g.values[size_t(q.outputs[0])].name);
      for (int c2 : cons[size_t(q.outputs[0])]) {
        const Node& dq = g.nodes[size_t(c2)];
        if (dq.op == "DequantizeLinear" && !dq.outputs.empty() && dq.outputs[0] >= 0)
          names.push_back(g.values[size_t(dq.outputs[0])].name);
      }
    }
  }
  size_t count = std::min(recs.size(), pg.nodes.size());
  auto take = [&](size_t i) {
    const Node& pn = pg.nodes[i];
    r.found = true;
    r.node = recs[i].node;
    r.op = recs[i].op;
    r.impl = recs[i].impl;
    if (pn.input(0) >= 0) r.in_dtype = pg.values[size_t(pn.input(0))].dtype;
    if (!pn.outputs.empty() && pn.outputs[0] >= 0) r.out_dtype = pg.values[size_t(pn.outputs[0])].dtype;
  };
  auto skip = [&](const Node& pn) { return pn.op == "QuantizeLinear" || pn.op == "DequantizeLinear"; };
  if (!n.name.empty())
    for (size_t i = 0; i < count; ++i)
      if (pg.nodes[i].name == n.name && !skip(pg.nodes[i])) {
        take(i);
        return r;
      }
  for (const std::string& nm : names)
    for (size_t i = 0; i < count; ++i) {
      const Node& pn = pg.nodes[i];
      if (skip(pn)) continue;
      for (int o : pn.outputs)
        if (o >= 0 && pg.values[size_t(o)].name == nm) {
          take(i);
          return r;
        }
    }
  return r;
}

}  // namespace c8
