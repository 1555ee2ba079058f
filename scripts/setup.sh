#!/usr/bin/env bash
# Installs what calibr8 needs on Debian 12 (only what is missing), then builds
# it into build/. Idempotent: a second run installs nothing and rebuilds only
# what changed.
set -euo pipefail
cd "$(dirname "$0")/.."

# ocl-icd-opencl-dev: oneDNN's CMake config (dnnl-config.cmake) requires OpenCL, a Recommends of libdnnl-dev
# that --no-install-recommends skips.
APT_PKGS=(build-essential cmake ccache pkg-config
  libdnnl-dev ocl-icd-opencl-dev libonnx-dev libprotobuf-dev protobuf-compiler libstb-dev nlohmann-json3-dev libcli11-dev
  libgtest-dev libcpp-httplib-dev libsqlite3-dev libarchive-dev zlib1g-dev libpugixml-dev
  dataset-fashion-mnist libonnx-testdata
  python3-numpy python3-pil python3-onnx
  pybind11-dev python3-dev)  # the Python module (src/python), built with the rest
# PyTorch is only for the scripts that export test models and run the peers.
if [ "${C8_WITH_TORCH:-0}" = 1 ]; then APT_PKGS+=(python3-torch python3-torchvision python3-pytest); fi
# Debian's chromium is only for the workbench's browser test (tests/server/workbench_browser.mjs).
if [ "${C8_WITH_BROWSER:-0}" = 1 ]; then APT_PKGS+=(chromium); fi
command -v node >/dev/null 2>&1 || APT_PKGS+=(nodejs)
command -v npm >/dev/null 2>&1 || APT_PKGS+=(npm)

missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# ONNX Runtime (the peer the tests compare against), pinned in scripts/ort.
if [ -f scripts/ort/package.json ] && [ ! -d scripts/ort/node_modules/onnxruntime-node ]; then
  echo "setup: installing onnxruntime-node (npm)" >&2
  npm ci --ignore-scripts --no-audit --no-fund --prefix scripts/ort >&2
fi

# playwright-core (drives Debian's chromium; it downloads no browser), pinned in scripts/browser.
if [ "${C8_WITH_BROWSER:-0}" = 1 ] && [ ! -d scripts/browser/node_modules/playwright-core ]; then
  echo "setup: installing playwright-core (npm)" >&2
  npm ci --ignore-scripts --no-audit --no-fund --prefix scripts/browser >&2
fi

# C8_BUILD_TARGET=calibr8 builds the binary alone (the demo needs nothing else).
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" --target "${C8_BUILD_TARGET:-all}" >&2
