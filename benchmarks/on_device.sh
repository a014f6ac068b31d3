#!/usr/bin/env bash
# Everything rainloop still needs from a GPU machine, in one call of under 8 minutes, into one folder:
#
#   bash benchmarks/on_device.sh OUT_DIR          (or OUT=OUT_DIR bash benchmarks/on_device.sh)
#   bash benchmarks/on_device.sh --run 'COMMAND'  (only the setup below, then COMMAND)
#
#   1. the machine: GPU, Python, PyTorch, ONNX Runtime, TensorRT, CUDA compiler
#   2. PyTorch CUDA training step rates of each preset (short `rainloop train` runs)
#   3. the native CUDA frame kernels, built with CMake and checked against the CPU path (tests/test_native.py)
#   4. the bundled derainer's latency through PyTorch on the GPU (`rainloop bench`)
#   5. TensorRT: every engine variant built, verified against ONNX Runtime (`rainloop build --verify`) and
#      timed (`rainloop bench`); the TensorRT tests; the native runner against the Python one; ONNX Runtime's
#      TensorRT provider
# A section whose tool is missing (no GPU, no nvcc, no TensorRT) says so and is skipped, and every step stops at
# the overall deadline (BUDGET seconds, default 450). OUT_DIR gets summary.md (the tables for RESULTS.md) and
# each step's log and JSON. Where rainloop is not installed (a bare GPU machine with a copy of the checkout), it
# runs from the checkout: the four top-level folders are linked into the package as the installed wheel maps
# them, and `rainloop` on PATH runs `python3 -m rainloop`.
set -uo pipefail
cd "$(dirname "$0")/.."
if ! python3 -c "import rainloop.engines, rainloop.training" 2>/dev/null; then
  for d in training export engines runtime; do ln -sfn "../$d" "rainloop/$d"; done
  export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
fi
if ! command -v rainloop >/dev/null; then
  bin=$(mktemp -d)
  printf '#!/bin/sh\nexec python3 -m rainloop "$@"\n' >"$bin/rainloop"
  chmod +x "$bin/rainloop"
  export PATH="$bin:$PATH"
fi
export PYTHONUNBUFFERED=1
if [ "${1:-}" = --run ]; then
  bash -c "$2"
  exit
fi

OUT=${1:-${OUT:?give the output folder as the first argument or in OUT}}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
SUMMARY=$OUT/summary.md
BUDGET=${BUDGET:-450}
STEPS=${STEPS:-40}  # per training run, half of them stage 1
START=$(date +%s)
WORK=$(mktemp -d)
export XDG_CACHE_HOME=$WORK/cache  # engines and timing caches of this run only
SIZES=640x360,1280x720,1920x1080

left() { echo $((BUDGET - ($(date +%s) - START))); }
# within SECONDS CMD...: CMD for at most SECONDS, fewer if the deadline is nearer; exit 124 when cut off
within() {
  local t=$1 l
  shift
  l=$(left)
  ((t > l)) && t=$l
  if ((t < 10)); then
    echo "not run (the ${BUDGET} s budget is spent): $*"
    return 124
  fi
  timeout -k 10 "$t" "$@"
}
section() { printf '\n## %s\n\n' "$1" >>"$SUMMARY"; echo "== $1 ($(left) s left)"; }
note() { echo "$*" | tee -a "$SUMMARY"; }
block() { { echo '```'; cat "$1"; echo '```'; } >>"$SUMMARY"; }  # a command's printed table, as it printed it
has() { python3 -c "import $1" 2>/dev/null; }

printf '# rainloop on %s (%s)\n' "$(hostname)" "$(date -u +%Y-%m-%dT%H:%MZ)" >"$SUMMARY"

section "Machine"
{
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,compute_cap,memory.total,driver_version --format=csv
  else
    echo "no nvidia-smi"
  fi
  python3 - <<'EOF'
import platform
print(f"python {platform.python_version()} on {platform.machine()}")
for name in ("torch", "onnxruntime", "tensorrt", "pycuda", "cv2"):
    try:
        module = __import__(name)
        extra = f", CUDA {module.version.cuda}" if name == "torch" else ""
        print(f"{name} {module.__version__}{extra}")
    except Exception as exc:
        print(f"{name}: not importable ({type(exc).__name__})")
from rainloop.engines import available
print("rainloop.engines.available():", available())
EOF
  for nvcc in "$(command -v nvcc)" /usr/local/cuda/bin/nvcc; do
    [ -x "$nvcc" ] && { "$nvcc" --version | tail -n 2; break; }
  done
  command -v cmake >/dev/null && cmake --version | head -n 1
} >"$OUT/machine.txt" 2>&1
block "$OUT/machine.txt"
cat "$OUT/machine.txt"
CUDA_TORCH=$(python3 -c "import torch; print(int(torch.cuda.is_available()))" 2>/dev/null || echo 0)

