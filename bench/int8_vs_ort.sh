#!/usr/bin/env bash
# INT8 speed: calibrates the torchvision benchmark models (seeded random
# weights, build/models) on 100 real images, then runs calibr8 and ONNX
# Runtime on the SAME QDQ file, interleaved (bench/compare_ort.py), plus
# calibr8 FP32 on the parent for the INT8/FP32 speedup.
#   bash bench/int8_vs_ort.sh [--rounds N] [--seconds S]   (extra args go to compare_ort.py)
set -euo pipefail
cd "$(dirname "$0")/.."
B=build/calibr8
MODELS=${MODELS:-resnet50,mobilenet_v2,googlenet}
DATA=../shared/data/imagenet-sample-500
PRE="--resize 256 --crop 224 --mean 123.675,116.28,103.53 --std 58.395,57.12,57.375"
mkdir -p build/models/int8
for m in ${MODELS//,/ }; do
  out=build/models/int8/$m.onnx
  if [ ! -f "$out" ]; then
    echo "calibrating $m (100 images)" >&2
    $B calibrate build/models/$m.onnx --dataset "$DATA" --calib-range 0:100 $PRE --preset performance -o "$out" >&2
  fi
done
echo "## INT8 (QDQ file): calibr8 vs ONNX Runtime"
# % peak against this machine type's AVX2 u8s8 peak (bench/peak_ops.cc measured 154-184 GOPS per core;
# there is no VNNI here); override with --peak-gflops.
/usr/bin/python3 bench/compare_ort.py --model-dir build/models/int8 --models "$MODELS" --batches 1 --threads 1 \
  --peak-gflops "${INT8_PEAK_GOPS:-170}" "$@"
echo
echo "## FP32 parents: calibr8 vs ONNX Runtime"
/usr/bin/python3 bench/compare_ort.py --model-dir build/models --models "$MODELS" --batches 1 --threads 1 "$@"
