#!/bin/sh
# Peer post-training-quantization baselines against calibr8, on three models with fixed splits.
#
#   sh bench/peers.sh            (from anywhere; ~3-4 min on 2 shared cores; everything runs under nice -n 10)
#
# Prints one markdown table: model | split | FP32 (per pipeline) | ORT-MinMax INT8 | PyTorch PTQ INT8 |
# calibr8 performance | calibr8 mixed, drops in points = FP32 - INT8 of the *same* pipeline, plus a table of
# diagnostics (same calibrated models executed with exact QDQ/reference arithmetic, non-default variants).
#   ORT-MinMax : scripts/peers/ort_minmax_qdq.py  (re-implemented quantize_static defaults, executed by
#                onnxruntime-node 1.30 from scripts/ort/node_modules)
#   PyTorch PTQ: scripts/peers/torch_ptq.py       (torch 1.13 FX prepare_fx/convert_fx, default 'onednn'
#                qconfig mapping, 'onednn' engine: Debian's torch has no fbgemm)
#   calibr8    : build/calibr8 calibrate/evaluate (CLI, same splits and pre-processing flags as
#                tests/quant/calibrate_test.cc)
# Splits: mobilenet_v1_0.25_224 on imagenet-sample-500 calibrates on list entries 0:200 and validates on
# 200:500; resnet8 on cifar10-test-2000 on 0:300 / 300:2000; the Fashion-MNIST default model on the 300
# training images calibr8 picks with --subset 300 --seed 0 (indices from its --report JSON), validated on
# the 10k test images.  Outputs go to build/peers/ (gitignored).
# Env: CALIBR8 (default build/calibr8), SHARED_DIR (default ../shared beside the repo), PY (default /usr/bin/python3).
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
C8=${CALIBR8:-$ROOT/build/calibr8}
S=${SHARED_DIR:-$(cd "$ROOT/.." && pwd)/shared}
PY=${PY:-/usr/bin/python3}
N="nice -n 10"
OUT=$ROOT/build/peers
mkdir -p "$OUT"
export SHARED_DIR="$S"
T0=$(date +%s)
log() { printf '[peers %4ds] %s\n' $(( $(date +%s) - T0 )) "$*" >&2; }

MN_FLAGS="--size 224x224 --mean 127.5 --std 127.5 --label-offset 1"
R8_FLAGS="--size 32x32 --mean 0 --std 1"

# ---- calibr8 (both presets) -------------------------------------------------------------------------------
c8_eval() {  # name model dataset-args... -> $OUT/c8_<name>.eval.json
  name=$1; shift
  $N "$C8" evaluate "$@" --json > "$OUT/c8_$name.eval.json"
}
for preset in performance mixed; do
  log "calibr8 $preset: mobilenet, resnet8, fashion"
  $N "$C8" calibrate "$S/models/mobilenet_v1_0.25_224.onnx" --dataset "$S/data/imagenet-sample-500" $MN_FLAGS \
    --calib-range 0:200 --preset $preset -o "$OUT/c8_mobilenet_$preset.onnx" --json > "$OUT/c8_mobilenet_$preset.json" 2>/dev/null
  c8_eval mobilenet_$preset "$OUT/c8_mobilenet_$preset.onnx" --dataset "$S/data/imagenet-sample-500" $MN_FLAGS --range 200:
  $N "$C8" calibrate "$S/models/resnet8_cifar10_mlperftiny.onnx" --dataset "$S/data/cifar10-test-2000" $R8_FLAGS \
    --calib-range 0:300 --preset $preset -o "$OUT/c8_resnet8_$preset.onnx" --json > "$OUT/c8_resnet8_$preset.json" 2>/dev/null
  c8_eval resnet8_$preset "$OUT/c8_resnet8_$preset.onnx" --dataset "$S/data/cifar10-test-2000" $R8_FLAGS --range 300:
  $N "$C8" calibrate default --method default --preset $preset --subset 300 --seed 0 \
    -o "$OUT/c8_fashion_$preset.onnx" --report "$OUT/c8_fashion_$preset.report.json" > /dev/null
  c8_eval fashion_$preset "$OUT/c8_fashion_$preset.onnx"   # default data set of the embedded model: test split
