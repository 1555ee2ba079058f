#!/usr/bin/env bash
# INT8 speed: calibrates the torchvision benchmark models (seeded random
# weights, build/models) on 100 real images, then runs calibr8 and ONNX
# Runtime on the SAME QDQ file, interleaved (bench/compare_ort.py), plus
# calibr8 FP32 on the parent for the INT8/FP32 speedup.
#   bash bench/int8_vs_ort.sh [--rounds N] [--seconds S]   (extra args go to compare_ort.py)
#   BATCH=8 THREADS=2 bash bench/int8_vs_ort.sh ...          (the issue's second table; default 1 and 1)
#   TARGET=avx2 ONEDNN_MAX_CPU_ISA=AVX2 bash bench/int8_vs_ort.sh ...
#     (the AVX2 path of a bigger CPU: models calibrated for AVX2's 7-bit
#      weights, in build/models/int8-avx2, as an AVX2 machine would make them)
set -euo pipefail
cd "$(dirname "$0")/.."
B=build/calibr8
MODELS=${MODELS:-resnet50,mobilenet_v2,googlenet}
BATCH=${BATCH:-1}
THREADS=${THREADS:-1}
DATA=../shared/data/imagenet-sample-500
PRE="--resize 256 --crop 224 --mean 123.675,116.28,103.53 --std 58.395,57.12,57.375"
TARGET=${TARGET:-auto}
INT8_DIR=build/models/int8
[ "$TARGET" = auto ] || INT8_DIR=build/models/int8-$TARGET
mkdir -p "$INT8_DIR"
for m in ${MODELS//,/ }; do
  out=$INT8_DIR/$m.onnx
  if [ ! -f "$out" ]; then
    echo "calibrating $m (100 images, --target $TARGET)" >&2
    $B calibrate build/models/$m.onnx --dataset "$DATA" --calib-range 0:100 $PRE --preset performance --target "$TARGET" -o "$out" >&2
  fi
done
# % of peak against the INT8 peak of the CPU this runs on, measured now by
# bench/peak_ops.cc: VNNI (vpdpbusd zmm) where the CPU has it, else the AVX2
# u8s8 triple; with ONEDNN_MAX_CPU_ISA=AVX2 the AVX2 one. INT8_PEAK_GOPS overrides.
[ -x build/peak_ops ] && [ build/peak_ops -nt bench/peak_ops.cc ] || g++ -O2 -march=x86-64-v3 bench/peak_ops.cc -o build/peak_ops
peaks=$(build/peak_ops)
key=int8_peak_gops
[ "${ONEDNN_MAX_CPU_ISA:-}" = AVX2 ] && key=u8s8_avx2_gops
peak=${INT8_PEAK_GOPS:-$(/usr/bin/python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$peaks" "$key")}
echo "## INT8 (QDQ file): calibr8 vs ONNX Runtime (peak $peak GOPS, $key; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2))"
echo "peaks: $peaks"
[ -n "${ONEDNN_MAX_CPU_ISA:-}" ] && echo "note: ONEDNN_MAX_CPU_ISA caps calibr8 (oneDNN and its own kernels) only; ONNX Runtime's MLAS still uses every ISA of this CPU, so the ratios compare unlike paths"
/usr/bin/python3 bench/compare_ort.py --model-dir "$INT8_DIR" --models "$MODELS" --batches "$BATCH" --threads "$THREADS" \
  --peak-gflops "$peak" "$@"
fkey=fp32_zmm_gflops
[ "${ONEDNN_MAX_CPU_ISA:-}" = AVX2 ] && fkey=fp32_gflops
fpeak=$(/usr/bin/python3 -c "import json,sys; j=json.loads(sys.argv[1]); print(j[sys.argv[2]] or j['fp32_gflops'])" "$peaks" "$fkey")
echo
echo "## FP32 parents: calibr8 vs ONNX Runtime (peak $fpeak GFLOPS)"
/usr/bin/python3 bench/compare_ort.py --model-dir build/models --models "$MODELS" --batches "$BATCH" --threads "$THREADS" \
  --peak-gflops "$fpeak" "$@"
