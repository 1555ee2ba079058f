// QDQ (QuantizeLinear/DequantizeLinear) models -> true INT8 nodes.
//
// Rewrites, in this order (each exact w.r.t. the ONNX QDQ semantics unless
// noted):
//  1. DQ sinking: a DequantizeLinear (per-tensor) in front of an op that only
//     moves/selects values (MaxPool, GlobalMaxPool, Reshape, Flatten, Squeeze,
//     Unsqueeze; Concat when every input has the same scale/zero point) moves
//     behind it, so the op runs on the uint8/int8 tensor. DQ is monotone, so
//     max(DQ(x)) == DQ(max(x)) bit for bit.
//  2. DQ -> Q with identical scale/zero point/type cancels (Q(DQ(q)) == q).
//  3. Conv(DQ(x), DQ(W int8 const, per-channel axis 0 or per-tensor, zp 0),
//     bias f32 or DQ(int32)) [-> Relu/Clip]* [-> Add(DQ(b))] [-> Relu/Clip]*
//     [-> QuantizeLinear] becomes one calibr8::QConv; Gemm (transA=0,
//     alpha=beta=1) and 2-D MatMul with constant B become calibr8::QGemm.
//     Output: uint8/int8 when a QuantizeLinear follows, else float32.
//     Float post-ops run in the "y / y_scale" domain of the fast kernel; the
//     reference kernel (ops/ref/qops.cc) is exactly DQ -> op -> Q.
//  4. DQ -> AveragePool/GlobalAveragePool -> Q with equal parameters becomes
//     calibr8::QAveragePool / QGlobalAveragePool (uint8 pooling).
//  4b. DQ(a) + DQ(b) (same shape) [-> Relu/Clip]* -> Q becomes calibr8::QAdd.
//  4c. A QConv with an 8-bit output whose only consumer is a QAdd takes the
//      add over: the QAdd's other input becomes the conv's Sum input, its
//      Relu/Clip and output parameters the conv's, and the conv's own output
//      parameters become mid_scale / mid_zero_point / mid_type -- the conv
//      result is still rounded and saturated to that 8-bit grid before the add
//      (QDQ semantics: Conv -> Q -> DQ -> Add), but inside the conv's epilogue
//      (oneDNN post-ops round, clip, sum, linear) instead of a separate pass
//      over memory. resnet50: its 16 QAdds disappear.
//  4d. Any other island of element-wise float ops between one or two DQ
//      inputs and one Q (HardSwish after a residual Add, SiLU, Sigmoid, ...)
//      becomes calibr8::QLut, a table of the island's result for every input
//      code (fuse_qlut.cc).
//  5. Dead Q/DQ are removed; a DQ of constants left over (weights of a layer
//     that was not fused) is folded to float32 once.
// Node attributes of the calibr8 ops: x_scale, x_zero_point, w_scales,
// y_scale, y_zero_point, y_type (DType as int), sum_scale, sum_zero_point,
// mid_scale, mid_zero_point, mid_type (step 4c);
// QAdd: x_scale/x_zero_point (input 0), b_scale/b_zero_point (input 1), y_*.
#include <cmath>

#include "passes/pass_util.h"
#include "passes/passes.h"
#include "passes/qdq_util.h"
#include "ops/op_registry.h"

