#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
C8_WITH_TORCH=1 bash scripts/setup.sh
# torchvision architectures for the ONNX Runtime agreement tests (skips models already exported).
/usr/bin/python3 scripts/export_torchvision.py build/models >&2
cd build
ctest --output-on-failure -j"$(nproc)" --timeout 900