done
log "calibr8 FP32"
c8_eval mobilenet_fp32 "$S/models/mobilenet_v1_0.25_224.onnx" --dataset "$S/data/imagenet-sample-500" $MN_FLAGS --range 200:
c8_eval resnet8_fp32 "$S/models/resnet8_cifar10_mlperftiny.onnx" --dataset "$S/data/cifar10-test-2000" $R8_FLAGS --range 300:
c8_eval fashion_fp32 default
# the Fashion calibration images of every pipeline = the ones calibr8 picked (same seed -> same indices)
FREP="$OUT/c8_fashion_performance.report.json"

# ---- peers ------------------------------------------------------------------------------------------------
for m in mobilenet resnet8 fashion; do
  log "ORT MinMax QDQ (defaults): $m"
  $N $PY scripts/peers/ort_minmax_qdq.py $m --fashion-report "$FREP" --json "$OUT/ort_$m.json" > /dev/null 2>"$OUT/ort_$m.log"
  log "ORT MinMax QDQ, QUInt8 activations (older default) and per_channel=True (not default): $m"
  $N $PY scripts/peers/ort_minmax_qdq.py $m --fashion-report "$FREP" --act-type uint8 \
    --json "$OUT/ort_${m}_uint8.json" > /dev/null 2>>"$OUT/ort_$m.log"
  $N $PY scripts/peers/ort_minmax_qdq.py $m --fashion-report "$FREP" --per-channel \
    --json "$OUT/ort_${m}_perchannel.json" > /dev/null 2>>"$OUT/ort_$m.log"
  log "PyTorch FX PTQ (onednn): $m"
  $N $PY scripts/peers/torch_ptq.py $m --fashion-report "$FREP" --json "$OUT/torch_$m.json" > /dev/null 2>"$OUT/torch_$m.log"
done

# ---- table ------------------------------------------------------------------------------------------------
$PY - "$OUT" <<'EOF'
import json, os, sys
sys.path.insert(0, "scripts/peers")
import data
out = sys.argv[1]
J = lambda f: json.load(open(os.path.join(out, f)))
names = {"mobilenet": "mobilenet_v1_0.25_224 (imagenet-sample-500)", "resnet8": "resnet8 MLPerf-Tiny (cifar10-test-2000)",
         "fashion": "fashion_cnn default (Fashion-MNIST)"}
def cell(fp, q):
    return "%.2f (%.2f)" % (100 * q, 100 * (fp - q))
print("| model | split | FP32 top-1 % (ORT / PyTorch / calibr8) | ORT-MinMax INT8 (drop) | PyTorch PTQ INT8 (drop) "
      "| calibr8 performance (drop) | calibr8 mixed (drop) |")
print("|---|---|---|---|---|---|---|")
diag = []
for m in ("mobilenet", "resnet8", "fashion"):
    o, t = J(f"ort_{m}.json"), J(f"torch_{m}.json")
    c8fp = J(f"c8_{m}_fp32.eval.json")["top1"]
    c8p, c8m = J(f"c8_{m}_performance.eval.json")["top1"], J(f"c8_{m}_mixed.eval.json")["top1"]
    print(f"| {names[m]} | {o['split']} (n={o['val_images']}) | {100*o['fp32_top1']:.2f} / {100*t['fp32_top1']:.2f} / "
          f"{100*c8fp:.2f} | {cell(o['fp32_top1'], o['int8_top1'])} | {cell(t['fp32_top1'], t['int8_top1'])} | "
          f"{cell(c8fp, c8p)} | {cell(c8fp, c8m)} |")
    u, pc = J(f"ort_{m}_uint8.json"), J(f"ort_{m}_perchannel.json")
    diag.append(f"| {m} | {cell(o['fp32_top1'], o['int8_top1_qdq_reference'])} | {cell(u['fp32_top1'], u['int8_top1'])} | "
                f"{cell(pc['fp32_top1'], pc['int8_top1'])} / ref {cell(pc['fp32_top1'], pc['int8_top1_qdq_reference'])} | "
                f"{cell(t['fp32_top1'], t['int8_top1_reference'])} | {o['top1_ties_int8']} / {t['top1_ties_int8']} |")
print()
print("Diagnostics (not the peers' default numbers): 'ref' = the same calibrated model run with exact quantize/"
      "dequantize arithmetic around float ops (ORT with graph optimisations disabled; PyTorch convert_to_reference_fx), "
      "i.e. without int8 kernels.")
print()
print("| model | ORT default, ref | ORT QUInt8 activations | ORT per_channel=True (kernels / ref) | PyTorch PTQ, ref "
      "| top-1 ties in INT8 output (ORT / PyTorch) |")
print("|---|---|---|---|---|---|")
for d in diag:
    print(d)
EOF
log "done"