namespace c8 {

bool scalar_const(const Graph& g, int v) {
  return g.is_const(v) && g.const_of(v).numel() == 1 && g.const_of(v).shape.size() <= 1;
}

bool per_tensor_params(const Graph& g, const Node& n, QParams& p) {
  if (!n.domain.empty() || n.inputs.size() < 2 || !scalar_const(g, n.inputs[1])) return false;
  p.scale = float(g.const_of(n.inputs[1]).get_f64(0));
  if (!(p.scale > 0.f) || !std::isfinite(p.scale)) return false;
  p.zp = 0;
  if (n.input(2) >= 0) {
    if (!scalar_const(g, n.inputs[2])) return false;
    p.zp = g.const_of(n.inputs[2]).get_i64(0);
    p.type = g.const_of(n.inputs[2]).dtype;
  } else {
    p.type = n.op == "DequantizeLinear" ? g.values[size_t(n.inputs[0])].dtype : DType::U8;
    if (p.type == DType::Undefined) p.type = DType::U8;
  }
  return p.type == DType::U8 || p.type == DType::I8;
}

int dq_of(const Graph& g, int v, QParams& p) {
  if (v < 0 || g.values[size_t(v)].producer < 0) return -1;
  int pi = g.values[size_t(v)].producer;
  const Node& d = g.nodes[size_t(pi)];
  if (d.dead || d.op != "DequantizeLinear" || !per_tensor_params(g, d, p)) return -1;
  p.q = d.inputs[0];
  return pi;
}

// Shape tensors (Shape -> Gather -> Concat -> Reshape) are a few values; a
// constant this large is data, whose shape inference never needs its values.
constexpr int64_t kShapeFoldElements = 4096;

ShapeMap infer_shapes(const Graph& g) {
  ShapeMap m;
  std::vector<Shape> in;
  for (int v : g.inputs) {
    const Value& val = g.values[size_t(v)];
    if (!val.has_shape) return m;
    Shape s = val.shape;
    for (auto& d : s)
      if (d < 0) d = 1;
    in.push_back(s);
  }
  try {
    Graph c = g;
    // Shapes only: fold the small shape sub-graphs, not every weight's
    // DequantizeLinear (resnet50's 25 M weights through the reference kernel
    // took a second of every load).
    specialize(c, in, kShapeFoldElements);
    for (const Value& v : c.values)
      if (v.has_shape) m[v.name] = v.shape;
  } catch (const std::exception&) {
    m.clear();
  }
  return m;
}

bool shape_of(const Graph& g, const ShapeMap& sm, int v, Shape& s) {
  const Value& val = g.values[size_t(v)];
  if (val.has_shape) {
    bool known = true;
    for (size_t d = 1; d < val.shape.size(); ++d) known &= val.shape[d] >= 0;
    if (known) {
      s = val.shape;
      return true;
    }
  }
  auto it = sm.find(val.name);
  if (it == sm.end()) return false;
  s = it->second;
  return true;
}

namespace {

bool same(const QParams& a, const QParams& b) { return a.scale == b.scale && a.zp == b.zp && a.type == b.type; }

// The only consumer of v (v not a graph output), or -1.
int sole_consumer(const Graph& g, const std::vector<std::vector<int>>& cons, int v) {
  return single_use(g, cons, v) ? cons[size_t(v)][0] : -1;
}

// DQ(W) with W an int8 constant, zero point 0, per-tensor or per-axis on `axis`.
bool weight_dq(const Graph& g, int v, int axis, int rank, int& wq, std::vector<float>& scales) {
  if (v < 0 || g.values[size_t(v)].producer < 0) return false;
  const Node& d = g.nodes[size_t(g.values[size_t(v)].producer)];
  if (d.dead || d.op != "DequantizeLinear" || !d.domain.empty() || d.inputs.size() < 2) return false;
  if (!g.is_const(d.inputs[0]) || g.const_of(d.inputs[0]).dtype != DType::I8 || !g.is_const(d.inputs[1])) return false;
  const Tensor& w = g.const_of(d.inputs[0]);
  const Tensor& s = g.const_of(d.inputs[1]);
  if (w.rank() != rank) return false;
  if (d.input(2) >= 0) {
    if (!g.is_const(d.inputs[2])) return false;
    const Tensor& z = g.const_of(d.inputs[2]);
    for (int64_t i = 0; i < z.numel(); ++i)
      if (z.get_i64(i) != 0) return false;
  }
  scales.clear();
  if (s.numel() == 1 && s.rank() <= 1) {
    scales.push_back(float(s.get_f64(0)));
  } else {
    int64_t ax = d.attr_i("axis", 1);
    if (ax < 0) ax += rank;
    if (ax != axis || s.rank() != 1 || s.numel() != w.shape[size_t(axis)]) return false;
    for (int64_t i = 0; i < s.numel(); ++i) scales.push_back(float(s.get_f64(i)));
  }
  for (float x : scales)
    if (!(x > 0.f) || !std::isfinite(x)) return false;
  wq = d.inputs[0];
  return true;
}

// Bias: absent, float32 constant, or DQ(int32 constant) -> float constant value id.
bool bias_value(Graph& g, int v, int64_t n, int& out) {
  out = -1;
  if (v < 0) return true;
  if (g.is_const(v)) {
    if (g.const_of(v).dtype != DType::F32 || g.const_of(v).numel() != n) return false;
    out = v;
    return true;
  }
  int pi = g.values[size_t(v)].producer;
  if (pi < 0) return false;
  const Node& d = g.nodes[size_t(pi)];
  if (d.op != "DequantizeLinear" || !d.domain.empty() || d.inputs.size() < 2 || !g.is_const(d.inputs[0]) ||
      !g.is_const(d.inputs[1]))
    return false;
  if (d.input(2) >= 0) {  // a zero point is allowed when it is all zeros (ONNX Runtime writes one)
    if (!g.is_const(d.inputs[2])) return false;
    const Tensor& z = g.const_of(d.inputs[2]);
    for (int64_t i = 0; i < z.numel(); ++i)
      if (z.get_i64(i) != 0) return false;
  }
  const Tensor& b = g.const_of(d.inputs[0]);
  const Tensor& s = g.const_of(d.inputs[1]);
  if (b.dtype != DType::I32 || b.numel() != n || (s.numel() != 1 && s.numel() != n)) return false;
  Tensor f(DType::F32, {n});
  for (int64_t i = 0; i < n; ++i) f.data<float>()[i] = float(b.get_i64(i)) * float(s.get_f64(s.numel() == 1 ? 0 : i));
  out = g.add_constant(g.unique_name(g.values[size_t(v)].name + "_f32"), f);
  return true;
}

// The INT8 kernels fuse only Relu and Clip (they stay exact in the quantized domain).
bool eltwise_post_op(const Graph& g, const Node& a, PostOp& p) {
  if (!a.domain.empty() || (a.op != "Relu" && a.op != "Clip")) return false;
  return activation_as_post_op(g, a, p);
}

void set_qattrs(Node& n, const QParams& x, const std::vector<float>& ws, bool quant_out, const QParams& y) {
  n.set_f("x_scale", x.scale);
  n.set_i("x_zero_point", x.zp);
  n.set_floats("w_scales", ws);
  if (quant_out) {
    n.set_f("y_scale", y.scale);
    n.set_i("y_zero_point", y.zp);
    n.set_i("y_type", int64_t(y.type));
  } else {
    n.set_i("y_type", int64_t(DType::F32));
  }
}

// Step 0: int8 activations become uint8 with zero point + 128 (exact:
// Q_u8(x) = Q_s8(x) + 128, DQ values unchanged). oneDNN's native INT8 path
// is u8s8; s8s8 without VNNI halves the weights (scale_adjust 0.5) and loses
// a bit. Only a Q whose every reader is a DQ with the same parameters.
int s8_to_u8(Graph& g) {
  int n = 0;
  auto cons = g.consumers();
  for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
    Node& q = g.nodes[ni];
    QParams qp;
    if (q.dead || q.op != "QuantizeLinear" || !per_tensor_params(g, q, qp) || qp.type != DType::I8) continue;
    int y = q.outputs[0];
    if (is_graph_output(g, y) || cons[size_t(y)].empty()) continue;
    bool ok = true;
    for (int c : cons[size_t(y)]) {
      QParams dp;
      const Node& d = g.nodes[size_t(c)];
      ok &= d.op == "DequantizeLinear" && d.inputs[0] == y && per_tensor_params(g, d, dp) && same(dp, qp);
    }
    if (!ok) continue;
    Tensor z(DType::U8, {});
    z.data<uint8_t>()[0] = uint8_t(qp.zp + 128);
    int zv = g.add_constant(g.unique_name(g.values[size_t(y)].name + "_zp_u8"), z);
    g.nodes[ni].inputs.resize(3);
    g.nodes[ni].inputs[2] = zv;
    g.values[size_t(y)].dtype = DType::U8;
    for (int c : cons[size_t(y)]) {
      g.nodes[size_t(c)].inputs.resize(3);
      g.nodes[size_t(c)].inputs[2] = zv;
    }
    ++n;
  }
  return n;
}

// Step 1: move per-tensor DQ behind value-selecting ops.
int sink_dq(Graph& g) {
  int n = 0;
  auto cons = g.consumers();
  size_t count = g.nodes.size();
  for (size_t ni = 0; ni < count; ++ni) {
    Node& op = g.nodes[ni];
    if (op.dead || !op.domain.empty() || op.outputs.empty() || op.outputs[0] < 0) continue;
    bool unary = op.op == "MaxPool" || op.op == "GlobalMaxPool" || op.op == "Reshape" || op.op == "Flatten" ||
                 op.op == "Squeeze" || op.op == "Unsqueeze";
    if (!unary && op.op != "Concat") continue;
    if (op.op == "MaxPool" && (op.outputs.size() > 1 && op.outputs[1] >= 0)) continue;
    size_t ndata = unary ? 1 : op.inputs.size();
    QParams p0;
    bool ok = ndata > 0;
    std::vector<int> qs;
    for (size_t k = 0; k < ndata && ok; ++k) {
      QParams p;
      ok = dq_of(g, op.inputs[k], p) >= 0;
      if (ok && k == 0) p0 = p;
      ok = ok && same(p, p0);
      qs.push_back(p.q);
    }
    if (!ok) continue;
    int y = op.outputs[0];
    const Value yv = g.values[size_t(y)];
    int dq_node = g.values[size_t(op.inputs[0])].producer;
    Node dq = g.nodes[size_t(dq_node)];  // copy: scale / zp inputs
    for (size_t k = 0; k < ndata; ++k) op.inputs[k] = qs[k];
    int yq = g.add_value(g.unique_name(yv.name + "_q"), p0.type);
    g.values[size_t(yq)].shape = yv.shape;
    g.values[size_t(yq)].has_shape = yv.has_shape;
    g.values[size_t(yq)].dim_param0 = yv.dim_param0;
    int self = int(ni);
    g.nodes[size_t(self)].outputs[0] = yq;
    g.values[size_t(yq)].producer = self;
    std::vector<int> din = dq.inputs;
    din[0] = yq;
    int nd = g.add_node("DequantizeLinear", din, {y}, g.nodes[size_t(self)].name + "_dq");
    (void)nd;
    (void)cons;
    ++n;
  }
  return n;
}

// Step 2: Q(DQ(q)) with identical parameters is q.
int cancel_dq_q(Graph& g) {
  int n = 0;
  for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
    Node& q = g.nodes[ni];
    if (q.dead || q.op != "QuantizeLinear" || !q.domain.empty()) continue;
    QParams qp, dp;
    if (!per_tensor_params(g, q, qp) || dq_of(g, q.inputs[0], dp) < 0 || !same(qp, dp)) continue;
    if (g.values[size_t(dp.q)].dtype != DType::Undefined && g.values[size_t(dp.q)].dtype != qp.type) continue;
    int y = q.outputs[0];
    if (is_graph_output(g, y)) continue;
    g.replace_uses(y, dp.q);
    q.dead = true;
    ++n;
  }
  return n;
}

