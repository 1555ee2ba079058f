#!/usr/bin/env bash
# The main job on the embedded default model (a Fashion-MNIST CNN): baseline,
# INT8 calibration (Default method, performance preset, 300 training images),
# then the calibrated model against its parent on the 10k test images.
set -euo pipefail
cd "$(dirname "$0")/.."
C8_BUILD_TARGET=calibr8 bash scripts/setup.sh  # the binary only, not the test suite
B=build/calibr8
OUT=build/demo
mkdir -p "$OUT"
echo "== calibr8 info default"; $B info default
echo; echo "== baseline: calibr8 evaluate default (Fashion-MNIST test, 10k images)"; $B evaluate default
echo; echo "== baseline: calibr8 bench default"; $B bench default --seconds 2
echo; echo "== calibr8 calibrate default --subset 300 (training images)"
$B calibrate default --method default --preset performance --subset 300 --seed 0 -o "$OUT/fashion_cnn_int8.onnx" --report "$OUT/calibration.json"
echo; echo "== calibr8 compare default $OUT/fashion_cnn_int8.onnx (test images)"
$B compare default "$OUT/fashion_cnn_int8.onnx" --calib-report "$OUT/calibration.json" --report "$OUT/compare.json" --html "$OUT/compare.html"
echo; echo "report: $OUT/compare.html"
