#!/usr/bin/python3
"""Train calibr8's embedded default model (a small Fashion-MNIST CNN) and export it to ONNX.

Writes (relative to the repo root unless --out-dir is given):
  models/fashion_cnn.onnx     opset 13, input `input` [batch,1,28,28] f32, output `logits` [batch,10];
                              BatchNormalization nodes are kept (NOT folded) so calibr8's BN folding runs
  models/fashion_cnn.json     {"mean":[m], "std":[s], "classes":[...], "test_top1":..., "train_seconds":..., ...}
  models/fashion_classes.txt  one class name per line

Data: Debian package dataset-fashion-mnist (gzipped IDX files in /usr/share/datasets/fashion-mnist).
Preprocessing: x = (pixel - mean) / std in 0..255 pixel units, mean/std of the training set rounded to
2 decimals (computed and printed here).

Deterministic: everything seeded, deterministic algorithms, 2 intra-op threads, fixed batch order.
Needs Debian's python3-torch (1.13) and python3-onnx (1.12); run with /usr/bin/python3.
"""
import argparse
import gzip
import json
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

DATA_DIR = "/usr/share/datasets/fashion-mnist"
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ----------------------------------------------------------------------------------------------
# data
# ----------------------------------------------------------------------------------------------
def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic = int.from_bytes(raw[0:4], "big")
    if magic >> 8 != 0x08:  # 0x08 = unsigned byte
        raise ValueError(f"{path}: unsupported IDX type 0x{magic:08x}")
    ndim = magic & 0xFF
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise ValueError(f"{path}: size mismatch {data.size} vs {dims}")
    return data.reshape(dims)


