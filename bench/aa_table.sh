#!/usr/bin/env bash
# AccuracyAware on the shared models, both rankings: FP32, Default and final
# metric, INT8 layer share, speed-up against FP32 and Default, wall time,
# evaluations, and the drop on a held-out fifth of the decision images; then
# the two rankings' final models against each other, timed interleaved by
# `calibr8 compare` (batch 1), since each row's own speed-ups come from
# separate, noisy latency runs.
#   bash bench/aa_table.sh            (THREADS=2 by default; RUNS=name,name to pick rows)
set -euo pipefail
cd "$(dirname "$0")/.."
B=build/calibr8
S=../shared
THREADS=${THREADS:-2}
OUT=$(mktemp -d)
trap 'rm -rf "$OUT"' EXIT
# name | model | calibrate arguments
RUNS_ALL=(
  "mobilenet_v1_0.25 per-tensor|$S/models/mobilenet_v1_0.25_224.onnx|--dataset $S/data/imagenet-sample-500 --calib-range 0:200 --size 224x224 --mean 127.5 --std 127.5 --label-offset 1 --weight-granularity per-tensor --max-drop 0.5"
  "mobilenet_v1_0.25 max-drop 0.2|$S/models/mobilenet_v1_0.25_224.onnx|--dataset $S/data/imagenet-sample-500 --calib-range 0:200 --size 224x224 --mean 127.5 --std 127.5 --label-offset 1 --max-drop 0.2"
  "mobilenet_v1_0.25 mixed|$S/models/mobilenet_v1_0.25_224.onnx|--dataset $S/data/imagenet-sample-500 --calib-range 0:200 --size 224x224 --mean 127.5 --std 127.5 --label-offset 1 --preset mixed --max-drop 0.5"
  "resnet8 max-drop 0|$S/models/resnet8_cifar10_mlperftiny.onnx|--dataset $S/data/cifar10-test-2000 --calib-range 0:300 --size 32x32 --mean 0 --std 1 --max-drop 0"
  "fashion default max-drop 0|default|--subset 300 --seed 0 --max-drop 0"
  "fastestdet mAP max-drop 0.5|$S/models/fastestdet_coco_352.onnx|--dataset $S/data/indoor-det-85 --calib-range 0:40 --size 352x352 --mean 0 --std 255 --color bgr --max-drop 0.5"
)
SPEED=()
echo "## AccuracyAware ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $THREADS threads, --holdout 20%)"
echo
echo "| run | ranking | metric | FP32 | Default | final | met | reverted | INT8 share | x FP32 | x Default | wall s | evals | ranking / sensitivity passes | held-out drop |"
echo "|---|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for row in "${RUNS_ALL[@]}"; do
  IFS='|' read -r name model args <<<"$row"
  if [ -n "${RUNS:-}" ] && [[ ",$RUNS," != *",$name,"* ]]; then continue; fi
  for ranking in accuracy performance; do
    j="$OUT/r.json"
    # exit 1 = bound not met (the best model is still written): a result, not a failure
    $B calibrate "$model" $args --method accuracy-aware --ranking $ranking --holdout 20% --threads "$THREADS" \
      -o "$OUT/$ranking.onnx" --json >"$j" 2>"$OUT/err" || [ $? -eq 1 ] || { cat "$OUT/err" >&2; exit 1; }
    /usr/bin/python3 - "$j" "$name" "$ranking" <<'EOF'
import json, sys
a = json.load(open(sys.argv[1]))["accuracy_aware"]
h = a.get("holdout", {})
pct = lambda v: "%.2f" % (100 * v)
print("| %s | %s | %s | %s | %s | %s | %s | %d of %d | %.0f %% | %.2f | %.2f | %.1f | %d | %d / %d | %s |" % (
    sys.argv[2], sys.argv[3], a["metric_label"], pct(a["fp32"]), pct(a["default"]), pct(a["final"]),
    "yes" if a["met"] else "no", len(a["reverted"]), a["layers"], 100 * a["int8_share"], a["speedup_vs_fp32"],
    a["speedup_vs_default"], a["seconds"], a["evaluations"], a["ranking_evaluations"], a["sensitivity_passes"],
    (pct(h["drop"]) + " pt on %d" % h["images"]) if h else "-"))
EOF
  done
  # The data set flags of the row (compare needs images; 8 are enough for speed).
  cargs=$(sed -e 's/--calib-range [^ ]*//; s/--max-drop [^ ]*//; s/--weight-granularity [^ ]*//; s/--preset [^ ]*//; s/--subset [^ ]*//; s/--seed [^ ]*//' <<<"$args")
  [ "$model" = default ] && cargs="--dataset /usr/share/datasets/fashion-mnist:test"  # the embedded model's test set
  if cmp -s "$OUT/accuracy.onnx" "$OUT/performance.onnx"; then
    SPEED+=("| $name | the same file (cmp) | 1 | 1 |")
  else
    sp=()
    for t in 1 "$THREADS"; do
      # a failed comparison prints its reason and leaves "-" in the table, not a silent exit (set -e)
      sp+=("$($B compare "$OUT/accuracy.onnx" "$OUT/performance.onnx" $cargs --limit 8 --no-layers --seconds 6 --threads "$t" \
        --json 2>"$OUT/cerr" | /usr/bin/python3 -c "import json,sys; v=json.load(sys.stdin)['speed'].get('speedup'); print('-' if v is None else '%.3f' % v)" \
        || { cat "$OUT/cerr" >&2; echo "-"; })")
    done
    SPEED+=("| $name | different models | ${sp[0]} | ${sp[1]} |")
  fi
done
echo
echo "performance-ranked model against the accuracy-ranked one (speed-up > 1: the performance ranking's model is faster; batch 1, interleaved)"
echo
echo "| run | final models | speed-up, 1 thread | speed-up, $THREADS threads |"
echo "|---|---|---:|---:|"
printf '%s\n' "${SPEED[@]}"
