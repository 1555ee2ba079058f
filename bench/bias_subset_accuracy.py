#!/usr/bin/python3
"""Held-out top-1 of calibrated models: bias correction on every calibration
image vs on the first N (--bias-images), over rotating calibration windows.

One split's top-1 moves by a few images with any change of the bias subset
(noise); rotating the calibration window over the data set and pooling the
held-out images of every split tells a systematic loss from that noise.

  /usr/bin/python3 bench/bias_subset_accuracy.py [--bias 0,128] [--splits 5]

For each model, preset and split: calibrate on a window of the data set,
evaluate every other image of it, print pooled correct / total per setting.
"""
import argparse
import json
import subprocess
import sys

B = "build/calibr8"
S = "../shared"
MODELS = {
    # The embedded Fashion-MNIST CNN: split k = 300 training images drawn with --seed k, held out = the test set.
    "fashion": dict(model="default", seeded=True, calib=300, pre=[]),
    "mobilenet_v1_0.25": dict(
        model=f"{S}/models/mobilenet_v1_0.25_224.onnx", data=f"{S}/data/imagenet-sample-500", n=500, calib=200,
        pre=["--size", "224x224", "--mean", "127.5", "--std", "127.5", "--label-offset", "1"]),
    "resnet8": dict(
        model=f"{S}/models/resnet8_cifar10_mlperftiny.onnx", data=f"{S}/data/cifar10-test-2000", n=2000, calib=300,
        pre=["--size", "32x32", "--mean", "0", "--std", "1"]),
}


def run_json(args):
    out = subprocess.run([B] + args + ["--json", "--threads", "2"], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def held_out_correct(q, m, a, b):
    """Correct top-1 count and image count over [0, n) minus [a, b)."""
    if m.get("seeded"):
        d = run_json(["evaluate", q] + m["pre"])
        return round(d["top1"] * d["images"]), d["images"]
    correct = total = 0
    for lo, hi in ((0, a), (b, m["n"])):
        if hi <= lo:
            continue
        d = run_json(["evaluate", q, "--dataset", m["data"], "--range", f"{lo}:{hi}"] + m["pre"])
        correct += round(d["top1"] * d["images"])
        total += d["images"]
    return correct, total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bias", default="0,128", help="--bias-images settings to compare (0 = all)")
    ap.add_argument("--splits", type=int, default=5)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--presets", default="performance,mixed")
    args = ap.parse_args()
    settings = [int(x) for x in args.bias.split(",")]
    q = "build/bench-bias-subset.onnx"
    print("| model | preset | split (calibration window) | FP32 | " + " | ".join(f"bias {s or 'all'}" for s in settings) + " |")
    print("|---|---|---|---|" + "---|" * len(settings))
    for name in args.models.split(","):
        m = MODELS[name]
        for preset in args.presets.split(","):
            pooled = {s: [0, 0] for s in settings + ["fp32"]}
            step = 0 if m.get("seeded") else (m["n"] - m["calib"]) // max(1, args.splits - 1)
            for k in range(args.splits):
                a = k * step
                b = a + m["calib"]
                where = ["--subset", str(m["calib"]), "--seed", str(k)] if m.get("seeded") else \
                    ["--dataset", m["data"], "--calib-range", f"{a}:{b}"]
                c, t = held_out_correct(m["model"], m, a, b)
                pooled["fp32"][0] += c
                pooled["fp32"][1] += t
                row = [f"{100.0 * c / t:.2f}"]
                for s in settings:
                    subprocess.run([B, "calibrate", m["model"]] + where + [
                                    "--preset", preset, "--bias-images", str(s), "-o", q, "--threads", "2"] + m["pre"],
                                   check=True, capture_output=True)
                    c, t = held_out_correct(q, m, a, b)
                    pooled[s][0] += c
                    pooled[s][1] += t
                    row.append(f"{100.0 * c / t:.2f} ({c}/{t})")
                split = f"seed {k}" if m.get("seeded") else f"{a}:{b}"
                print(f"| {name} | {preset} | {split} | " + " | ".join(row) + " |", flush=True)
            print(f"| {name} | {preset} | **pooled** | " +
                  " | ".join(f"**{100.0 * pooled[s][0] / pooled[s][1]:.2f}** ({pooled[s][0]}/{pooled[s][1]})"
                             for s in ["fp32"] + settings) + " |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