section "Training step rates (PyTorch CUDA)"
if [ "$CUDA_TORCH" != 1 ]; then
  note "skipped: no CUDA GPU visible to PyTorch"
else
  for preset in $(python3 -c "from rainloop.training.presets import PRESETS; print(*PRESETS)"); do
    within 75 rainloop train --config "$preset" --steps "$STEPS" --pretrain-steps $((STEPS / 2)) --val none \
      --log-every 10 --ckpt-every 100000 --val-every 100000 --out "$WORK/train/$preset" >"$OUT/train-$preset.log" 2>&1
    echo "$preset: exit $?"
  done
  python3 - "$WORK/train" >"$OUT/train_rates.md" <<'EOF'
import json, statistics, sys
from pathlib import Path
print("| preset | batch | crop | stage 1 s/step | stage 2 s/step | stage 2 steps/s | steps run |")
print("|---|---|---|---|---|---|---|")
for run in sorted(p for p in Path(sys.argv[1]).iterdir() if (p / "config.json").exists()):
    cfg = json.loads((run / "config.json").read_text())
    rows = [json.loads(x) for x in (run / "losses.jsonl").read_text().splitlines()] if (run / "losses.jsonl").exists() else []
    # The first steps of each stage pay for cuDNN's autotuning and the data workers' start.
    sec = {s: [r["sec"] for r in rows if r["stage"] == s][3:] for s in (1, 2)}
    med = {s: statistics.median(v) if v else None for s, v in sec.items()}
    show = lambda v, f: "-" if v is None else format(v, f)
    print(f"| {run.name} | {cfg['batch']} | {cfg['crop']} | {show(med[1], '.4f')} | {show(med[2], '.4f')} | "
          f"{show(med[2] and 1 / med[2], '.1f')} | {len(rows)} |")
EOF
  tee -a "$SUMMARY" <"$OUT/train_rates.md"
fi

section "Native CUDA kernels against the CPU path"
if ! command -v cmake >/dev/null; then
  note "skipped: no cmake"
else
  [ -x "$(command -v nvcc)" ] || [ -x /usr/local/cuda/bin/nvcc ] || note "no CUDA compiler (nvcc): only the CPU reference is built and checked"
  within 60 cmake -S . -B "$WORK/native" >"$OUT/native_configure.txt" 2>&1 &&
    within 90 cmake --build "$WORK/native" -j >"$OUT/native_build.txt" 2>&1
  grep '^-- rainloop:' "$OUT/native_configure.txt" | tee -a "$SUMMARY"
  if has pytest; then
    within 150 python3 -m pytest -q -rs -p no:cacheprovider tests/test_native.py >"$OUT/native_tests.txt" 2>&1
    tail -n 5 "$OUT/native_tests.txt" | tee "$WORK/native_tail.txt"
    block "$WORK/native_tail.txt"
  else
    note "no pytest: tests/test_native.py not run"
  fi
fi

section "Bundled derainer through PyTorch on the GPU"
if [ "$CUDA_TORCH" != 1 ]; then
  note "skipped: no CUDA GPU visible to PyTorch"
else
  within 90 rainloop bench --model rainloop/assets/default/g3.safetensors --sizes "$SIZES" --warmup 10 --iters 100 \
    --no-pipeline --json "$OUT/bench_torch.json" >"$OUT/bench_torch.txt" 2>&1
  block "$OUT/bench_torch.txt"
fi

section "TensorRT engines"
TRT=$(python3 -c "from rainloop.engines import available; ok, why = available(); print(int(ok), why)" 2>&1)
if [ "${TRT%% *}" != 1 ]; then
  note "skipped: ${TRT#* }"
