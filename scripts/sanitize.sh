#!/usr/bin/env bash
# ASan + UBSan build in build-sanitize/ (ccache), then the unit tests under it
# with every finding fatal. The torchvision / ONNX Runtime model tests and the
# ONNX conformance cases run in the normal suite; here the point is memory and
# undefined behaviour on every code path the unit and CLI tests reach.
#   bash scripts/sanitize.sh [ctest -R regex]
set -euo pipefail
cd "$(dirname "$0")/.."
C8_WITH_BROWSER=1 bash scripts/setup.sh >/dev/null  # packages (and the normal build, for the models the tests export)
cmake -S . -B build-sanitize -DCMAKE_BUILD_TYPE=RelWithDebInfo -DC8_SANITIZE=ON >/dev/null
cmake --build build-sanitize -j"$(nproc)" >&2
cd build-sanitize
export XDG_CACHE_HOME="$PWD/xdg-cache"  # the CLI tests' tuning cache (--tune cached)
# oneDNN's JIT code and OpenMP runtime are not instrumented: leak checks off
# for them (detect_leaks=0); everything else aborts on the first report.
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:allocator_may_return_null=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
# Slow model-scale suites are left to the normal run (they exercise the same code).
ctest --output-on-failure -j"$(nproc)" --timeout 1800 -E "${C8_SANITIZE_EXCLUDE:-^(Onnx/OnnxNode|Models/|QdqExportVsOrt|SharedModelsVsOrt|TuningCandidates)}" ${1:+-R "$1"}
