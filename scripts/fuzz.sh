#!/usr/bin/env bash
# libFuzzer runs of the fuzz targets in tests/fuzz (see tests/fuzz/README.md).
#   bash scripts/fuzz.sh [--seconds N] [--jobs J] [--keep-going] [TARGET ...]
# Builds build-fuzz/ with clang (libFuzzer + ASan + UBSan), then fuzzes every
# TARGET (default: all) for N seconds (default 1800), J targets at a time
# (default 1); --keep-going: libFuzzer's fork mode, which records a crash and
# goes on (the full N seconds even when something is found). Seeds: the kept corpus tests/corpus/fuzz/TARGET plus inputs
# taken from the ONNX conformance models and ../shared. Crashers land in
# build-fuzz/findings/TARGET/; each run appends a line to tests/fuzz/log.tsv
# (the fuzzing hours so far). Exit 1 when any target found something.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=1800 jobs=1 targets=() keep=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --jobs) jobs="$2"; shift 2 ;;
    --keep-going) keep=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1); shift ;;
    *) targets+=("$1"); shift ;;
  esac
done
[ ${#targets[@]} -gt 0 ] || targets=(onnx_import image text_dataset idx json_config)

need=()
for p in clang libfuzzer-14-dev libomp-14-dev; do dpkg -s "$p" >/dev/null 2>&1 || need+=("$p"); done
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
fi
bash scripts/setup.sh >/dev/null  # the project's own packages

CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DC8_FUZZ=ON >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]/#/fuzz_}" >&2

# Seeds beyond the kept corpus (not committed: they come from installed packages and ../shared).
seeds=build-fuzz/seeds
rm -rf "$seeds"; mkdir -p "$seeds"/{onnx_import,image}
# (mapfile, not "| head": head closing the pipe early fails the script under pipefail)
mapfile -t models < <(find /usr/share/libonnx-testdata/data/node -name model.onnx -size -16k 2>/dev/null | sort)
for f in "${models[@]:0:400}"; do cp "$f" "$seeds/onnx_import/$(basename "$(dirname "$f")").onnx"; done
images=()
[ -d ../shared/data ] && mapfile -t images < <(find ../shared/data -type f \( -name '*.png' -o -name '*.jpg' \) -size -24k | sort)
for f in "${images[@]:0:40}"; do cp "$f" "$seeds/image/"; done

mkdir -p tests/fuzz
[ -f tests/fuzz/log.tsv ] || printf 'date\ttarget\tseconds\texecs\tcorpus\tfindings\tcpu\n' > tests/fuzz/log.tsv
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//'), family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | tr -d ' ')$(grep -qw avx512_vnni /proc/cpuinfo && echo ', avx512_vnni')"
export UBSAN_OPTIONS=print_stacktrace=1 ASAN_OPTIONS=detect_leaks=0
run_one() {
  local t=$1 dir=build-fuzz
  mkdir -p "$dir/corpus/$t" "$dir/findings/$t" "$seeds/$t"
  local log="$dir/findings/$t.log" start; start=$(date +%s)
  # -rss_limit_mb / -malloc_limit_mb: a runaway allocation is a finding, like a crash.
  "$dir/fuzz_$t" "${keep[@]}" -max_total_time="$seconds" -timeout=30 -rss_limit_mb=3072 -malloc_limit_mb=2048 \
    -print_final_stats=1 -artifact_prefix="$dir/findings/$t/" "$dir/corpus/$t" "$seeds/$t" "tests/corpus/fuzz/$t" \
    > "$log" 2>&1 || true
  local execs found corpus
  execs=$(grep -m1 'stat::number_of_executed_units' "$log" | awk '{print $2}' || true)
  [ -n "$execs" ] || execs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#' || true)  # fork mode prints no stats
  found=$(find "$dir/findings/$t" -type f | wc -l)
  corpus=$(find "$dir/corpus/$t" -type f | wc -l)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(date -u +%F)" "$t" "$(( $(date +%s) - start ))" "${execs:-?}" "$corpus" "$found" "$cpu" >> tests/fuzz/log.tsv
  echo "fuzz: $t: $(( $(date +%s) - start )) s, ${execs:-?} runs, corpus $corpus, findings $found" >&2
}
running=0
for t in "${targets[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then wait -n; running=$((running - 1)); fi
done
wait
[ -z "$(find build-fuzz/findings -type f 2>/dev/null | head -1)" ]
