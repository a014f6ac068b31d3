#!/usr/bin/env bash
# FP32 vs FP16 vs INT8 of one derainer: quality on the same held-out set and latency, through ONNX Runtime and,
# where TensorRT is installed, through each precision's engine as well (built, and checked against ONNX Runtime
# on the held-out set, by `rainloop build --verify`: OUT/MODEL.verify.txt).
#   bash benchmarks/precisions.sh [MODEL=default] [OUT=runs/precisions]
# INT8 is calibrated on physics rain over 200 crops of the *train* photos (the stand-in for
# your own footage, from many scenes: ranges calibrated on one scene clip on others); PSNR is
# measured on physics rain over the held-out *test* photos, and each precision's dry frames
# (the same photos without rain) on how close they come out to themselves.
set -euo pipefail
MODEL=${1:-default}
OUT=${2:-runs/precisions}
mkdir -p "$OUT"
rainloop synth --style physics --split train --n 200 --size 640x360 --seed 11 --out "$OUT/calib"
rainloop synth --style physics --split test --n 24 --size 320x240 --seed 4242 --intensity 0.5 --out "$OUT/physics_test"
rainloop export "$MODEL" --out "$OUT/model.onnx"
rainloop export "$MODEL" --out "$OUT/model.fp16.onnx" --precision fp16
rainloop quantize "$OUT/model.onnx" --calib "$OUT/calib/rainy" --n 200 --size 640x360 \
    --val "$OUT/physics_test" --out "$OUT/model.int8.onnx"
models=("$OUT/model.onnx" "$OUT/model.fp16.onnx" "$OUT/model.int8.onnx")
if python3 -c "import sys; from rainloop.engines import available; sys.exit(not available()[0])"; then
  for m in model model.fp16 model.int8; do
    # The engine's path is the last line rainloop build prints.
    models+=("$(rainloop build "$OUT/$m.onnx" --verify "$OUT/physics_test" | tee "$OUT/$m.verify.txt" | tail -n 1)")
  done
fi
rainloop bench --model "${models[@]}" --sizes 640x360,1280x720 --warmup 3 --iters 20 --data "$OUT/physics_test" \
    --json "$OUT/bench.json"
for m in "${models[@]}"; do
  name=$(basename "$m" .onnx)  # model.fp16.onnx -> model.fp16.dry.json; model.fp16.engine -> model.fp16.engine.dry.json
  rainloop eval --dry "$OUT/physics_test/clean" --model "$m" --json "$OUT/$name.dry.json" | tail -n 1
done
