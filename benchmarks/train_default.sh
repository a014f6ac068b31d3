#!/usr/bin/env bash
# Rebuilds the bundled default model exactly: edge preset, full JRGR (stage 1 + stage 2),
# built-in data (streak pairs + physics rain as the stand-in real domain), seed 0.
# Interrupt it at any time; running it again resumes the same run.
#   bash benchmarks/train_default.sh [RUN_DIR]
set -euo pipefail
RUN=${1:-runs/default}
STEPS=${STEPS:-5200}
PRETRAIN=${PRETRAIN:-3000}
ARGS=(--preset edge --syn builtin --real builtin --val builtin --crop 96 --batch 4
      --steps "$STEPS" --pretrain-steps "$PRETRAIN" --seed 0 --threads "${THREADS:-1}"
      --ckpt-every 100 --val-every 250 --out "$RUN")
if [ -f "$RUN/config.json" ]; then
  rainloop train "${ARGS[@]}" --resume
else
  rainloop train "${ARGS[@]}"
fi
# Package it: weights + card, the checked FP32 ONNX and its card.
if [ -n "${PACKAGE:-}" ]; then
  DEST=rainloop/assets/default
  cp "$RUN/g3.safetensors" "$RUN/g3.json" "$DEST/"
  rainloop export "$DEST/g3.safetensors" --out "$DEST/model.onnx"
fi
