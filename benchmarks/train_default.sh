#!/usr/bin/env bash
# Rebuilds the bundled derainer (rainloop/assets/default): the run, the export, INT8 from real rain.
#
#   bash benchmarks/train_default.sh [RUN_DIR]             (resumable: run it again after a stop)
#   PACKAGE=1 bash benchmarks/train_default.sh [RUN_DIR]   also copies the result into the package
#
# The bundle is the supervised derainer (stage 1): JRGR's stage 2 with the real photos did worse on held-out
# real rain (benchmarks/RESULTS.md). INT8 calibration reads the real-rain split of ../shared/data
# (benchmarks/real_rain.py split). About 25 minutes on a 2-core CPU; add --device cuda on a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${1:-runs/bundle}
REAL=${REAL:-runs/real-train}
[ -d "$REAL" ] || python benchmarks/real_rain.py split "$REAL"
if [ -f "$RUN/config.json" ]; then
  rainloop train --resume --out "$RUN" --threads 1
else
  rainloop train --out "$RUN" --config edge --syn builtin --syn-style broad --sky 0.5 --set loss.identity=20 \
    --steps 15400 --pretrain-steps 15400 --seed 1 --dry-db 38 --threads 1
fi
rainloop export "$RUN" --out "$RUN/model.onnx"
rainloop quantize "$RUN/model.onnx" --calib "$REAL" --n 80 --out "$RUN/model.int8.onnx"
if [ "${PACKAGE:-0}" = 1 ]; then
  cp "$RUN/g3.safetensors" "$RUN/g3.json" "$RUN/model.onnx" "$RUN/model.json" rainloop/assets/default/
fi