// Step 3 helper: follows the float chain after a conv/gemm output.
struct Chain {
  std::vector<PostOp> ops;
  std::vector<int> dead;  // fused node ids
  int out = -1;           // final value (float or quantized)
  bool quant = false;
  QParams y, sum;
  int sum_q = -1;
};

void follow_chain(const Graph& g, const std::vector<std::vector<int>>& cons, int start, bool allow_sum, Chain& c,
                  const ShapeMap& sm) {
  int cur = start;
  for (;;) {
    int ci = sole_consumer(g, cons, cur);
    if (ci < 0) break;
    const Node& a = g.nodes[size_t(ci)];
    if (a.inputs.empty()) break;
    PostOp po;
    if (a.inputs[0] == cur && eltwise_post_op(g, a, po)) {
      c.ops.push_back(po);
      c.dead.push_back(ci);
      cur = a.outputs[0];
      continue;
    }
    if (allow_sum && c.sum_q < 0 && a.op == "Add" && a.domain.empty() && a.inputs.size() == 2) {
      int other = a.inputs[0] == cur ? a.inputs[1] : a.inputs[0];
      QParams sp;
      Shape os, bs;
      if (other != cur && dq_of(g, other, sp) >= 0 && shape_of(g, sm, cur, os) && shape_of(g, sm, other, bs) && os == bs) {
        PostOp s;
        s.kind = PostOp::Sum;
        s.input_index = 3;
        c.ops.push_back(s);
        c.sum = sp;
        c.sum_q = sp.q;
        c.dead.push_back(ci);
        cur = a.outputs[0];
        continue;
      }
    }
    break;
  }
  c.out = cur;
  int qi = sole_consumer(g, cons, cur);
  if (qi >= 0) {
    const Node& q = g.nodes[size_t(qi)];
    QParams yp;
    if (q.op == "QuantizeLinear" && q.inputs[0] == cur && per_tensor_params(g, q, yp)) {
      c.quant = true;
      c.y = yp;
      c.dead.push_back(qi);
      c.out = q.outputs[0];
    }
  }
}

