#!/usr/bin/python3
"""Peer baseline 1: an independent re-implementation of

    onnxruntime.quantization.quant_pre_process(fp32, pre)            # recommended pre-processing step
    onnxruntime.quantization.quantize_static(pre, int8, reader)      # every other argument left at its default

then top-1 of the FP32 model and of the QDQ model, both executed by ONNX Runtime (onnxruntime-node, CPU EP,
which runs the QDQ graph with its own int8 kernels after its QDQ fusions), on the same validation tensors.

The Python package onnxruntime.quantization is not installable here, so its behaviour is re-implemented
from its source (microsoft/onnxruntime, onnxruntime/python/tools/quantization/, read in a stored copy;
no code copied). Defaults of quantize_static (quantize.py) and what they mean:

* quant_format=QDQ, calibrate_method=MinMax, per_channel=False, reduce_range=False,
  activation_type=QuantType.QInt8, weight_type=QuantType.QInt8 (quantize.py signature; older releases,
  up to the QOperator-default era, used QUInt8 activations -- `--act-type uint8` reproduces that variant).
  extra_options={} -> ActivationSymmetric=False (activations asymmetric, with a zero point),
  WeightSymmetric = (weight_type is QInt8) = True (base_quantizer.py), MinimumRealRange=None,
  QuantizeBias=True, AddQDQPairToWeight=False (weights stored quantized, only a DequantizeLinear),
  DedicatedQDQPair=False, OpTypesToExcludeOutputQuantization=[] (qdq_quantizer.py).
* op_types_to_quantize = keys(QLinearOpsRegistry) | keys(QDQRegistry) (quantize.py, registry.py).
* Calibration (calibrate.py, MinMaxCalibrater): every float input/output of a node whose op type is in that
  set, that is not an initializer, gets min/max per inference; the range is min of mins / max of maxes over
  all calibration inputs (no moving average, not symmetric).
* Range fix-ups before computing scales (base_quantizer.py adjust_tensor_ranges): the input of a Relu/Clip
  with a single consumer takes the Relu/Clip output range; a Softmax output is forced to [0, 1].
* Scale/zero point (quant_utils.py compute_scale_zp): range widened to include 0; asymmetric:
  scale = (rmax - rmin) / (qmax - qmin), zp = round(qmin - rmin / scale); symmetric: range made [-a, a],
  zp = (qmin + qmax) / 2 rounded; int8 symmetric uses [-127, 127] (ONNX_INT_TYPE_SYMMETRIC_RANGE),
  asymmetric int8 [-128, 127], uint8 [0, 255]. Values: round half to even (numpy.round), clipped.
* Weights: per tensor, symmetric int8 over the whole tensor (quantize_initializer_impl / quantize_data).
* Bias (base_quantizer.py quantize_bias_static_impl): int32, zero point 0, scale = input_scale * weight_scale
  * beta (Gemm beta then set to 1), stored as int32 initializer + DequantizeLinear.
* Per op (registry.py QDQRegistry + operators/*.py):
  Conv/ConvTranspose (QDQConv): input, output, weight, bias.  Gemm (QDQGemm): input A, output, weight B, bias.
  MatMul (QDQMatMul): both inputs (weight if initializer), output.
  Relu/Clip (QDQRemovableActivation): only if the input is already marked; if the upstream tensor has one
  consumer and is no graph input/output, the activation node is removed and the upstream output renamed to the
  activation output (its calibrated range, e.g. [0, 6], does the clipping); else input and output get QDQ.
  Reshape/Transpose/Squeeze/Unsqueeze/AveragePool/Slice/MaxPool (QDQDirect8BitOp): only if the input is
  marked; output shares the input's scale/zp.  Everything else in the op set (Add, Mul, GlobalAveragePool,
  Softmax, Sigmoid, LeakyRelu, Concat, ...; QDQOperatorBase): all inputs and outputs.  Ops outside the set
  (Flatten, HardSigmoid, ...) stay float and read the dequantized tensors.
* Q/DQ insertion (qdq_quantizer.py): one shared Q->DQ pair per tensor, all consumers rewired to the DQ
  output; a graph output keeps its name on the DQ output; graph topologically sorted on save.
Pre-processing (shape_inference.py quant_pre_process): ORT graph optimisation at level BASIC saved to a file
(folds BatchNormalization into Conv for the Fashion model), then ONNX shape inference.
"""
import argparse
import collections
import json
import os
import subprocess
import sys
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ORT_JS = os.path.join(HERE, "ort_eval.js")

