#!/usr/bin/python3
"""Export torchvision 0.14 architectures with seeded random weights to ONNX (opset 13) for calibr8's
runtime / speed tests.

    /usr/bin/python3 scripts/export_torchvision.py [OUTDIR] [--only name,...] [--force] [--list]

OUTDIR defaults to build/models (relative to the repo root). For each model: torch.manual_seed(0),
build it with weights=None, re-estimate the BatchNorm running statistics from 4 seeded random batches
(random init leaves mean 0 / var 1, which makes activations explode or vanish through deep nets), then
eval() and export with input `input` [batch,3,H,W] float32 (dynamic batch dim "batch") and output `output`.
Segmentation models export only the 'out' head. BN is folded by the exporter (default EVAL mode), as in
most published ONNX files. An existing OUTDIR/<name>.onnx is skipped (cheap reruns); files are written
atomically (temp file + rename). Needs Debian's python3-torch 1.13 / python3-torchvision 0.14 / python3-onnx.

The models are NOT trained: use them for speed, graph coverage and FP32-vs-INT8 agreement, never accuracy.
"""
import argparse
import json
import os
import sys
import time

import torch
import torch.nn as nn
import torchvision

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

BN_BATCHES = 4
BN_BATCH_SIZE = 8


class SegOut(nn.Module):
    """Wrap a torchvision segmentation model so that only the 'out' tensor is returned."""

    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, x):
        return self.m(x)["out"]


def _tv(name, **kw):
    return lambda: getattr(torchvision.models, name)(weights=None, **kw)


def _seg(name, **kw):
    return lambda: SegOut(getattr(torchvision.models.segmentation, name)(
        weights=None, weights_backbone=None, aux_loss=False, num_classes=21, **kw))


# name -> (constructor, input H=W)
MODELS = {
    "resnet50": (_tv("resnet50"), 224),
    "mobilenet_v2": (_tv("mobilenet_v2"), 224),
    "mobilenet_v3_large": (_tv("mobilenet_v3_large"), 224),
    "googlenet": (_tv("googlenet", aux_logits=False, init_weights=True), 224),
    "inception_v3": (_tv("inception_v3", aux_logits=False, init_weights=True), 299),
    "densenet121": (_tv("densenet121"), 224),
    "vgg16": (_tv("vgg16"), 224),
    "squeezenet1_0": (_tv("squeezenet1_0"), 224),
    "shufflenet_v2_x1_0": (_tv("shufflenet_v2_x1_0"), 224),
    "efficientnet_b0": (_tv("efficientnet_b0"), 224),
    "deeplabv3_mobilenet_v3_large": (_seg("deeplabv3_mobilenet_v3_large"), 224),
}


@torch.no_grad()
def recalibrate_bn(model, size, seed=0):
    """Re-estimate BN running stats from seeded N(0,1) batches.

    Only the BatchNorm layers are put in train mode (dropout / stochastic depth stay in eval mode so they
    do not perturb the statistics), and momentum=None makes the running stats the plain average over the
    batches instead of a 10 %-per-step EMA towards them from the mean=0/var=1 init."""
    bns = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not bns:
        return 0
    model.eval()
    saved = []
    for m in bns:
        saved.append(m.momentum)
        m.reset_running_stats()
        m.momentum = None
        m.train()
    gen = torch.Generator().manual_seed(seed)
    for _ in range(BN_BATCHES):
        model(torch.randn(BN_BATCH_SIZE, 3, size, size, generator=gen))
    for m, mom in zip(bns, saved):
        m.momentum = mom
    model.eval()
    return len(bns)


def export_one(name, outdir):
    import onnx
    ctor, size = MODELS[name]
    path = os.path.join(outdir, name + ".onnx")
    tmp = os.path.join(outdir, f".{name}.onnx.tmp{os.getpid()}")
    t0 = time.time()
    torch.manual_seed(0)
    model = ctor()
    nbn = recalibrate_bn(model, size)
    model.eval()
    nparams = sum(p.numel() for p in model.parameters())
    dummy = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref = model(dummy)
    try:
        torch.onnx.export(
            model, dummy, tmp,
            input_names=["input"], output_names=["output"],
            dynamic_axes={"input": {0: "batch"}, "output": {0: "batch"}},
            opset_version=13, do_constant_folding=True,
            training=torch.onnx.TrainingMode.EVAL,
        )
        onnx.checker.check_model(tmp)
        m = onnx.load(tmp, load_external_data=False)
        d0 = m.graph.input[0].type.tensor_type.shape.dim[0]
        if d0.dim_param != "batch":
            raise RuntimeError(f"{name}: input batch dim is not dynamic ({d0})")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    dt = time.time() - t0
    info = {
        "model": name, "seconds": round(dt, 1), "bytes": os.path.getsize(path), "params": nparams,
        "bn_layers": nbn, "input": [1, 3, size, size], "output": list(ref.shape),
        "output_std": round(float(ref.std()), 4), "nodes": len(m.graph.node),
    }
    return info


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("outdir", nargs="?", default=os.path.join(REPO, "build", "models"))
    ap.add_argument("--only", default="", help="comma-separated subset of: " + ",".join(MODELS))
    ap.add_argument("--force", action="store_true", help="re-export even if OUTDIR/<name>.onnx exists")
    ap.add_argument("--list", action="store_true", help="list model names and exit")
    args = ap.parse_args()
    if args.list:
        print("\n".join(MODELS))
        return 0

    names = list(MODELS)
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        bad = [n for n in names if n not in MODELS]
        if bad:
            ap.error(f"unknown model(s) {bad}; choose from {list(MODELS)}")
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    os.makedirs(args.outdir, exist_ok=True)

    t_all = time.time()
    done, skipped = [], []
    for n in names:
        path = os.path.join(args.outdir, n + ".onnx")
        if os.path.exists(path) and not args.force:
            print(f"skip {n}: {path} exists", flush=True)
            skipped.append(n)
            continue
        print(f"export {n} ...", flush=True)
        info = export_one(n, args.outdir)
        print(json.dumps(info), flush=True)
        done.append(info)
    total = time.time() - t_all
    print(f"exported {len(done)} model(s), skipped {len(skipped)} in {total:.1f} s -> {args.outdir}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
