#!/usr/bin/env bash
# Run rainloop from this checkout on a lent GPU machine, where nothing can be installed: the four
# top-level folders are linked into the rainloop package as the installed wheel maps them, the
# checkout goes on PYTHONPATH, and `rainloop` on PATH runs `python3 -m rainloop`. Each call of the
# device tool gets a fresh copy of the tree, so every call starts with this script:
#
#   bash benchmarks/on_device.sh 'nvidia-smi -L && PACK=$OUT BUDGET=490 bash benchmarks/gpu_sweep.sh runs/s11 long2'
#   bash benchmarks/on_device.sh 'python3 -m pytest -q tests/test_native.py'   (the CUDA kernels, on the GPU)
set -euo pipefail
cd "$(dirname "$0")/.."
for d in training export engines runtime; do ln -sfn "../$d" "rainloop/$d"; done
bin=$(mktemp -d)
printf '#!/bin/sh\nexec python3 -m rainloop "$@"\n' >"$bin/rainloop"
chmod +x "$bin/rainloop"
export PATH="$bin:$PATH" PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
bash -c "$1"