# registry.py: QLinearOpsRegistry keys (incl. CommonOpsRegistry) | QDQRegistry keys
QLINEAR_OPS = {"ArgMax", "Conv", "Gemm", "MatMul", "Add", "Mul", "Relu", "Clip", "LeakyRelu", "Sigmoid", "MaxPool",
               "GlobalAveragePool", "Split", "Pad", "Reshape", "Squeeze", "Unsqueeze", "Resize", "AveragePool",
               "Concat", "Softmax", "Where", "Gather", "Transpose", "EmbedLayerNormalization"}
QDQ_OPS = {"Conv", "ConvTranspose", "Gemm", "Clip", "Relu", "Reshape", "Transpose", "Squeeze", "Unsqueeze", "Resize",
           "MaxPool", "AveragePool", "Slice", "Pad", "MatMul", "Split", "Gather", "GatherElements", "Where",
           "InstanceNormalization", "LayerNormalization", "BatchNormalization", "TopK", "CumSum"}
OP_TYPES = QLINEAR_OPS | QDQ_OPS
DIRECT_8BIT = {"Reshape", "Transpose", "Squeeze", "Unsqueeze", "AveragePool", "Slice", "TopK", "MaxPool"}
NOT_IMPLEMENTED = {"Split", "Pad", "Resize", "Gather", "GatherElements", "Where", "InstanceNormalization",
                   "LayerNormalization", "BatchNormalization", "ArgMax", "EmbedLayerNormalization"}

QRANGE = {  # quant_utils.py ONNX_INT_TYPE_RANGE / ONNX_INT_TYPE_SYMMETRIC_RANGE
    (TensorProto.INT8, False): (-128, 127), (TensorProto.INT8, True): (-127, 127),
    (TensorProto.UINT8, False): (0, 255), (TensorProto.UINT8, True): (0, 254),
}
NP = {TensorProto.INT8: np.int8, TensorProto.UINT8: np.uint8}


def scale_zp(rmin, rmax, qtype, symmetric):
    qmin, qmax = QRANGE[(qtype, symmetric)]
    rmin = np.minimum(np.float32(rmin), np.float32(0))
    rmax = np.maximum(np.float32(rmax), np.float32(0))
    if symmetric:
        a = np.maximum(np.abs(rmin), np.abs(rmax))
        rmin, rmax = -a, a
    scale = np.float64(rmax - rmin) / (np.float64(qmax) - np.float64(qmin))
    if scale < np.finfo(np.float32).tiny:
        return np.float32(1.0), 0
    zp = np.round((qmin + qmax) / 2.0) if symmetric else np.round(qmin - np.float64(rmin) / scale)
    return np.float32(scale), int(zp)


def quantize_array(x, scale, zp, qtype):
    lo, hi = QRANGE[(qtype, False)]
    q = np.round(x.astype(np.float32) / np.float32(scale)) + zp
    return np.clip(q, lo, hi).astype(NP[qtype])


def run_js(*args):
    env = dict(os.environ)
    subprocess.check_call(["node", ORT_JS] + list(args), env=env)


def write_f32(path, x):
    with open(path, "wb") as f:
        f.write(np.ascontiguousarray(x, "<f4").tobytes())


def float_tensors(model):
    """name -> True if the tensor is known to be float (value_info / inputs / outputs after shape inference)."""
    t = {}
    for vi in list(model.graph.value_info) + list(model.graph.input) + list(model.graph.output):
        if vi.type.HasField("tensor_type"):
            t[vi.name] = vi.type.tensor_type.elem_type in (TensorProto.FLOAT, TensorProto.FLOAT16)
    return t


