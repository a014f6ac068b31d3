#!/usr/bin/env bash
# Rebuilds the bundled derainer (rainloop/assets/default): the real-rain split, the run, the export.
#
#   bash benchmarks/train_default.sh [RUN_DIR]             (resumable: run it again after a stop)
#   PACKAGE=1 bash benchmarks/train_default.sh [RUN_DIR]   also copies the result into the package
#
# Needs the real rain of ../shared/data (benchmarks/real_rain.py split holds 20 photos, 20 ra1 frames and
# the yard clip out). On a 2-core CPU it takes about 80 minutes; add --device cuda on a GPU.
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${1:-runs/bundle}
REAL=${REAL:-runs/real-train}
[ -d "$REAL" ] || python benchmarks/real_rain.py split "$REAL"
if [ -f "$RUN/config.json" ]; then
  rainloop train --resume --out "$RUN" --threads 1
else
  rainloop train --out "$RUN" --config edge --set loss.identity=20 --syn builtin --syn-style broad --sky 0.5 \
    --real "$REAL" --steps 21500 --pretrain-steps 20000 --seed 1 --dry-db 38 --threads 1
fi
rainloop export "$RUN" --out "$RUN/model.onnx"
rainloop quantize "$RUN/model.onnx" --calib "$REAL" --n 80 --out "$RUN/model.int8.onnx"
if [ "${PACKAGE:-0}" = 1 ]; then
  cp "$RUN/g3.safetensors" "$RUN/g3.json" "$RUN/model.onnx" "$RUN/model.json" rainloop/assets/default/
fi
