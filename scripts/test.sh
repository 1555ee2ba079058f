#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every test.
# On a CPU with more than AVX2 (AVX-512, VNNI), the runtime and INT8 tests run
# a second time with ONEDNN_MAX_CPU_ISA=AVX2, which caps oneDNN and calibr8's
# own kernels alike: the AVX2 path (7-bit weights, vpmaddubsw kernels) is
# tested on every machine, not only on AVX2 ones.
set -euo pipefail
cd "$(dirname "$0")/.."
C8_WITH_TORCH=1 C8_WITH_BROWSER=1 bash scripts/setup.sh
# torchvision architectures for the ONNX Runtime agreement tests (skips models already exported).
/usr/bin/python3 scripts/export_torchvision.py build/models >&2
cd build
# The CLI tests run with --tune cached (the default): their tuning cache lives
# here, not in the user's ~/.cache.
export XDG_CACHE_HOME="$PWD/xdg-cache"
rc=0
echo "== tests, native ISA" >&2
ctest --output-on-failure -j"$(nproc)" --timeout 900 || rc=1
if grep -qwE 'avx512f|avx_vnni' /proc/cpuinfo; then
  # The reference-kernel and ONNX conformance suites and the browser test do not depend on the ISA.
  echo "== runtime and INT8 tests again, ONEDNN_MAX_CPU_ISA=AVX2" >&2
  ONEDNN_MAX_CPU_ISA=AVX2 ctest --output-on-failure -j"$(nproc)" --timeout 900 -E '^(Onnx/OnnxNode|Ref[A-Z]|WorkbenchBrowser)' || rc=1
fi
exit $rc