def tensors_to_calibrate(model):
    """calibrate.py select_tensors_to_calibrate: float, non-initializer inputs/outputs of nodes to quantize."""
    inits = {i.name for i in model.graph.initializer}
    ft = float_tensors(model)
    out = []
    for n in model.graph.node:
        if n.op_type not in OP_TYPES:
            continue
        for t in list(n.input) + list(n.output):
            if t and t not in inits and ft.get(t, False) and t not in out:
                out.append(t)
    return out


def calibrate(model, names, x_calib, workdir, shape):
    aug = onnx.ModelProto()
    aug.CopyFrom(model)
    existing = {o.name for o in aug.graph.output}
    vis = {vi.name: vi for vi in list(model.graph.value_info) + list(model.graph.input)}
    for t in names:
        if t not in existing:
            aug.graph.output.append(vis[t] if t in vis else helper.make_tensor_value_info(t, TensorProto.FLOAT, None))
    p = os.path.join(workdir, "augmented.onnx")
    onnx.save(aug, p)
    xin = os.path.join(workdir, "calib.f32")
    write_f32(xin, x_calib)
    rj = os.path.join(workdir, "ranges.json")
    run_js("minmax", "--model", p, "--input", xin, "--shape", shape, "--output", rj)
    r = json.load(open(rj))
    return {t: (np.float32(r[t][0]), np.float32(r[t][1])) for t in names}


