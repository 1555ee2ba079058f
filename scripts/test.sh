#!/usr/bin/env bash
# The test command: installs what is missing, builds, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
C8_WITH_TORCH=1 bash scripts/setup.sh
cd build
ctest --output-on-failure -j"$(nproc)" --timeout 900
