#!/usr/bin/env bash
# Rebuilds the bundled default model: edge preset, full JRGR (stage 1: G1 on streak pairs;
# stage 2: the joint loops), built-in data: streak pairs with 12% dry frames, and physics
# rain as the stand-in real domain (12% dry frames, drizzle to downpour). The gated derainer
# learns its rain gate from the start (gate term, wet/dry labels from the synthetic side)
# and the identity term keeps clean images unchanged; at every save the exported G3's gate
# is shifted until dry held-out frames pass at 40 dB (--dry-db, training/gate_calibration.py).
#
# Seed 0, 2000 stage-1 + 5000 stage-2 steps, batch 8, crop 128. The bundled model was
# trained on one NVIDIA H200 (9.1 min of training, sharing the card with four other runs of
# benchmarks/gpu_sweep.sh, which ran this as `c128`); on 2 CPU cores a stage-2 step takes
# about 5.2 s, so the same run takes about 7.5 hours there. With the same seed and steps a CPU
# run is bit-exact for a given thread count; on a GPU, cuDNN's kernels vary slightly run to run.
# Interrupt it at any time; running it again resumes where it stopped.
#   bash benchmarks/train_default.sh [RUN_DIR]
#   PACKAGE=1 bash benchmarks/train_default.sh      also copies the G3 into the package and exports it
set -euo pipefail
RUN=${1:-runs/default}
ARGS=(--preset edge --syn builtin --real builtin --val builtin --real-mix default --gate on
      --crop 128 --batch 8 --steps 7000 --pretrain-steps 2000 --seed 0 --lambda-idt 20 --dry-db 40
      --ckpt-every 500 --val-every 500)

if [ -f "$RUN/config.json" ]; then
  rainloop train "${ARGS[@]}" --out "$RUN" --resume
else
  rainloop train "${ARGS[@]}" --out "$RUN"
fi

if [ -n "${PACKAGE:-}" ]; then
  DEST=rainloop/assets/default
  cp "$RUN/g3.safetensors" "$RUN/g3.json" "$DEST/"
  rainloop export "$DEST/g3.safetensors" --out "$DEST/model.onnx"
fi