class QDQBuilder:
    """The marking pass of QDQQuantizer.quantize_model followed by the Q/DQ insertion passes."""

    def __init__(self, model, ranges, act_type):
        self.model = model
        self.g = model.graph
        self.act_type = act_type
        self.ranges = dict(ranges)
        self.inits = {i.name: i for i in self.g.initializer}
        self.graph_inputs = {i.name for i in self.g.input}
        self.graph_outputs = {o.name for o in self.g.output}
        self.ft = float_tensors(model)
        self.to_quant = collections.OrderedDict()  # tensor -> ("act"|"weight", provider tensor or None)
        self.bias = collections.OrderedDict()      # bias -> (input, weight, beta)
        self.removed = []
        self.qparams = {}                           # tensor -> (scale name, zp name, scale, zp)
        self.stats = collections.Counter()
        self.axis = {}                              # weight -> output-channel axis (Conv 0, Gemm by transB)
        self.per_channel = False                    # quantize_static default per_channel=False

    # ---------------------------------------------------------------- helpers
    def consumers(self, t):
        return [n for n in self.g.node if t in n.input and n not in self.removed]

    def quantizable(self, t):
        if not t:
            return False
        if t in self.inits:
            return self.inits[t].data_type in (TensorProto.FLOAT, TensorProto.FLOAT16)
        return self.ft.get(t, False)

    def mark(self, t, kind="act", provider=None):
        if not self.quantizable(t):
            return
        if provider is not None or t not in self.to_quant:
            self.to_quant[t] = (kind, provider)

    def adjust_ranges(self):  # base_quantizer.py adjust_tensor_ranges
        for n in self.g.node:
            if n.op_type in ("Clip", "Relu"):
                if len(self.consumers(n.input[0])) != 1:
                    continue
                if n.input[0] in self.ranges and n.output[0] in self.ranges:
                    self.ranges[n.input[0]] = self.ranges[n.output[0]]
            elif n.op_type == "Softmax":
                self.ranges[n.output[0]] = (np.float32(0.0), np.float32(1.0))

    # ---------------------------------------------------------------- marking (operators/*.py)
    def mark_nodes(self):
        for n in list(self.g.node):
            op = n.op_type
            if op not in OP_TYPES:
                continue
            if op in NOT_IMPLEMENTED:
                raise NotImplementedError(f"{op}: not needed for the three peer models, not re-implemented")
            if op in ("Conv", "ConvTranspose"):
                self.mark(n.input[0]); self.mark(n.output[0]); self.mark(n.input[1], "weight")
                self.axis[n.input[1]] = 0
                if len(n.input) > 2 and n.input[2]:
                    self.bias[n.input[2]] = (n.input[0], n.input[1], 1.0)
            elif op == "Gemm":
                self.mark(n.input[0]); self.mark(n.output[0])
                if any(a.name == "transA" and a.i for a in n.attribute):
                    raise NotImplementedError("Gemm transA")
                self.mark(n.input[1], "weight")
                self.axis[n.input[1]] = 0 if any(a.name == "transB" and a.i for a in n.attribute) else 1
                if len(n.input) > 2 and n.input[2] in self.inits:
                    beta = 1.0
                    for a in n.attribute:
                        if a.name == "beta":
                            beta, a.f = a.f, 1.0
                    self.bias[n.input[2]] = (n.input[0], n.input[1], beta)
            elif op == "MatMul":
                for t in n.input:
                    self.mark(t, "weight" if t in self.inits else "act")
                self.mark(n.output[0])
            elif op in ("Relu", "Clip"):
                self.removable_activation(n)
            elif op in DIRECT_8BIT:
                if n.input[0] in self.to_quant:
                    self.mark(n.output[0], provider=n.input[0])
            else:  # QDQOperatorBase
                for t in list(n.input) + list(n.output):
                    self.mark(t)

    def removable_activation(self, n):
        up, out = n.input[0], n.output[0]
        if up not in self.to_quant and up not in self.bias:
            self.stats["activation kept float (input not quantized)"] += 1
            return
        if (out in self.ranges and len(self.consumers(up)) == 1 and up not in self.graph_outputs
                and up not in self.graph_inputs and self.act_symmetric is False):
            for m in self.g.node:  # replace_output_of_all_nodes(up, out)
                for i, o in enumerate(m.output):
                    if o == up:
                        m.output[i] = out
            self.to_quant.pop(up, None)
            self.removed.append(n)
            self.stats[f"{n.op_type} folded into producer's QDQ"] += 1
        else:
            self.mark(up)
        self.mark(out)

    act_symmetric = False  # extra_options ActivationSymmetric default

    # ---------------------------------------------------------------- insertion (qdq_quantizer.py)
    def add_init(self, arr, name):
        self.g.initializer.append(numpy_helper.from_array(arr, name))

    def replace_input(self, old, new):
        for m in self.g.node:
            for i, t in enumerate(m.input):
                if t == old:
                    m.input[i] = new

    def act_qparams(self, t):
        if t not in self.ranges:
            raise ValueError(f"no calibration range for {t}")
        lo, hi = self.ranges[t]
        s, z = scale_zp(lo, hi, self.act_type, self.act_symmetric)
        sn, zn = t + "_scale", t + "_zero_point"
        self.add_init(np.array(s, np.float32), sn)
        self.add_init(np.array(z, NP[self.act_type]), zn)
        self.qparams[t] = (sn, zn, s, z)

    def add_qdq(self, t, sn, zn):
        q_in, dq_out = t, t + "_DequantizeLinear_Output"
        if t in self.graph_outputs:
            q_in, dq_out = t + "_QuantizeLinear_Input", t
            for m in self.g.node:
                for i, o in enumerate(m.output):
                    if o == t:
                        m.output[i] = q_in
        else:
            self.replace_input(t, dq_out)
        qo = t + "_QuantizeLinear_Output"
        self.g.node.append(helper.make_node("QuantizeLinear", [q_in, sn, zn], [qo], t + "_QuantizeLinear"))
        self.g.node.append(helper.make_node("DequantizeLinear", [qo, sn, zn], [dq_out], t + "_DequantizeLinear"))

    def quantize_weight_per_channel(self, t, axis):
        # NOT a default: per_channel=True (base_quantizer.py quantize_weight_per_channel_impl, symmetric int8)
        w = numpy_helper.to_array(self.inits[t])
        wm = np.moveaxis(w, axis, 0).reshape(w.shape[axis], -1)
        sz = [scale_zp(r.min(), r.max(), TensorProto.INT8, True) for r in wm]
        s = np.array([x[0] for x in sz], np.float32)
        shp = [1] * w.ndim
        shp[axis] = -1
        q = np.clip(np.round(w.astype(np.float32) / s.reshape(shp)), -128, 127).astype(np.int8)
        qn, sn, zn = t + "_quantized", t + "_scale", t + "_zero_point"
        self.add_init(q, qn)
        self.add_init(s, sn)
        self.add_init(np.zeros(len(s), np.int8), zn)
        self.qparams[t] = (sn, zn, s, 0)
        out = t + "_DequantizeLinear_Output"
        self.replace_input(t, out)
        self.g.node.append(helper.make_node("DequantizeLinear", [qn, sn, zn], [out], t + "_DequantizeLinear",
                                            axis=axis))
        self.stats["weights (per-channel symmetric)"] += 1

    def quantize_initializer(self, t, qtype):
        w = numpy_helper.to_array(self.inits[t])
        # weights: symmetric (WeightSymmetric default for int8); activation-typed initializers use the same flag
        sym = True
        s, z = scale_zp(w.min() if w.size else 0, w.max() if w.size else 0, qtype, sym)
        q = quantize_array(w, s, z, qtype)
        qn, sn, zn = t + "_quantized", t + "_scale", t + "_zero_point"
        self.add_init(q, qn)
        self.add_init(np.array(s, np.float32), sn)
        self.add_init(np.array(z, NP[qtype]), zn)
        self.qparams[t] = (sn, zn, s, z)
        out = t + "_DequantizeLinear_Output"
        self.replace_input(t, out)
        self.g.node.append(helper.make_node("DequantizeLinear", [qn, sn, zn], [out], t + "_DequantizeLinear"))
        self.stats["weights (per-tensor symmetric)" if qtype == TensorProto.INT8 else "initializers"] += 1

    def insert(self):
        for n in self.removed:
            self.g.node.remove(n)
        self.adjust_done = True
        shared = []
        for t, (kind, prov) in list(self.to_quant.items()):
            if prov is not None:
                shared.append((t, prov))
                continue
            if t in self.inits and self.per_channel and kind == "weight" and t in self.axis:
                self.quantize_weight_per_channel(t, self.axis[t])
            elif t in self.inits:
                self.quantize_initializer(t, TensorProto.INT8 if kind == "weight" else self.act_type)
            else:
                self.act_qparams(t)
                self.add_qdq(t, self.qparams[t][0], self.qparams[t][1])
                self.stats["activation QDQ pairs"] += 1
        for t, prov in shared:  # _quantize_sharing_param_tensors
            sn, zn, s, z = self.qparams[prov]
            self.qparams[t] = (sn, zn, s, z)
            self.add_qdq(t, sn, zn)
            self.stats["activation QDQ pairs (shared params)"] += 1
        for b, (inp, w, beta) in self.bias.items():  # _quantize_bias_tensors
            bias = numpy_helper.to_array(self.inits[b])
            bs = np.float32(self.qparams[inp][2]) * np.asarray(self.qparams[w][2], np.float32) * np.float32(beta)
            q = np.round(bias / bs).astype(np.int32)
            qn = b + "_quantized"
            self.add_init(q, qn)
            self.add_init(np.array(bs, np.float32), qn + "_scale")
            self.add_init(np.zeros(bs.shape, np.int32), qn + "_zero_point")
            self.g.initializer.remove(self.inits[b])
            kw = dict(axis=0) if bs.ndim else {}
            self.g.node.append(helper.make_node("DequantizeLinear", [qn, qn + "_scale", qn + "_zero_point"], [b],
                                                b + "_DequantizeLinear", **kw))
            self.stats["biases (int32)"] += 1
        # clean_initializers: drop float initializers nobody reads any more
        used = {t for n in self.g.node for t in n.input}
        for i in [i for i in self.g.initializer if i.name not in used]:
            self.g.initializer.remove(i)
        self.toposort()

    def toposort(self):
        avail = {i.name for i in self.g.initializer} | {i.name for i in self.g.input} | {""}
        nodes, out = list(self.g.node), []
        while nodes:
            progress = False
            for n in list(nodes):
                if all(t in avail for t in n.input):
                    out.append(n)
                    avail.update(n.output)
                    nodes.remove(n)
                    progress = True
            if not progress:
                raise RuntimeError("graph has a cycle or a dangling input: " + str([n.name for n in nodes][:5]))
        del self.g.node[:]
        self.g.node.extend(out)


