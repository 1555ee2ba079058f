// Reference kernels of the calibr8-domain quantized ops made by
// passes/fuse_qdq.cc: exactly the QDQ semantics they replace -- dequantize the
// inputs as DequantizeLinear does, run the float ONNX op's reference kernel,
// apply the fused float post-ops (Sum adds the dequantized input 3), and
// quantize as QuantizeLinear does (x / scale rounded half to even, + zero
// point, saturated). The oracle for the oneDNN INT8 kernels.
//
//  QConv(xq, wq int8, bias f32?, sum_q?)  attrs: Conv's + x_scale, x_zero_point,
//      w_scales (1 or M), y_type, y_scale, y_zero_point, sum_scale, sum_zero_point,
//      mid_scale, mid_zero_point, mid_type (the conv result is quantized to this
//      grid and dequantized before the post-ops: fuse_qdq step 4c)
//  QGemm(aq [M,K], wq int8 [N,K] (transB=1) or [K,N], bias f32 [N]?)   same attrs
//  QAdd(aq, bq) same shape  attrs: x_scale/x_zero_point (a), b_scale/b_zero_point,
//      y_type, y_scale, y_zero_point; Relu/Clip post-ops
//  QLut(aq[, bq], table)  a table of 256 (one input) or 65536 (two inputs, index
//      a * 256 + b, bytes as unsigned) results of the float island it replaced
//      (passes/fuse_qlut.cc); y_type. The table is the island's reference
//      result, so the lookup is this op's reference.
//  QAveragePool / QGlobalAveragePool(xq)  attrs: the pool's + x_scale,
//      x_zero_point (output uses the same parameters)
#include <algorithm>
#include <cmath>

#include "ops/ref/broadcast.h"
#include "ops/ref/post_ops.h"
#include "ops/op_registry.h"

