#!/usr/bin/python3
"""Minimal ONNX -> torch.nn.Module converter for the three peer models (PyTorch PTQ baseline).

Only the ops these models use (`calibr8 info`): Conv, BatchNormalization, Relu, Clip, Add, Mul, HardSigmoid,
Gemm, MatMul (constant B), GlobalAveragePool, AveragePool, MaxPool, Flatten, Reshape (constant shape), Softmax.
Weights become real nn.Conv2d / nn.Linear / nn.BatchNorm2d modules so that torch.ao.quantization's FX mode
sees the same module patterns a hand-written PyTorch model would give it (conv-bn-relu fusion, quantized
linear, ...):

* Clip(0, 6) -> nn.ReLU6; Clip(0, inf) -> nn.ReLU; other Clip -> nn.Hardtanh.
* HardSigmoid(alpha=1/6, beta=1/2) followed by Mul(x, hardsigmoid(x)) -> one nn.Hardswish (that is how
  PyTorch exports nn.Hardswish at opset 13, and scripts/train_default.py builds the Fashion model with
  nn.Hardswish); a lone HardSigmoid(1/6, 1/2) -> nn.Hardsigmoid.
* Asymmetric Conv pads (TF 'SAME' after tflite/keras conversion, e.g. [0,0,1,1]) -> nn.ZeroPad2d before an
  unpadded nn.Conv2d; symmetric pads go into nn.Conv2d(padding=...).
* Gemm(transB=1) -> nn.Linear(weight=B); transB=0 -> weight=B^T; alpha/beta folded into weight/bias.
The forward walks a fixed, pre-computed node list, which torch.fx symbolic tracing unrolls into a flat graph.
"""
import operator

import numpy as np
import onnx
import torch
import torch.nn as nn
from onnx import numpy_helper


def _attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


class _Flatten(nn.Module):
    def __init__(self, axis):
        super().__init__()
        self.axis = axis

    def forward(self, x):
        return torch.flatten(x, self.axis)


class _Reshape(nn.Module):
    def __init__(self, shape):
        super().__init__()
        self.shape = [int(s) for s in shape]

    def forward(self, x):
        return x.reshape(self.shape)


class _HardSigmoidGeneric(nn.Module):
    def __init__(self, alpha, beta):
        super().__init__()
        self.alpha, self.beta = alpha, beta

    def forward(self, x):
        return torch.clamp(x * self.alpha + self.beta, 0.0, 1.0)


