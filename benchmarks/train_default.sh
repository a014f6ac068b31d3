#!/usr/bin/env bash
# Rebuilds the bundled default model exactly: edge preset, full JRGR, built-in data
# (streak pairs + physics rain as the stand-in real domain), in two runs:
#   A  runs/default     seed 0, no rain gate: 3000 stage-1 steps (G1 on streak pairs), then 2200 JRGR
#                       steps against always-raining physics rain (--real-mix rain);
#   B  runs/default-ft  seed 1: --init from A into the gated edge derainer (the rain gate
#                       starts open), 1000 more JRGR steps with dry frames and drizzle in
#                       the real domain, the identity term on clean images and the gate
#                       term (wet or dry, known on the synthetic side), so that a dry
#                       scene passes through unchanged.
# Thread counts are part of "exactly": float sums split differently across threads.
# Interrupt it at any time; running it again resumes where it stopped.
#   bash benchmarks/train_default.sh [RUN_DIR]      (B goes to RUN_DIR-ft)
#   PACKAGE=1 bash benchmarks/train_default.sh      also copies B's G3 into the package
set -euo pipefail
RUN=${1:-runs/default}
COMMON=(--preset edge --syn builtin --real builtin --val builtin --crop 96 --batch 4 --ckpt-every 100)

train() {  # train OUT ARGS...: start the run, or resume it if it exists
  local out=$1; shift
  if [ -f "$out/config.json" ]; then
    rainloop train "${COMMON[@]}" "$@" --out "$out" --resume
  else
    rainloop train "${COMMON[@]}" "$@" --out "$out"
  fi
}

train "$RUN" --steps 5200 --pretrain-steps 3000 --seed 0 --gate off --real-mix rain --threads 1 --val-every 250
train "$RUN-ft" --init "$RUN" --steps 1000 --seed 1 --gate on --real-mix default --lambda-idt 20 --threads 2 --val-every 200

if [ -n "${PACKAGE:-}" ]; then
  DEST=rainloop/assets/default
  cp "$RUN-ft/g3.safetensors" "$RUN-ft/g3.json" "$DEST/"
  rainloop export "$DEST/g3.safetensors" --out "$DEST/model.onnx"
fi
