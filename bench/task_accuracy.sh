#!/usr/bin/env bash
# Every shared model, its task's metric in FP32 and after Default INT8
# calibration (performance preset) on the first images, validated on the
# others; the INT8 output's cosine to FP32 (mean over the held-out images);
# and the same held-out split scored by ONNX Runtime with the shared scorers
# (../shared/tools) on the FP32 file and on calibr8's QDQ file.
#
#   bash bench/task_accuracy.sh          (THREADS=2 by default)
#
# The FP32 column on the whole data set is calibr8's own (stb image
# decoding); ../shared/ASSETS.md's references come from PIL / libjpeg.
set -euo pipefail
cd "$(dirname "$0")/.."
B=build/calibr8
S=$(cd ../shared && pwd)
THREADS=${THREADS:-2}
OUT=build/bench-tasks
mkdir -p "$OUT"
export ORT_NODE_MODULES=${ORT_NODE_MODULES:-$PWD/scripts/ort/node_modules}
[ -x "$B" ] || { echo "build first: bash scripts/setup.sh" >&2; exit 1; }
field() { /usr/bin/python3 -c "import json,sys; d=json.load(sys.stdin); print(eval('d'+sys.argv[1]))" "$1"; }

# name | model | data | preprocessing | calibration images | ASSETS.md reference | scorer | scorer args | metric key
CASES=(
  "mobilenet_v1_0.25|mobilenet_v1_0.25_224.onnx|imagenet-sample-500|--size 224x224 --mean 127.5 --std 127.5 --label-offset 1|200|0.5500|eval_classification.py|--size 224 --mean 127.5 --std 127.5 --label-offset 1|top1"
  "resnet8|resnet8_cifar10_mlperftiny.onnx|cifar10-test-2000|--size 32x32 --mean 0 --std 1|300|0.7640|eval_classification.py|--size 32 --mean 0 --std 1|top1"
  "fastestdet|fastestdet_coco_352.onnx|indoor-det-85|--size 352x352 --mean 0 --std 255 --color bgr|40|0.1877|eval_detection_fastestdet.py||map50"
  "deeplabv3|deeplabv3_mnv2_dm05_voc_257.onnx|voc2012-seg-3|--size 257x257 --mean 127.5 --std 127.5|1|0.9129|eval_segmentation_deeplab.py||miou"
)

# A copy of data set $1 (list.txt / labels.txt and classes.txt) holding only
# its entries from line $2 on (0-based), for the shared scorers, which score
# whole data sets. Images and annotations are linked, not copied.
held_out() {
  local src=$S/data/$1 dst=$OUT/$1.heldout first=$2
  rm -rf "$dst"; mkdir -p "$dst"
  for f in "$src"/*; do
    case "$(basename "$f")" in
      list.txt|labels.txt) tail -n +"$((first + 1))" "$f" >"$dst/$(basename "$f")" ;;
      *) ln -s "$f" "$dst/$(basename "$f")" ;;
    esac
  done
  echo "$dst"
}

# The metric a shared scorer prints on its summary line ("top1=0.5660",
# "mAP@0.5(VOC all-point)=0.1877", "mIoU=0.9129").
scorer_metric() {
  case "$2" in
    top1) grep -oE 'top1=[0-9.]+' "$1" | tail -1 | cut -d= -f2 ;;
    map50) grep -oE 'all-point\)=[0-9.]+' "$1" | tail -1 | cut -d= -f2 ;;
    miou) grep -oE 'mIoU=[0-9.]+' "$1" | tail -1 | cut -d= -f2 ;;
  esac
}

echo "CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $THREADS threads"
echo
echo "| model | task | FP32, all images: calibr8 (ASSETS.md) | held-out images | FP32 | INT8 | drop | output cosine | ORT FP32 | ORT INT8 (calibr8's QDQ) | ORT drop |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for c in "${CASES[@]}"; do
  IFS='|' read -r name model data pre n ref scorer sargs key <<<"$c"
  m=$S/models/$model
  # shellcheck disable=SC2086
  all=$($B evaluate "$m" --dataset "$S/data/$data" $pre --threads "$THREADS" --json 2>/dev/null)
  task=$(echo "$all" | field "['task']")
  fp_all=$(echo "$all" | field "['$key']")
  # shellcheck disable=SC2086
  $B calibrate "$m" --dataset "$S/data/$data" --calib-range "0:$n" $pre --threads "$THREADS" -o "$OUT/$name.int8.onnx" >/dev/null 2>&1
  # shellcheck disable=SC2086
  cmpj=$($B compare "$m" "$OUT/$name.int8.onnx" --dataset "$S/data/$data" --range "$n:" $pre --threads "$THREADS" \
    --no-speed --layer-images 1 --json 2>/dev/null)
  fa=$(echo "$cmpj" | field "['accuracy']['a']")
  fb=$(echo "$cmpj" | field "['accuracy']['b']")
  images=$(echo "$cmpj" | field "['dataset']['images']")
  cosine=$(echo "$cmpj" | field "['agreement']['outputs'][0]['cosine']")
  h=$(held_out "$data" "$n")
  # shellcheck disable=SC2086
  /usr/bin/python3 "$S/tools/$scorer" "$m" "$h" $sargs >"$OUT/$name.ort_fp32.txt" 2>&1 || true
  # shellcheck disable=SC2086
  /usr/bin/python3 "$S/tools/$scorer" "$OUT/$name.int8.onnx" "$h" $sargs >"$OUT/$name.ort_int8.txt" 2>&1 || true
  oa=$(scorer_metric "$OUT/$name.ort_fp32.txt" "$key"); ob=$(scorer_metric "$OUT/$name.ort_int8.txt" "$key")
  od=$( [ -n "$oa" ] && [ -n "$ob" ] && echo "$oa - $ob" | bc -l || echo "")
  printf "| %s | %s | %.4f (%s) | %s: (%s) | %.4f | %.4f | %+.4f | %.4f | %s | %s | %s |\n" "$name" "$task" "$fp_all" "$ref" \
    "$n" "$images" "$fa" "$fb" "$(echo "$fa - $fb" | bc -l)" "$cosine" "${oa:-?}" "${ob:-?}" "${od:-?}"
done