def top1(model_path, x, y, workdir, tag, shape, opt="all"):
    xin = os.path.join(workdir, "val.f32")
    if not os.path.exists(xin) or os.path.getsize(xin) != x.size * 4:
        write_f32(xin, x)
    yo = os.path.join(workdir, f"{tag}.out.f32")
    run_js("run", "--model", model_path, "--input", xin, "--shape", shape, "--output", yo, "--opt", opt)
    out = np.fromfile(yo, "<f4").reshape(len(y), -1)
    pred = out.argmax(1)
    # ties in the top score (possible once the output is quantized): argmax takes the lowest index
    ties = int(np.sum((out == out.max(1, keepdims=True)).sum(1) > 1))
    return float(np.mean(pred == y)), ties


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", choices=sorted(data.MODELS))
    ap.add_argument("--fashion-report", help="calibr8 calibrate --report JSON (fashion calibration indices)")
    ap.add_argument("--act-type", default="int8", choices=["int8", "uint8"],
                    help="activation_type: int8 = QuantType.QInt8 (quantize_static default), uint8 = QUInt8")
    ap.add_argument("--per-channel", action="store_true",
                    help="NOT a default: per_channel=True (diagnostic only; the table uses the default False)")
    ap.add_argument("--work", default=None, help="work directory (default build/peers/ort_<model>)")
    ap.add_argument("--json", help="write the result here")
    a = ap.parse_args()
    t0 = time.time()
    work = a.work or os.path.join(data.REPO, "build", "peers", f"ort_{a.model}")
    os.makedirs(work, exist_ok=True)
    src = data.MODELS[a.model]["model"]
    act = TensorProto.INT8 if a.act_type == "int8" else TensorProto.UINT8

    # quant_pre_process: ORT BASIC optimisation, then ONNX shape inference
    pre = os.path.join(work, "pre.onnx")
    run_js("optimize", "--model", src, "--output", pre, "--level", "basic")
    model = onnx.shape_inference.infer_shapes(onnx.load(pre))
    shape_in = [d.dim_value if d.dim_value > 0 else 1 for d in model.graph.input[0].type.tensor_type.shape.dim]
    shape = ",".join(map(str, [1] + shape_in[1:]))

    xc, _ = data.load_split(a.model, "calib", a.fashion_report)
    names = tensors_to_calibrate(model)
    ranges = calibrate(model, names, xc, work, shape)

    b = QDQBuilder(model, ranges, act)
    b.per_channel = a.per_channel
    b.adjust_ranges()
    b.mark_nodes()
    b.insert()
    variant = a.act_type + ("_perchannel" if a.per_channel else "")
    qpath = os.path.join(work, f"qdq_{variant}.onnx")
    onnx.checker.check_model(b.model)
    onnx.save(b.model, qpath)

    xv, yv = data.load_split(a.model, "val")
    fp32, fp_ties = top1(src, xv, yv, work, "fp32", shape)
    int8, q_ties = top1(qpath, xv, yv, work, f"qdq_{variant}", shape)
    # diagnostic: the same QDQ file with ORT graph optimisations disabled, so QuantizeLinear/DequantizeLinear
    # run as ops around float Conv/Gemm (the exact QDQ arithmetic, no int8 kernels, no u8s8 saturation)
    ref, _ = top1(qpath, xv, yv, work, f"qdq_{variant}_ref", shape, opt="disabled")
    res = dict(peer="ort_minmax_qdq", model=a.model, split=data.split_label(a.model), val_images=len(yv),
               calib_images=len(xc), fp32_top1=fp32, int8_top1=int8, int8_top1_qdq_reference=ref, drop_pts=100 * (fp32 - int8),
               activation_type=a.act_type, per_channel=a.per_channel, top1_ties_int8=q_ties, calibrated_tensors=len(names),
               qdq_model=qpath, counts=dict(b.stats), seconds=time.time() - t0)
    print(json.dumps(res, indent=1))
    if a.json:
        json.dump(res, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
