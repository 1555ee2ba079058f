#!/usr/bin/env bash
# The main job on the embedded default model (Fashion-MNIST CNN): what the
# model is, its baseline accuracy on the 10k test images, and its speed.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
B=build/calibr8
echo "== calibr8 info default"; $B info default
echo; echo "== calibr8 evaluate default (Fashion-MNIST test, 10k images)"; $B evaluate default
echo; echo "== calibr8 bench default --batch 1"; $B bench default --batch 1 --seconds 2
echo; echo "== calibr8 bench default --batch 32"; $B bench default --batch 32 --seconds 2