namespace c8 {
namespace {

const char* kQAttrs[] = {"x_scale", "x_zero_point", "w_scales", "y_type", "y_scale", "y_zero_point", "sum_scale", "sum_zero_point",
                         "b_scale", "b_zero_point", "mid_scale", "mid_zero_point", "mid_type"};

// The float op this node stands for (no post-ops, no q attributes).
Node float_node(const Node& n, const std::string& op) {
  Node f;
  f.name = n.name;
  f.op = op;
  f.attrs = n.attrs;
  for (const char* a : kQAttrs) f.attrs.erase(a);
  return f;
}

DType y_type(const Node& n) { return DType(n.attr_i("y_type", int64_t(DType::F32))); }

Tensor dequant(const Tensor& q, float s, int64_t zp) {
  Tensor f(DType::F32, q.shape);
  float* y = f.data<float>();
  for (int64_t i = 0; i < q.numel(); ++i) y[i] = float(q.get_i64(i) - zp) * s;
  return f;
}

// Per-channel weights: channel = index / inner (axis 0) or index % cols (axis 1).
Tensor dequant_w(const Node& n, const Tensor& w, int axis) {
  std::vector<float> s = n.attr_floats("w_scales");
  if (s.empty()) node_error(n, "w_scales missing");
  if (w.dtype != DType::I8) node_error(n, "weights must be int8");
  Tensor f(DType::F32, w.shape);
  int64_t ch = w.shape[size_t(axis)];
  if (s.size() != 1 && int64_t(s.size()) != ch) node_error(n, "w_scales size mismatch");
  int64_t inner = 1;
  for (size_t i = size_t(axis) + 1; i < w.shape.size(); ++i) inner *= w.shape[i];
  const int8_t* q = w.data<int8_t>();
  float* y = f.data<float>();
  for (int64_t i = 0; i < w.numel(); ++i) {
    int64_t c = s.size() == 1 ? 0 : (i / inner) % ch;
    y[i] = float(int64_t(q[i])) * s[size_t(c)];
  }
  return f;
}

void quant_into(const Node& n, const Tensor& f, float s, int64_t zp, DType t, Tensor& out) {
  float lo = t == DType::U8 ? 0.f : -128.f, hi = t == DType::U8 ? 255.f : 127.f;
  const float* x = f.data<float>();
  for (int64_t i = 0; i < f.numel(); ++i) {
    float q = std::nearbyint(x[i] / s) + float(zp);
    if (std::isnan(q)) q = 0.f;
    q = std::min(hi, std::max(lo, q));
    if (t == DType::U8) out.data<uint8_t>()[i] = uint8_t(q);
    else out.data<int8_t>()[i] = int8_t(q);
  }
}

void finish(const Node& n, Tensor& f, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  // A QConv that took over a QAdd (fuse_qdq step 4c): its result first goes
  // through the 8-bit grid it had (Q then DQ), as in Conv -> Q -> DQ -> Add.
  if (n.has("mid_scale")) {
    const float s = n.attr_f("mid_scale", 1.f);
    const int64_t zp = n.attr_i("mid_zero_point", 0);
    const DType t = DType(n.attr_i("mid_type", int64_t(DType::U8)));
    if (t != DType::U8 && t != DType::I8) node_error(n, "mid_type must be uint8/int8");
    Tensor q(t, f.shape);
    quant_into(n, f, s, zp, t, q);
    f = dequant(q, s, zp);
  }
  // Fused post-ops in float; Sum reads the dequantized input.
  if (!n.post_ops.empty()) {
    std::vector<Tensor> fin(in.size());
    for (const PostOp& p : n.post_ops)
      if (p.kind == PostOp::Sum) {
        size_t k = size_t(p.input_index);
        if (k >= in.size() || !in[k].defined()) node_error(n, "sum input missing");
        fin[k] = dequant(in[k], n.attr_f("sum_scale", 1.f), n.attr_i("sum_zero_point", 0));
      }
    apply_post_ops(n, fin, f);
  }
  DType t = y_type(n);
  Tensor& Y = ref_output(out, 0, t, f.shape);
  if (t == DType::F32) {
    std::copy(f.data<float>(), f.data<float>() + f.numel(), Y.data<float>());
    return;
  }
  quant_into(n, f, n.attr_f("y_scale", 1.f), n.attr_i("y_zero_point", 0), t, Y);
}

void check_q_input(const Node& n, DType t) {
  if (t != DType::U8 && t != DType::I8) node_error(n, std::string("quantized input must be uint8/int8, got ") + dtype_name(t));
}

std::vector<TypeShape> qconv_infer(const Node& n, const std::vector<TypeShape>& in) {
  require_inputs(n, in, 2, 4);
  check_q_input(n, in[0].dtype);
  if (in[1].dtype != DType::I8) node_error(n, "weights must be int8");
  Node f = float_node(n, "Conv");
  std::vector<TypeShape> fin(in.begin(), in.begin() + std::min<size_t>(in.size(), 3));
  fin[0].dtype = fin[1].dtype = DType::F32;
  fin[0].value = fin[1].value = nullptr;
  auto o = find_op("Conv")->infer(f, fin);
  if (in.size() > 3 && in[3].present()) check_q_input(n, in[3].dtype);
  o[0].dtype = y_type(n);
  return o;
}

void qconv_ref(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  Node f = float_node(n, "Conv");
  std::vector<Tensor> fin{dequant(in.at(0), n.attr_f("x_scale", 1.f), n.attr_i("x_zero_point", 0)), dequant_w(n, in.at(1), 0)};
  if (in.size() > 2 && in[2].defined()) fin.push_back(in[2]);
  std::vector<Tensor> fo(1);
  find_op("Conv")->ref(f, fin, fo);
  finish(n, fo[0], in, out);
}

Node gemm_node(const Node& n) {
  Node f = float_node(n, "Gemm");
  f.attrs.clear();
  f.set_i("transB", n.attr_i("transB", 0));
  return f;
}

std::vector<TypeShape> qgemm_infer(const Node& n, const std::vector<TypeShape>& in) {
  require_inputs(n, in, 2, 3);
  check_q_input(n, in[0].dtype);
  if (in[1].dtype != DType::I8) node_error(n, "weights must be int8");
  std::vector<TypeShape> fin(in.begin(), in.end());
  fin[0].dtype = fin[1].dtype = DType::F32;
  fin[0].value = fin[1].value = nullptr;
  auto o = find_op("Gemm")->infer(gemm_node(n), fin);
  o[0].dtype = y_type(n);
  return o;
}

void qgemm_ref(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  std::vector<Tensor> fin{dequant(in.at(0), n.attr_f("x_scale", 1.f), n.attr_i("x_zero_point", 0)),
                          dequant_w(n, in.at(1), n.attr_i("transB", 0) ? 0 : 1)};
  if (in.size() > 2 && in[2].defined()) fin.push_back(in[2]);
  std::vector<Tensor> fo(1);
  find_op("Gemm")->ref(gemm_node(n), fin, fo);
  finish(n, fo[0], in, out);
}

std::vector<TypeShape> qpool_infer(const Node& n, const std::vector<TypeShape>& in) {
  require_inputs(n, in, 1, 1);
  check_q_input(n, in[0].dtype);
  std::vector<TypeShape> fin = in;
  fin[0].dtype = DType::F32;
  auto o = find_op(n.op.substr(1))->infer(float_node(n, n.op.substr(1)), fin);
  o.resize(1);
  o[0].dtype = in[0].dtype;
  return o;
}

void qpool_ref(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  float s = n.attr_f("x_scale", 1.f);
  int64_t zp = n.attr_i("x_zero_point", 0);
  std::vector<Tensor> fin{dequant(in.at(0), s, zp)};
  std::vector<Tensor> fo(1);
  find_op(n.op.substr(1))->ref(float_node(n, n.op.substr(1)), fin, fo);
  Tensor& Y = ref_output(out, 0, in[0].dtype, fo[0].shape);
  quant_into(n, fo[0], s, zp, in[0].dtype, Y);
}

std::vector<TypeShape> qadd_infer(const Node& n, const std::vector<TypeShape>& in) {
  require_inputs(n, in, 2, 2);
  check_q_input(n, in[0].dtype);
  check_q_input(n, in[1].dtype);
  if (in[0].shape != in[1].shape) node_error(n, "inputs must have the same shape, got " + shape_str(in[0].shape) + " and " + shape_str(in[1].shape));
  return {TypeShape{y_type(n), in[0].shape}};
}

void qadd_ref(const Node& n, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  Tensor a = dequant(in.at(0), n.attr_f("x_scale", 1.f), n.attr_i("x_zero_point", 0));
  Tensor b = dequant(in.at(1), n.attr_f("b_scale", 1.f), n.attr_i("b_zero_point", 0));
  float* pa = a.data<float>();
  const float* pb = b.data<float>();
  for (int64_t i = 0; i < a.numel(); ++i) pa[i] = pa[i] + pb[i];
  finish(n, a, in, out);
}

std::vector<TypeShape> qlut_infer(const Node& n, const std::vector<TypeShape>& in) {
  require_inputs(n, in, 2, 3);
  const size_t k = in.size() - 1;  // quantized inputs
  for (size_t i = 0; i < k; ++i) check_q_input(n, in[i].dtype);
  if (k == 2 && in[0].shape != in[1].shape)
    node_error(n, "inputs must have the same shape, got " + shape_str(in[0].shape) + " and " + shape_str(in[1].shape));
  const TypeShape& t = in[k];
  if (t.dtype != y_type(n) || (t.dtype != DType::U8 && t.dtype != DType::I8) || t.shape != Shape{k == 1 ? 256 : 65536})
    node_error(n, "table must be " + std::string(k == 1 ? "256" : "65536") + " 8-bit values of y_type");
  return {TypeShape{t.dtype, in[0].shape}};
}

void qlut_ref(const Node&, const std::vector<Tensor>& in, std::vector<Tensor>& out) {
  const bool two = in.size() == 3;
  const uint8_t* t = static_cast<const uint8_t*>(in.back().raw());
  Tensor& Y = ref_output(out, 0, in.back().dtype, in[0].shape);
  uint8_t* y = static_cast<uint8_t*>(Y.raw());
  const uint8_t* a = static_cast<const uint8_t*>(in[0].raw());
  const uint8_t* b = two ? static_cast<const uint8_t*>(in[1].raw()) : nullptr;
  for (int64_t i = 0; i < in[0].numel(); ++i) y[i] = two ? t[size_t(a[i]) << 8 | b[i]] : t[a[i]];
}

C8_REGISTER_OPS({
    OpDef{"QLut", "calibr8", 1, qlut_infer, qlut_ref},
    OpDef{"QAdd", "calibr8", 1, qadd_infer, qadd_ref},
    OpDef{"QConv", "calibr8", 1, qconv_infer, qconv_ref},
    OpDef{"QGemm", "calibr8", 1, qgemm_infer, qgemm_ref},
    OpDef{"QAveragePool", "calibr8", 1, qpool_infer, qpool_ref},
    OpDef{"QGlobalAveragePool", "calibr8", 1, qpool_infer, qpool_ref},
});

}  // namespace
}  // namespace c8
