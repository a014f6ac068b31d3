#!/usr/bin/env bash
# Everything rainloop wants from a lent GPU machine, in one call of the device tool (a session gets
# 15 minutes of it, starts included), most valuable first, with every result under $OUT:
#   1. the CUDA frame kernels run against the CPU reference (tests/test_native.py)       about 1 min
#   2. the bundled derainer's latency through PyTorch on the GPU (rainloop bench)         about 1 min
#   3. a training sweep (gpu_sweep.sh SET) for what is left of BUDGET seconds, each run
#      packed small (g3, card, config, losses, log)
# $OUT gets checks.tgz (1 and 2), sweep.log and one NAME.tgz per run: at most 8 files come back, so
# a set of up to six runs fits. Run it through on_device.sh:
#
#   bash benchmarks/on_device.sh 'BUDGET=500 bash benchmarks/gpu_session.sh'   (SET=dark by default; timeout_s 600)
#   OUT=/tmp/o SET=long2 BUDGET=200 SCALE=1000 WORKERS=0 bash benchmarks/gpu_session.sh   (a CPU smoke run)
set -uo pipefail
: "${OUT:?set OUT to the folder whose files come back}"
SET=${SET:-dark}
BUDGET=${BUDGET:-500}
START=$(date +%s)
checks=$(mktemp -d)
nvidia-smi -L 2>&1 | tee "$checks/gpu.txt"

python3 -m pytest -q -rs tests/test_native.py 2>&1 | tee "$checks/native_tests.txt"
rainloop bench --model rainloop/assets/default/g3.safetensors --sizes 640x360,1280x720,1920x1080 \
  --iters "${ITERS:-200}" --no-pipeline --json "$checks/bench_torch.json" 2>&1 | tee "$checks/bench_torch.txt"
tar czf "$OUT/checks.tgz" -C "$checks" .

left=$(( BUDGET - ($(date +%s) - START) ))
PACK=$OUT BUDGET=$left bash benchmarks/gpu_sweep.sh runs/gpu "$SET" 2>&1 | tee "$OUT/sweep.log"