void apply_chain(Graph& g, int node, Chain& c) {
  Node& n = g.nodes[size_t(node)];
  n.post_ops = c.ops;
  n.outputs = {c.out};
  g.values[size_t(c.out)].producer = node;
  if (c.sum_q >= 0) {
    while (n.inputs.size() < 3) n.inputs.push_back(-1);
    n.inputs.push_back(c.sum_q);
    n.set_f("sum_scale", c.sum.scale);
    n.set_i("sum_zero_point", c.sum.zp);
  }
  for (int d : c.dead) g.nodes[size_t(d)].dead = true;
}

int fuse_conv_gemm(Graph& g) {
  int n = 0;
  auto cons = g.consumers();
  ShapeMap sm = infer_shapes(g);
  for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
    Node& c = g.nodes[ni];
    if (c.dead || !c.domain.empty() || c.outputs.empty() || !c.post_ops.empty()) continue;
    bool conv = c.op == "Conv", gemm = c.op == "Gemm", mm = c.op == "MatMul";
    if (!conv && !gemm && !mm) continue;
    if (c.inputs.size() < 2) continue;
    QParams xp;
    if (dq_of(g, c.inputs[0], xp) < 0) continue;
    int wq = -1;
    std::vector<float> ws;
    int bias = -1;
    int64_t M = 0;
    bool transB = false;
    if (conv) {
      if (!g.is_const(c.inputs[1]) && g.values[size_t(c.inputs[1])].producer < 0) continue;
      int wv = c.inputs[1];
      int pi = g.values[size_t(wv)].producer;
      if (pi < 0) continue;
      const Node& d = g.nodes[size_t(pi)];
      if (d.inputs.empty() || !g.is_const(d.inputs[0])) continue;
      int rank = g.const_of(d.inputs[0]).rank();
      if (rank < 3 || !weight_dq(g, wv, 0, rank, wq, ws)) continue;
      M = g.const_of(wq).shape[0];
      if (!bias_value(g, c.input(2), M, bias)) continue;
    } else {
      if (gemm && (c.attr_i("transA", 0) != 0 || c.attr_f("alpha", 1.f) != 1.f)) continue;
      if (mm) {
        const Value& av = g.values[size_t(c.inputs[0])];
        if (!av.has_shape || av.shape.size() != 2) continue;
      }
      transB = gemm && c.attr_i("transB", 0) != 0;
      if (!weight_dq(g, c.inputs[1], transB ? 0 : 1, 2, wq, ws)) continue;
      M = g.const_of(wq).shape[transB ? 0 : 1];
      if (gemm && c.input(2) >= 0) {
        if (c.attr_f("beta", 1.f) != 1.f) continue;
        int cv = c.inputs[2];
        // C must be a per-column bias ([N] or [1,N]).
        const Value& cvv = g.values[size_t(cv)];
        if (cvv.has_shape && cvv.shape.size() == 2 && cvv.shape[0] != 1) continue;
        if (!bias_value(g, cv, M, bias)) continue;
        if (bias >= 0 && g.values[size_t(bias)].shape.size() != 1) {
          Tensor b = g.const_of(bias).clone();
          b.shape = {M};
          bias = g.add_constant(g.unique_name(g.values[size_t(bias)].name + "_1d"), b);
        }
      }
    }
    if (ws.size() != 1 && int64_t(ws.size()) != M) continue;
    Chain ch;
    follow_chain(g, cons, c.outputs[0], conv, ch, sm);
    Node& node = g.nodes[ni];
    std::string name = node.name;
    if (conv) {
      node.op = "QConv";
    } else {
      node.attrs.clear();
      node.set_i("transB", transB ? 1 : 0);
      node.op = "QGemm";
    }
    node.domain = "calibr8";
    node.inputs = {xp.q, wq, bias};
    set_qattrs(node, xp, ws, ch.quant, ch.y);
    apply_chain(g, int(ni), ch);
    cons = g.consumers();
    ++n;
  }
  return n;
}