class OnnxModule(nn.Module):
    """steps: list of (kind, module attribute name or python op, input names, output name)."""

    def __init__(self, path):
        super().__init__()
        m = onnx.load(path)
        g = m.graph
        inits = {i.name: numpy_helper.to_array(i) for i in g.initializer}
        for n in g.node:  # Constant nodes become initializers
            if n.op_type == "Constant":
                inits[n.output[0]] = numpy_helper.to_array(_attrs(n)["value"])
        self.input_name = [i.name for i in g.input if i.name not in inits][0]
        self.output_name = g.output[0].name
        consumers = {}
        for n in g.node:
            for t in n.input:
                consumers.setdefault(t, []).append(n)
        self.steps = []
        skip = set()
        k = 0
        for n in g.node:
            if n.op_type == "Constant" or id(n) in skip:
                continue
            a = _attrs(n)
            name = f"m{k:03d}_{n.op_type.lower()}"
            k += 1
            op = n.op_type
            ins = [t for t in n.input if t and t not in inits]
            if op == "Conv":
                w = inits[n.input[1]]
                b = inits[n.input[2]] if len(n.input) > 2 and n.input[2] else None
                pads = list(a.get("pads", [0] * 4))
                if a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
                    raise NotImplementedError("auto_pad")
                group = int(a.get("group", 1))
                conv = nn.Conv2d(w.shape[1] * group, w.shape[0], tuple(w.shape[2:]),
                                 stride=tuple(a.get("strides", [1, 1])), dilation=tuple(a.get("dilations", [1, 1])),
                                 groups=group, bias=b is not None,
                                 padding=(pads[0], pads[1]) if pads[:2] == pads[2:] else 0)
                conv.weight.data = torch.from_numpy(w.copy())
                if b is not None:
                    conv.bias.data = torch.from_numpy(b.copy())
                if pads[:2] != pads[2:]:  # ONNX [top, left, bottom, right] -> ZeroPad2d(left, right, top, bottom)
                    pad = nn.ZeroPad2d((pads[1], pads[3], pads[0], pads[2]))
                    setattr(self, name + "_pad", pad)
                    self.steps.append(("mod", name + "_pad", ins, n.output[0] + "__padded"))
                    ins = [n.output[0] + "__padded"]
                setattr(self, name, conv)
                self.steps.append(("mod", name, ins, n.output[0]))
            elif op == "BatchNormalization":
                sc, bi, mu, var = (inits[t] for t in n.input[1:5])
                bn = nn.BatchNorm2d(len(sc), eps=float(a.get("epsilon", 1e-5)))
                bn.weight.data, bn.bias.data = torch.from_numpy(sc.copy()), torch.from_numpy(bi.copy())
                bn.running_mean.data, bn.running_var.data = torch.from_numpy(mu.copy()), torch.from_numpy(var.copy())
                setattr(self, name, bn)
                self.steps.append(("mod", name, ins, n.output[0]))
            elif op == "Relu":
                setattr(self, name, nn.ReLU())
                self.steps.append(("mod", name, ins, n.output[0]))
            elif op == "Clip":
                lo = float(inits[n.input[1]]) if len(n.input) > 1 and n.input[1] else float(a.get("min", -np.inf))
                hi = float(inits[n.input[2]]) if len(n.input) > 2 and n.input[2] else float(a.get("max", np.inf))
                mod = nn.ReLU6() if (lo, hi) == (0.0, 6.0) else nn.ReLU() if (lo == 0 and hi == np.inf) \
                    else nn.Hardtanh(lo, hi)
                setattr(self, name, mod)
                self.steps.append(("mod", name, ins, n.output[0]))
            elif op == "HardSigmoid":
                alpha, beta = float(a.get("alpha", 0.2)), float(a.get("beta", 0.5))
                std = abs(alpha - 1 / 6) < 1e-6 and abs(beta - 0.5) < 1e-6
                users = consumers.get(n.output[0], [])
                if std and len(users) == 1 and users[0].op_type == "Mul" and n.input[0] in users[0].input:
                    setattr(self, name, nn.Hardswish())
                    self.steps.append(("mod", name, ins, users[0].output[0]))
                    skip.add(id(users[0]))
                else:
                    setattr(self, name, nn.Hardsigmoid() if std else _HardSigmoidGeneric(alpha, beta))
                    self.steps.append(("mod", name, ins, n.output[0]))
            elif op in ("Add", "Mul"):
                if len(ins) != 2:
                    raise NotImplementedError(f"{op} with a constant input")
                self.steps.append(("fn", operator.add if op == "Add" else operator.mul, ins, n.output[0]))
            elif op in ("Gemm", "MatMul"):
                w = inits[n.input[1]]
                if op == "MatMul" or not a.get("transB", 0):
                    w = w.T
                alpha = float(a.get("alpha", 1.0)) if op == "Gemm" else 1.0
                beta = float(a.get("beta", 1.0)) if op == "Gemm" else 1.0
                if op == "Gemm" and a.get("transA", 0):
                    raise NotImplementedError("Gemm transA")
                b = inits[n.input[2]] if op == "Gemm" and len(n.input) > 2 and n.input[2] else None
                lin = nn.Linear(w.shape[1], w.shape[0], bias=b is not None)
                lin.weight.data = torch.from_numpy((alpha * w).astype(np.float32).copy())
                if b is not None:
                    lin.bias.data = torch.from_numpy((beta * b).astype(np.float32).reshape(-1).copy())
                setattr(self, name, lin)
                self.steps.append(("mod", name, ins, n.output[0]))
            elif op == "GlobalAveragePool":
                setattr(self, name, nn.AdaptiveAvgPool2d(1))
                self.steps.append(("mod", name, ins, n.output[0]))
            elif op in ("AveragePool", "MaxPool"):
                pads = list(a.get("pads", [0] * 4))
                if pads[:2] != pads[2:]:
                    raise NotImplementedError("asymmetric pool pads")
                kw = dict(kernel_size=tuple(a["kernel_shape"]), stride=tuple(a.get("strides", [1, 1])),
                          padding=tuple(pads[:2]), ceil_mode=bool(a.get("ceil_mode", 0)))
                if op == "AveragePool":
                    mod = nn.AvgPool2d(count_include_pad=bool(a.get("count_include_pad", 0)), **kw)
                else:
                    mod = nn.MaxPool2d(**kw)
                setattr(self, name, mod)
                self.steps.append(("mod", name, ins, n.output[0]))
            elif op == "Flatten":
                setattr(self, name, _Flatten(int(a.get("axis", 1))))
                self.steps.append(("mod", name, ins, n.output[0]))
            elif op == "Reshape":
                setattr(self, name, _Reshape(inits[n.input[1]]))
                self.steps.append(("mod", name, ins, n.output[0]))
            elif op == "Softmax":
                setattr(self, name, nn.Softmax(dim=int(a.get("axis", -1))))
                self.steps.append(("mod", name, ins, n.output[0]))
            else:
                raise NotImplementedError(f"ONNX op {op} ({n.name})")

    def forward(self, x):
        env = {self.input_name: x}
        for kind, f, ins, out in self.steps:
            args = [env[t] for t in ins]
            env[out] = getattr(self, f)(*args) if kind == "mod" else f(*args)
        return env[self.output_name]


def convert(path):
    return OnnxModule(path).eval()


if __name__ == "__main__":
    import sys
    mod = convert(sys.argv[1])
    print(mod)
    print(torch.fx.symbolic_trace(mod).graph)
