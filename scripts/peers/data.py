#!/usr/bin/python3
"""Data sets, splits and pre-processing shared by the peer PTQ baselines (ort_minmax_qdq.py, torch_ptq.py).

Every peer must see exactly the same float32 NCHW tensors, so decoding and normalisation live here once:

* the two shared classifiers use the pre-processing of ../shared/tools/eval_classification.py
  (PIL decode -> RGB, images are already SxS, x = (pixel - mean) / std in 0..255 units, NCHW float32,
  label index + label_offset = model output index).  Re-implemented here line for line because that tool
  parses its command line at import time.
* the embedded default model (models/fashion_cnn.onnx) uses the training script's normalisation
  (scripts/train_default.py: x = (pixel - mean) / std with mean/std from models/fashion_cnn.json), on the
  gzipped IDX files of the Debian package dataset-fashion-mnist.

Splits ("calibrate on the first N of labels.txt, validate on the rest", shared/README.md) and the Fashion
calibration indices (the 300 training images calibr8 picks with --subset 300 --seed 0, read from its JSON
report) are resolved by `load_split`.
"""
import gzip
import json
import os

import numpy as np

SHARED = os.environ.get("SHARED_DIR", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared"))
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FASHION_DIR = "/usr/share/datasets/fashion-mnist"

# name -> model path, data, pre-processing, FP32 split
MODELS = {
    "mobilenet": dict(model=os.path.join(SHARED, "models/mobilenet_v1_0.25_224.onnx"),
                      data=os.path.join(SHARED, "data/imagenet-sample-500"),
                      size=224, mean=127.5, std=127.5, label_offset=1, calib=200),
    "resnet8": dict(model=os.path.join(SHARED, "models/resnet8_cifar10_mlperftiny.onnx"),
                    data=os.path.join(SHARED, "data/cifar10-test-2000"),
                    size=32, mean=0.0, std=1.0, label_offset=0, calib=300),
    "fashion": dict(model=os.path.join(REPO, "models/fashion_cnn.onnx"),
                    data=FASHION_DIR, size=28, label_offset=0),
}


def _labelled_folder(d, size, mean, std, label_offset, idx):
    """Same decode + normalisation as shared/tools/eval_classification.py."""
    from PIL import Image
    rows = [l.split() for l in open(os.path.join(d, "labels.txt")) if l.strip()]
    mean = np.array([mean], np.float32).reshape(-1, 1, 1)
    std = np.array([std], np.float32).reshape(-1, 1, 1)
    xs, ys = [], []
    for i in idx:
        rel, lab = rows[i]
        im = Image.open(os.path.join(d, rel)).convert("RGB")
        assert im.size == (size, size), (rel, im.size)
        x = np.asarray(im, np.float32).transpose(2, 0, 1)
        xs.append(((x - mean) / std).astype(np.float32))
        ys.append(int(lab) + label_offset)
    return np.stack(xs), np.array(ys, np.int64)


def _count(d):
    return sum(1 for l in open(os.path.join(d, "labels.txt")) if l.strip())


def read_idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic = int.from_bytes(raw[0:4], "big")
    assert magic >> 8 == 0x08, path  # unsigned byte data
    ndim = magic & 0xFF
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(dims)


def _fashion(split, idx):
    meta = json.load(open(os.path.join(REPO, "models/fashion_cnn.json")))
    mean, std = np.float32(meta["mean"][0]), np.float32(meta["std"][0])
    x = read_idx(os.path.join(FASHION_DIR, f"{split}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(FASHION_DIR, f"{split}-labels-idx1-ubyte.gz")).astype(np.int64)
    if idx is None:
        idx = np.arange(len(x))
    idx = np.asarray(idx)
    xs = ((x[idx].astype(np.float32) - mean) / std)[:, None, :, :]
    return np.ascontiguousarray(xs, np.float32), y[idx]


def fashion_calib_indices(report):
    """Training-set indices calibr8 used (calibrate --subset 300 --seed 0 --report REPORT)."""
    r = json.load(open(report))
    return [int(i) for i in r["images"]["indices"]]


def load_split(name, which, fashion_report=None):
    """which: 'calib' or 'val'. Returns (x float32 NCHW, labels as model output indices)."""
    m = MODELS[name]
    if name == "fashion":
        if which == "calib":
            if not fashion_report:
                raise SystemExit("fashion calibration needs --fashion-report (calibr8 calibrate --report JSON)")
            return _fashion("train", fashion_calib_indices(fashion_report))
        return _fashion("t10k", None)
    n = _count(m["data"])
    idx = range(0, m["calib"]) if which == "calib" else range(m["calib"], n)
    return _labelled_folder(m["data"], m["size"], m["mean"], m["std"], m["label_offset"], idx)


def split_label(name):
    m = MODELS[name]
    if name == "fashion":
        return "calib 300 train (calibr8 subset, seed 0) / val 10k test"
    n = _count(m["data"])
    return f"calib 0:{m['calib']} / val {m['calib']}:{n}"