int fuse_avgpool(Graph& g) {
  int n = 0;
  auto cons = g.consumers();
  for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
    Node& p = g.nodes[ni];
    if (p.dead || !p.domain.empty() || (p.op != "AveragePool" && p.op != "GlobalAveragePool")) continue;
    QParams xp, yp;
    if (dq_of(g, p.inputs[0], xp) < 0) continue;
    int qi = sole_consumer(g, cons, p.outputs[0]);
    if (qi < 0) continue;
    Node& q = g.nodes[size_t(qi)];
    if (q.op != "QuantizeLinear" || !per_tensor_params(g, q, yp) || !same(xp, yp)) continue;
    p.op = "Q" + p.op;
    p.domain = "calibr8";
    p.inputs = {xp.q};
    p.outputs = {q.outputs[0]};
    g.values[size_t(q.outputs[0])].producer = int(ni);
    p.set_f("x_scale", xp.scale);
    p.set_i("x_zero_point", xp.zp);
    q.dead = true;
    cons = g.consumers();
    ++n;
  }
  return n;
}

// Step 4b: Add(DQ(a), DQ(b)) of equal shapes [-> Relu/Clip]* -> Q becomes
// calibr8::QAdd: the residual Add of a QDQ model whose both inputs are
// quantized (as ONNX Runtime's quantizer and calibr8's placement emit it),
// run on the uint8 tensors instead of a float island of DQ, DQ, Add, Q.
int fuse_qadd(Graph& g) {
  int n = 0;
  auto cons = g.consumers();
  LazyShapes shapes(g);
  for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
    Node& a = g.nodes[ni];
    if (a.dead || !a.domain.empty() || a.op != "Add" || a.inputs.size() != 2) continue;
    QParams pa, pb;
    if (dq_of(g, a.inputs[0], pa) < 0 || dq_of(g, a.inputs[1], pb) < 0) continue;
    if (!shapes.same(a.inputs[0], a.inputs[1])) continue;
    Chain c;
    follow_chain(g, cons, a.outputs[0], false, c, shapes.map());
    if (!c.quant) continue;
    a.op = "QAdd";
    a.domain = "calibr8";
    a.inputs = {pa.q, pb.q};
    a.set_f("x_scale", pa.scale);
    a.set_i("x_zero_point", pa.zp);
    a.set_f("b_scale", pb.scale);
    a.set_i("b_zero_point", pb.zp);
    a.set_i("y_type", int64_t(c.y.type));
    a.set_f("y_scale", c.y.scale);
    a.set_i("y_zero_point", c.y.zp);
    apply_chain(g, int(ni), c);
    cons = g.consumers();
    ++n;
  }
  return n;
}

