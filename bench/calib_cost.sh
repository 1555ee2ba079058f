#!/usr/bin/env bash
# Calibration cost against one FP32 pass over the same images, and peak RSS
# at 300 vs 3000 calibration images (memory must not grow with the subset).
#
#   bash bench/calib_cost.sh [--rounds R]   (THREADS=2 for the real-size section)
#
# "One FP32 pass" is `calibr8 evaluate` over the same images at the same batch
# (its wall_seconds: decoding + preprocessing + inference, as the calibration
# passes also decode). Calibration time is the report's seconds.total
# (statistics + bias correction + building the QDQ graph + saving). Rounds are
# interleaved; medians are printed.
set -euo pipefail
cd "$(dirname "$0")/.."
B=build/calibr8
S=../shared
ROUNDS=3
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) ROUNDS="$2"; shift 2 ;;
    *) echo "usage: $0 [--rounds R]" >&2; exit 2 ;;
  esac
done
[ -x "$B" ] || { echo "build first: bash scripts/setup.sh" >&2; exit 1; }
OUT=build/bench-calib
mkdir -p "$OUT"
FASHION_TRAIN=/usr/share/datasets/fashion-mnist:train

# name | calibrate args | evaluate args (same images, same batch)
CASES=(
  "default (Fashion CNN), 300 train images|default --subset 300 --seed 0 --batch 32|default --dataset $FASHION_TRAIN --range 0:300 --batch 32"
  "resnet8, cifar10 0:300|$S/models/resnet8_cifar10_mlperftiny.onnx --dataset $S/data/cifar10-test-2000 --calib-range 0:300 --size 32x32 --mean 0 --std 1|$S/models/resnet8_cifar10_mlperftiny.onnx --dataset $S/data/cifar10-test-2000 --range 0:300 --size 32x32 --mean 0 --std 1"
  "mobilenet_v1_0.25, imagenet 0:200|$S/models/mobilenet_v1_0.25_224.onnx --dataset $S/data/imagenet-sample-500 --calib-range 0:200 --size 224x224 --mean 127.5 --std 127.5 --label-offset 1|$S/models/mobilenet_v1_0.25_224.onnx --dataset $S/data/imagenet-sample-500 --range 0:200 --size 224x224 --mean 127.5 --std 127.5 --label-offset 1"
)

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
field() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d'+sys.argv[1]))" "$1"; }

echo "| model | FP32 pass s | statistics s | bias corr. s | calibration total s | total / FP32 pass |"
echo "|---|---|---|---|---|---|"
for c in "${CASES[@]}"; do
  IFS='|' read -r name cargs eargs <<<"$c"
  : >"$OUT/fp"; : >"$OUT/st"; : >"$OUT/bc"; : >"$OUT/tot"
  for _ in $(seq "$ROUNDS"); do
    # shellcheck disable=SC2086
    $B evaluate $eargs --json 2>/dev/null | field "['wall_seconds']" >>"$OUT/fp"
    # shellcheck disable=SC2086
    $B calibrate $cargs -o "$OUT/q.onnx" --json 2>/dev/null >"$OUT/c.json"
    field "['seconds']['statistics']" <"$OUT/c.json" >>"$OUT/st"
    field "['seconds']['bias_correction']" <"$OUT/c.json" >>"$OUT/bc"
    field "['seconds']['total']" <"$OUT/c.json" >>"$OUT/tot"
  done
  fp=$(median <"$OUT/fp"); st=$(median <"$OUT/st"); bc=$(median <"$OUT/bc"); tot=$(median <"$OUT/tot")
  printf "| %s | %.3f | %.3f | %.3f | %.3f | %.2fx |\n" "$name" "$fp" "$st" "$bc" "$tot" "$(echo "$tot / $fp" | bc -l)"
done

echo
echo "Peak RSS of calibr8 calibrate default (Fashion CNN, training images):"
for n in 300 3000; do
  /usr/bin/time -f "%M" -o "$OUT/rss" $B calibrate default --subset "$n" --seed 0 -o "$OUT/q$n.onnx" >/dev/null 2>&1
  echo "  --subset $n: $(( $(cat "$OUT/rss") / 1024 )) MB"
done

# ---- Real-size models (issue "calibration at the speed of inference") ----------------------------------
# torchvision resnet50 and mobilenet_v2 (scripts/export_torchvision.py, seeded weights), the first N images
# of imagenet-sample-500, same threads for both commands. "FP32 pass" = `calibr8 evaluate` over the same
# images (its default batch); calibration at --batch 8 and 32. Wall time and peak RSS from /usr/bin/time.
# Targets: calibration <= 2.0x the FP32 pass; peak RSS <= 1.5x its and flat over N and --batch.
[ -f build/models/resnet50.onnx ] || /usr/bin/python3 scripts/export_torchvision.py build/models >&2
DATA=$S/data/imagenet-sample-500
PRE="--resize 256 --crop 224 --mean 123.675,116.28,103.53 --std 58.395,57.12,57.375"
THREADS=${THREADS:-2}
timed() {  # file-prefix command... -> "$1.s" wall seconds, "$1.kb" peak RSS
  local p=$1; shift
  /usr/bin/time -f "%e %M" -o "$p.t" "$@" >/dev/null 2>&1
  read -r s kb <"$p.t"
  echo "$s" >>"$p.s"; echo "$kb" >>"$p.kb"
}
echo
echo "Real-size models, $THREADS threads ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')):"
echo
echo "| model | images | FP32 pass s / MB | calibrate b8 s / MB | b8 / FP32 | calibrate b32 s / MB | b32 / FP32 | RSS b32 / FP32 |"
echo "|---|---|---|---|---|---|---|---|"
for m in resnet50 mobilenet_v2; do
  for n in 64 300; do
    rm -f "$OUT"/rs_*
    for _ in $(seq "$ROUNDS"); do
      timed "$OUT/rs_e" $B evaluate build/models/$m.onnx --dataset "$DATA" --range 0:$n $PRE --threads "$THREADS"
      for b in 8 32; do
        timed "$OUT/rs_c$b" $B calibrate build/models/$m.onnx --dataset "$DATA" --calib-range 0:$n $PRE \
          --threads "$THREADS" --batch $b -o "$OUT/rs_q.onnx"
      done
    done
    es=$(median <"$OUT/rs_e.s"); emb=$(( $(median <"$OUT/rs_e.kb" | cut -d. -f1) / 1024 ))
    c8s=$(median <"$OUT/rs_c8.s"); c8mb=$(( $(median <"$OUT/rs_c8.kb" | cut -d. -f1) / 1024 ))
    c32s=$(median <"$OUT/rs_c32.s"); c32mb=$(( $(median <"$OUT/rs_c32.kb" | cut -d. -f1) / 1024 ))
    printf "| %s | %d | %.2f / %d | %.2f / %d | %.2fx | %.2f / %d | %.2fx | %.2fx |\n" "$m" "$n" "$es" "$emb" \
      "$c8s" "$c8mb" "$(echo "$c8s / $es" | bc -l)" "$c32s" "$c32mb" "$(echo "$c32s / $es" | bc -l)" \
      "$(echo "$c32mb / $emb" | bc -l)"
  done
done
