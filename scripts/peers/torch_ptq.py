#!/usr/bin/python3
"""Peer baseline 2: PyTorch 1.13 post-training static quantization, FX graph mode, default settings.

    torch.backends.quantized.engine = 'onednn'
    qconfig_mapping = torch.ao.quantization.get_default_qconfig_mapping('onednn')
    prepared = prepare_fx(fp32_module, qconfig_mapping, example_inputs)   # also fuses conv-bn(-relu)
    for x in calibration images: prepared(x)
    int8 = convert_fx(prepared)

Why onednn: Debian's python3-torch 1.13 is built without FBGEMM (torch.backends.quantized.supported_engines
== ['qnnpack', 'none', 'onednn']), so the default x86 server engine 'fbgemm'/'x86' is unavailable; 'onednn'
is the x86 engine that is compiled in.  In 1.13 get_default_qconfig('onednn') (torch/ao/quantization/qconfig.py)
= activations quint8 per tensor affine with HistogramObserver(reduce_range=False) (L2-optimal range search
over a histogram), weights qint8 per output channel symmetric (default_per_channel_weight_observer,
PerChannelMinMaxObserver).  The mapping adds fixed-qparams qconfigs for hardsigmoid/sigmoid/softmax/tanh-like
ops (get_default_qconfig_mapping -> _get_default_qconfig_mapping in qconfig_mapping.py).

On a CPU without AVX512-VNNI/AVX-VNNI (this host: AVX2 only, /proc/cpuinfo) oneDNN's u8s8 int8 kernels use
vpmaddubsw, whose int16 pair sums saturate (oneDNN "Nuances of int8 computations"; measured here: a single
quantized conv's error grows with the input zero point, up to ~20 output steps at zp 128, QNNPACK < 1 step); 'fbgemm'/'x86' default
to reduce_range=True for that reason, 'onednn' does not.  `--engine qnnpack` keeps the onednn qconfig but
runs QNNPACK kernels instead (beware: in 1.13 QNNPACK's quantized clamp/hardtanh/relu6 ignores channels-last strides,
which breaks ReLU6 after a quantized conv).  The script therefore also reports the same calibrated model
through convert_to_reference_fx (quantize/dequantize around float ops: the exact PTQ arithmetic, no int8
kernels), to separate the method from kernel effects.

The ONNX model is turned into an nn.Module by onnx_to_torch.py; its FP32 top-1 is measured in PyTorch on
the same validation tensors as the INT8 model (same pipeline); bench/peers.sh prints it next to the ONNX
Runtime FP32 figure so a conversion error would show.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import onnx_to_torch  # noqa: E402


def predict(mod, x, batch):
    outs = []
    with torch.no_grad():
        for i in range(0, len(x), batch):
            outs.append(mod(torch.from_numpy(x[i:i + batch])).float().numpy())
    return np.concatenate(outs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model", choices=sorted(data.MODELS))
    ap.add_argument("--fashion-report", help="calibr8 calibrate --report JSON (fashion calibration indices)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--engine", default="onednn", choices=["onednn", "qnnpack"],
                    help="quantized engine (the qconfig mapping is always the 'onednn' one)")
    ap.add_argument("--json", help="write the result here")
    a = ap.parse_args()
    t0 = time.time()
    torch.manual_seed(0)
    torch.set_num_threads(a.threads)
    engine = a.engine
    assert engine in torch.backends.quantized.supported_engines, torch.backends.quantized.supported_engines
    torch.backends.quantized.engine = engine
    from torch.ao.quantization import get_default_qconfig_mapping
    from torch.ao.quantization.quantize_fx import convert_fx, prepare_fx

    fp32 = onnx_to_torch.convert(data.MODELS[a.model]["model"])
    # the converted module has no batch-dependent op (Flatten keeps dim 0), so batches of 50 are fine
    xc, _ = data.load_split(a.model, "calib", a.fashion_report)
    xv, yv = data.load_split(a.model, "val")
    bs = 50
    out_fp = predict(fp32, xv, bs)
    fp_top1 = float(np.mean(out_fp.argmax(1) == yv))

    qmap = get_default_qconfig_mapping("onednn")
    example = (torch.from_numpy(xc[:1]),)
    prepared = prepare_fx(fp32, qmap, example)
    with torch.no_grad():
        for i in range(0, len(xc), bs):  # calibration: observers see every calibration image once
            prepared(torch.from_numpy(xc[i:i + bs]))
    import copy
    from torch.ao.quantization.quantize_fx import convert_to_reference_fx
    ref = convert_to_reference_fx(copy.deepcopy(prepared))
    q = convert_fx(prepared)
    out_q = predict(q, xv, bs)
    q_top1 = float(np.mean(out_q.argmax(1) == yv))
    ref_top1 = float(np.mean(predict(ref, xv, bs).argmax(1) == yv))
    ties = int(np.sum((out_q == out_q.max(1, keepdims=True)).sum(1) > 1))
    ops = sorted({type(m).__module__ + "." + type(m).__name__ for m in q.modules()
                  if "quantized" in type(m).__module__})
    res = dict(peer="torch_fx_ptq", model=a.model, split=data.split_label(a.model), engine=engine,
               torch=torch.__version__, val_images=len(yv), calib_images=len(xc), fp32_top1=fp_top1,
               int8_top1=q_top1, int8_top1_reference=ref_top1, drop_pts=100 * (fp_top1 - q_top1), top1_ties_int8=ties,
               quantized_modules=ops, seconds=time.time() - t0)
    print(json.dumps(res, indent=1))
    if a.json:
        json.dump(res, open(a.json, "w"), indent=1)


if __name__ == "__main__":
    main()