// Step 4c: QConv (8-bit output, no post-ops, no sum) -> QAdd as the QAdd's
// only producer-side consumer: one QConv with a Sum post-op and the conv's
// requantization kept as the mid_* grid (see the header).
int fuse_qconv_qadd(Graph& g) {
  int n = 0;
  auto cons = g.consumers();
  for (size_t ai = 0; ai < g.nodes.size(); ++ai) {
    Node& a = g.nodes[ai];
    if (a.dead || a.domain != "calibr8" || a.op != "QAdd" || a.inputs.size() != 2) continue;
    for (int side = 0; side < 2; ++side) {
      const int v = a.inputs[size_t(side)], other = a.inputs[size_t(1 - side)];
      if (v < 0 || other < 0 || v == other) continue;
      const int pi = g.values[size_t(v)].producer;
      if (pi < 0) continue;
      Node& c = g.nodes[size_t(pi)];
      if (c.dead || c.domain != "calibr8" || c.op != "QConv" || !c.post_ops.empty() || c.inputs.size() > 3) continue;
      const DType ct = DType(c.attr_i("y_type", int64_t(DType::F32)));
      if ((ct != DType::U8 && ct != DType::I8) || cons[size_t(v)].size() != 1 || is_graph_output(g, v)) continue;
      c.set_f("mid_scale", c.attr_f("y_scale", 1.f));
      c.set_i("mid_zero_point", c.attr_i("y_zero_point", 0));
      c.set_i("mid_type", int64_t(ct));
      c.set_f("sum_scale", side == 0 ? a.attr_f("b_scale", 1.f) : a.attr_f("x_scale", 1.f));
      c.set_i("sum_zero_point", side == 0 ? a.attr_i("b_zero_point", 0) : a.attr_i("x_zero_point", 0));
      c.set_f("y_scale", a.attr_f("y_scale", 1.f));
      c.set_i("y_zero_point", a.attr_i("y_zero_point", 0));
      c.set_i("y_type", a.attr_i("y_type", int64_t(DType::U8)));
      while (c.inputs.size() < 3) c.inputs.push_back(-1);
      c.inputs.push_back(other);
      PostOp sum;
      sum.kind = PostOp::Sum;
      sum.input_index = 3;
      c.post_ops.push_back(sum);
      for (const PostOp& po : a.post_ops) c.post_ops.push_back(po);
      c.outputs[0] = a.outputs[0];
      g.values[size_t(a.outputs[0])].producer = pi;
      a.dead = true;
      ++n;
      break;
    }
  }
  return n;
}