else
  note "${TRT#* }"
  T=$WORK/trt
  mkdir -p "$T"
  cp rainloop/assets/default/model.onnx rainloop/assets/default/model.json "$T/"
  {
    within 60 rainloop synth --style physics --split test --n 8 --size 640x360 --seed 4242 --intensity 0.5 \
      --out "$T/pairs" &&
      within 60 rainloop synth --style physics --split train --n 48 --size 640x360 --seed 11 --out "$T/calib" &&
      within 90 rainloop quantize "$T/model.onnx" --calib "$T/calib/rainy" --n 48 --size 640x360 --val "$T/pairs" \
        --out "$T/model.int8.onnx"
    if has torch; then
      within 60 rainloop export default --out "$T/model.fp16.onnx" --precision fp16
      within 60 rainloop export default --out "$T/model.u8.onnx" --io uint8
      within 60 rainloop export default --out "$T/model.static.onnx" --static 640x360
    else
      echo "no PyTorch: the FP16, uint8 and static exports are left out"
    fi
  } >"$OUT/trt_models.log" 2>&1
  JETSON=$(python3 -c "from rainloop.engines.host import is_jetson; print(int(is_jetson()))")
  # name | ONNX | sizes to time | rainloop build options
  variants=("fp32|model.onnx|$SIZES|"
            "fp16|model.fp16.onnx|$SIZES|"
            "int8|model.int8.onnx|$SIZES|--precision int8"
            "fp16-flag|model.onnx|$SIZES|--precision fp16"  # TensorRT 10.x's weak typing; 11.x refuses it in one line
            "uint8-io|model.u8.onnx|$SIZES|"
            "static|model.static.onnx|640x360|"
            "version-compatible|model.onnx|640x360|--version-compatible")
  if [ "$JETSON" = 1 ]; then
    variants+=("dla0-int8|model.int8.onnx|1280x720|--precision int8 --dla 0 --shapes 1280x720")
  else
    variants+=("hardware-compat|model.onnx|640x360|--hardware-compat ampere+")
    note "DLA: not a Jetson, no DLA engine"
  fi
  for v in "${variants[@]}"; do
    IFS='|' read -r name onnx sizes args <<<"$v"
    if [ ! -f "$T/$onnx" ]; then
      note "$name: skipped, $onnx was not made (trt_models.log)"
      continue
    fi
    # shellcheck disable=SC2086  # args is a list of options
    within 150 rainloop build "$T/$onnx" $args --out "$T/$name.engine" --verify "$T/pairs" >"$OUT/build-$name.txt" 2>&1
    rc=$?
    note "$name: rainloop build exit $rc, $(grep -E '^(built|reusing|DLA|warning)' "$OUT/build-$name.txt" | tr '\n' ' ')"
    [ $rc = 0 ] || { tail -n 1 "$OUT/build-$name.txt" | tee -a "$SUMMARY"; continue; }
    sed -n '/^image /,/^mean /p' "$OUT/build-$name.txt" >"$WORK/verify.txt" && block "$WORK/verify.txt"
    within 90 rainloop bench --model "$T/$name.engine" --sizes "$sizes" --warmup 10 --iters 100 --no-pipeline \
      --data "$T/pairs" --json "$OUT/bench-$name.json" >"$OUT/bench-$name.txt" 2>&1
    block "$OUT/bench-$name.txt"
  done
  cp "$T"/*.engine.json "$OUT/" 2>/dev/null  # the build records: options, build seconds, DLA layers

  if [ -x "$WORK/native/rainloop-trt" ] && [ -f "$T/fp32.engine" ]; then
    note "native runner (rainloop-trt) against the Python runner, fp32 engine, 640x360:"
    within 60 python3 - "$WORK/native/rainloop-trt" "$T/fp32.engine" >"$WORK/native_trt.txt" 2>&1 <<'EOF'
import subprocess, sys
import numpy as np
from rainloop import builtin
from rainloop.runtime import Derainer
runner, engine = sys.argv[1:]
rng = np.random.default_rng(0)
frames = [builtin.random_crop(rng, (640, 360), split="test") for _ in range(30)]
done = subprocess.run([runner, engine, "640x360"], input=b"".join(f.tobytes() for f in frames), capture_output=True)
native = np.frombuffer(done.stdout, np.uint8).reshape(-1, 360, 640, 3)
with Derainer(engine) as d:
    python = np.stack([d(f) for f in frames])
print(done.stderr.decode().strip().splitlines()[-1])
print(f"{len(native)} frames; max |native - python| = {np.abs(native.astype(int) - python).max()} levels")
EOF
    block "$WORK/native_trt.txt"
  fi

  if has pytest; then
    within 150 python3 -m pytest -q -rs -p no:cacheprovider tests/test_engines_trt.py >"$OUT/trt_tests.txt" 2>&1
    tail -n 5 "$OUT/trt_tests.txt" >"$WORK/trt_tail.txt"
    block "$WORK/trt_tail.txt"
  fi
fi

section "ONNX Runtime's TensorRT provider"
if ! python3 -c "import onnxruntime as o, sys; sys.exit('TensorrtExecutionProvider' not in o.get_available_providers())"; then
  note "skipped: this ONNX Runtime has no TensorRT provider (onnxruntime-gpu built with TensorRT has)"
elif [ ! -f "${T:-/nonexistent}/model.int8.onnx" ]; then
  note "skipped: the models of the TensorRT section were not made"
else
  models=("$T/model.onnx" "$T/model.int8.onnx")
  [ -f "$T/model.fp16.onnx" ] && models+=("$T/model.fp16.onnx")
  within 150 rainloop bench --model "${models[@]}" --providers trt --sizes 640x360,1280x720 --warmup 10 \
    --iters 100 --no-pipeline --data "$T/pairs" --json "$OUT/bench_ort_trt.json" >"$OUT/bench_ort_trt.txt" 2>&1
  block "$OUT/bench_ort_trt.txt"
fi

note ""
note "done in $(($(date +%s) - START)) s"
rm -rf "$WORK"