def load_split(data_dir, split):
    x = read_idx(os.path.join(data_dir, f"{split}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(data_dir, f"{split}-labels-idx1-ubyte.gz"))
    assert x.shape[0] == y.shape[0] and x.shape[1:] == (28, 28), (x.shape, y.shape)
    return x, y.astype(np.int64)


# ----------------------------------------------------------------------------------------------
# model
# ----------------------------------------------------------------------------------------------
class ConvBNReLU(nn.Sequential):
    def __init__(self, cin, cout, k=3, stride=1):
        super().__init__(
            nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        )


class DSResidual(nn.Module):
    """Depthwise-separable residual block:
    x -> dw3x3(groups=C) -> BN -> ReLU -> pw1x1 -> BN -> (+ x) -> HardSwish
    """

    def __init__(self, c):
        super().__init__()
        self.dw = nn.Conv2d(c, c, 3, padding=1, groups=c, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.pw = nn.Conv2d(c, c, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)
        self.act = nn.Hardswish()

    def forward(self, x):
        y = F.relu(self.bn1(self.dw(x)))
        y = self.bn2(self.pw(y))
        return self.act(x + y)


class FashionCNN(nn.Module):
    def __init__(self, num_classes=10):
        super().__init__()
        self.features = nn.Sequential(
            ConvBNReLU(1, 32, 3, 1),     # 28x28
            ConvBNReLU(32, 64, 3, 2),    # 14x14
            DSResidual(64),              # 14x14
            ConvBNReLU(64, 128, 3, 2),   # 7x7
            DSResidual(128),             # 7x7
        )
        self.pool = nn.AdaptiveAvgPool2d(1)   # -> GlobalAveragePool
        self.fc = nn.Linear(128, num_classes)  # -> Gemm

    def forward(self, x):
        x = self.pool(self.features(x))
        x = torch.flatten(x, 1)
        return self.fc(x)


# ----------------------------------------------------------------------------------------------
def seed_everything(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(2)
    try:
        torch.use_deterministic_algorithms(True)
    except Exception as e:  # pragma: no cover
        print(f"warning: deterministic algorithms unavailable: {e}", file=sys.stderr)
    if hasattr(torch.backends, "cudnn"):
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


@torch.no_grad()
def evaluate(model, x, y, bs=1000):
    model.eval()
    correct = 0
    for i in range(0, x.shape[0], bs):
        correct += (model(x[i:i + bs]).argmax(1) == y[i:i + bs]).sum().item()
    return correct / x.shape[0]


def inline_identity_initializers(m):
    """The exporter de-duplicates bit-identical initializers and re-creates them with Identity nodes
    (happens e.g. for BN stats that are still all ones/zeros). Replace such Identity nodes by copies of
    the initializer so every BatchNormalization reads plain initializers. Returns True if changed."""
    from onnx import numpy_helper
    inits = {t.name: t for t in m.graph.initializer}
    keep, changed = [], False
    for n in m.graph.node:
        if n.op_type == "Identity" and n.input[0] in inits and n.output[0] not in inits:
            arr = numpy_helper.to_array(inits[n.input[0]])
            m.graph.initializer.append(numpy_helper.from_array(arr.copy(), n.output[0]))
            changed = True
        else:
            keep.append(n)
    if changed:
        del m.graph.node[:]
        m.graph.node.extend(keep)
    return changed


def export_onnx(model, path):
    import onnx
    model.eval()
    dummy = torch.zeros(1, 1, 28, 28)
    tmp = path + ".tmp"
    # TrainingMode.PRESERVE with an eval() model: BN is exported in inference form
    # (running stats), but torch 1.13 skips the eval peephole that folds BN into Conv.
    torch.onnx.export(
        model, dummy, tmp,
        input_names=["input"], output_names=["logits"],
        dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=13,
        training=torch.onnx.TrainingMode.PRESERVE,
        do_constant_folding=False,  # nothing to fold in eval form; avoids a PRESERVE-mode warning
    )
    m = onnx.load(tmp)
    if inline_identity_initializers(m):
        onnx.save(m, tmp)
    onnx.checker.check_model(m, full_check=True)
    ops = [n.op_type for n in m.graph.node]
    nbn = ops.count("BatchNormalization")
    if nbn == 0:
        os.unlink(tmp)
        raise RuntimeError("exported ONNX has no BatchNormalization nodes (BN was folded)")
    for n in m.graph.node:
        if n.op_type == "BatchNormalization":
            for a in n.attribute:
                if a.name == "training_mode" and a.i != 0:
                    raise RuntimeError("BatchNormalization exported in training mode")
            if len(n.output) != 1:
                raise RuntimeError("BatchNormalization exported with training outputs")
    os.replace(tmp, path)
    return m, ops


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data-dir", default=DATA_DIR)
    ap.add_argument("--out-dir", default=os.path.join(REPO, "models"))
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=4e-3)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    seed_everything(args.seed)

    xtr_u8, ytr = load_split(args.data_dir, "train")
    xte_u8, yte = load_split(args.data_dir, "t10k")
    print(f"train {xtr_u8.shape} test {xte_u8.shape}")

    px = xtr_u8.astype(np.float64)
    mean_exact, std_exact = float(px.mean()), float(px.std())
    mean, std = round(mean_exact, 2), round(std_exact, 2)
    print(f"train pixel mean {mean_exact:.6f} std {std_exact:.6f} (0..255 units) -> using {mean:.2f} / {std:.2f}")

    def prep(u8):
        return torch.from_numpy(((u8.astype(np.float32) - np.float32(mean)) / np.float32(std))[:, None])

    xtr, xte = prep(xtr_u8), prep(xte_u8)
    ytr_t, yte_t = torch.from_numpy(ytr), torch.from_numpy(yte)

    model = FashionCNN()
    nparams = sum(p.numel() for p in model.parameters())
    print(model)
    print(f"parameters: {nparams}")

    n = xtr.shape[0]
    steps_per_epoch = (n + args.batch_size - 1) // args.batch_size
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=5e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, epochs=args.epochs,
                                                steps_per_epoch=steps_per_epoch, pct_start=0.25)
    gen = torch.Generator().manual_seed(args.seed)

    t0 = time.time()
    for ep in range(args.epochs):
        model.train()
        perm = torch.randperm(n, generator=gen)
        flip = torch.rand(n, generator=gen) < 0.5  # random horizontal flip (seeded)
        tot_loss, tot_ok = 0.0, 0
        te = time.time()
        for i in range(steps_per_epoch):
            idx = perm[i * args.batch_size:(i + 1) * args.batch_size]
            xb = xtr[idx]
            fb = flip[idx]
            xb = torch.where(fb[:, None, None, None], xb.flip(3), xb)
            yb = ytr_t[idx]
            out = model(xb)
            loss = F.cross_entropy(out, yb, label_smoothing=0.05)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            tot_loss += loss.item() * idx.numel()
            tot_ok += (out.argmax(1) == yb).sum().item()
        acc = evaluate(model, xte, yte_t)
        print(f"epoch {ep + 1}/{args.epochs}: loss {tot_loss / n:.4f} train acc {tot_ok / n:.4f} "
              f"test acc {acc:.4f} ({time.time() - te:.1f}s)", flush=True)
    train_seconds = time.time() - t0

    test_top1 = evaluate(model, xte, yte_t)
    print(f"test top-1 (PyTorch, 10k images): {100 * test_top1:.2f} %   training time {train_seconds:.1f} s")

    os.makedirs(args.out_dir, exist_ok=True)
    onnx_path = os.path.join(args.out_dir, "fashion_cnn.onnx")
    _, ops = export_onnx(model, onnx_path)
    size = os.path.getsize(onnx_path)
    hist = {}
    for o in ops:
        hist[o] = hist.get(o, 0) + 1
    print(f"wrote {onnx_path}: {size} bytes, ops {hist}")
    if size >= 1 << 20:
        raise RuntimeError(f"{onnx_path} is {size} bytes (must be < 1 MiB)")

    meta = {
        "mean": [mean],
        "std": [std],
        "classes": CLASSES,
        "input": {"name": "input", "shape": ["batch", 1, 28, 28], "layout": "NCHW", "dtype": "float32",
                  "pixel_range": [0, 255]},
        "output": {"name": "logits", "shape": ["batch", 10]},
        "test_top1": round(test_top1, 4),
        "train_seconds": round(train_seconds, 1),
        "epochs": args.epochs,
        "seed": args.seed,
        "parameters": nparams,
    }
    with open(os.path.join(args.out_dir, "fashion_cnn.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    with open(os.path.join(args.out_dir, "fashion_classes.txt"), "w") as f:
        f.write("\n".join(CLASSES) + "\n")
    print(json.dumps({"test_top1": meta["test_top1"], "train_seconds": meta["train_seconds"]}))


if __name__ == "__main__":
    main()