// Step 5: drop unused Q/DQ; fold DQ of constants.
int cleanup(Graph& g) {
  int n = 0;
  bool changed = true;
  while (changed) {
    changed = false;
    auto cons = g.consumers();
    for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
      Node& d = g.nodes[ni];
      if (d.dead || (d.op != "DequantizeLinear" && d.op != "QuantizeLinear") || !d.domain.empty()) continue;
      int y = d.outputs[0];
      if (cons[size_t(y)].empty() && !is_graph_output(g, y)) {
        d.dead = true;
        changed = true;
        ++n;
      }
    }
  }
  for (size_t ni = 0; ni < g.nodes.size(); ++ni) {
    Node& d = g.nodes[ni];
    if (d.dead || d.op != "DequantizeLinear" || !d.domain.empty()) continue;
    bool all_const = true;
    for (int v : d.inputs) all_const &= v < 0 || g.is_const(v);
    if (!all_const) continue;
    const OpDef* def = find_op("DequantizeLinear");
    std::vector<Tensor> in;
    for (int v : d.inputs) in.push_back(v >= 0 ? g.const_of(v) : Tensor());
    std::vector<Tensor> out(1);
    try {
      def->ref(d, in, out);
    } catch (const std::exception&) {
      continue;
    }
    Value& val = g.values[size_t(d.outputs[0])];
    val.constant = out[0];
    val.dtype = out[0].dtype;
    val.shape = out[0].shape;
    val.has_shape = true;
    val.producer = -1;
    d.dead = true;
    ++n;
  }
  return n;
}

}  // namespace

int fuse_qdq(Graph& g) {
  bool any_q = false;
  for (const Node& n : g.nodes) any_q |= !n.dead && (n.op == "QuantizeLinear" || n.op == "DequantizeLinear");
  if (!any_q) return 0;
  int n = s8_to_u8(g);
  for (int it = 0; it < 64; ++it) {
    int k = sink_dq(g);
    if (!k) break;
    n += k;
    g.compact();
  }
  n += cancel_dq_q(g);
  g.compact();
  n += fuse_conv_gemm(g);
  n += fuse_avgpool(g);
  n += fuse_qadd(g);
  n += fuse_qlut(g);        // (after 4b: an Add -> Relu/Clip -> Q island stays a QAdd, which 4c can fuse)
  n += cleanup(g);          // (drops the DQs 4b left, the conv outputs' other consumers)
  n += fuse_qconv_qadd(g);  // the conv may now read a value made later: compact() re-sorts
  g.compact();
  return n;
}

}  // namespace c8
