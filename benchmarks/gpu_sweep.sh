#!/usr/bin/env bash
# Issue 8 on a GPU: the default model's recipe trained longer and at larger batches, with
# variants side by side on one card, within a fixed time budget (a lent GPU is counted in
# minutes). Every run is a plain `rainloop train` run folder; each is stopped and saved by
# the budget if it has not finished (its g3.json then records the step it reached).
#
#   A   edge, gate off, always-raining physics rain as the real domain   (train_default.sh's run A)
#   B   --init A into the gated derainer, dry frames and drizzle, identity term (run B)
#   C   gated from the start, one run (no A/B split)
# Sets of runs (second argument):
#   recipes (session 4): A, A -> B and C; crop 128 or 192 (how much of the frame the veil is
#            judged from), identity 20 or 10
#   fog (session 5): C with streak-fog synthetic pairs (--syn-style streak-fog); the same
#            trained longer, ungated, and as a supervised-only G1 (the baseline to beat)
#   sky (session 5): a derainer (INIT, default: the bundled model; in session 5 that was
#            c128, since replaced by this set's ft-sky) fine-tuned as is, with procedural skies
#            on half the built-in crops (--sky 0.5), and with skies and streak-fog pairs
#   tone (session 6): the frame tone (--tone on, a per-frame gain and offset for the veil)
#            added to INIT and fine-tuned with skies, with streak-fog pairs (which teach the
#            veil directly), the same without the tone for comparison, and a supervised-only
#            G1 with the tone on streak-fog pairs
#   scratch (session 6): C with skies and the tone from the start, on streak or streak-fog pairs
#   ceiling (session 7): the scratch set's t128, and a supervised-only G1 with the tone on
#            physics pairs (--syn-style physics, the stand-in real domain's own renderer: how
#            far this network gets with perfect labels). Session 7 ran these beside three runs
#            with an option since removed (`--peaks`, at commit 0248dcb; see RESULTS.md)
#   long (session 8): INIT (default: the bundled model) trained on with its own recipe at a new
#            seed, and with a lower rate, a heavier gate term, a heavier identity term or batch 16;
#            and T128 (default: runs/s7/pk/t128/g3.safetensors, the ceiling set's t128) the same
#            way with the heavier gate term. Gates are set per frame (p5 at 38 dB) at every save
#   long2 (session 10): INIT (default: the bundled model, session 8's ft-long-idt) trained on with its
#            recipe (identity 40) at a new seed, and with identity 80, a heavier gate term with identity
#            80 or 60, a doubled rate, or crop 192
#   width (session 10, not yet run): is the derainer's width what holds the gain back? The ceiling set's
#            sup-phys (perfect labels, supervised only, quick) at widths 16, 24 and 32, and its t128 (JRGR
#            from scratch) at widths 24 and 32 (`--width`; the edge preset's is 16), all with the gate
#            term in stage 1 (a 32-wide derainer's gate shut for good in stage 1 without it, on CPU)
#   dark (session 11, not yet run): the dark channel input and the veil gain (--dark on --veil on), which
#            lifted the perfect-label derainer from +5.7 to +6.7 dB on CPU, in JRGR from scratch (the ceiling
#            set's t128 with them, gate per frame at 38 dB), the same on streak-fog pairs (which teach the
#            veil directly) and without the veil gain (which alone gave nothing on CPU); INIT (the bundle)
#            fine-tuned with them added, as the bundle was trained (identity 40; on CPU such a fine-tune's G3
#            went to the identity within 250 steps while its new translators learned); and supervised-only
#            G1s with them: on streak-fog pairs (the baseline to beat) and on physics pairs without the veil gain
#   background (session 14, not yet run): the dark set's JRGR runs with translators that also see the
#            background (--translator-background on), which on CPU lifted 1500 stage-2 steps from a fog-trained
#            G1 by about 1 dB on physics rain over the same run without it: t128-dark-fog and t128-dark from
#            scratch, and ft-dark (INIT, the bundle, fine-tuned with them); the fine-tune also with the real
#            loop's cycle detached from G3 (--detach-real-loop on, session 15: on CPU the largest force that
#            shrank a fine-tuned bundle's rain layer; detached, 800 steps lost 1.3 dB of the bundle's gain, not
#            2.4). From a supervised G1 the cut made G3 worse than its input (session 16), so not from scratch.
#   bare (session 18, not yet run): the dark set's t128-dark with stage 1 on benchmarks/learned_veil.py's
#            pairs (--pairs learned-bare: a third of the rainy pairs show a veil learned from the real frames
#            without streaks; on CPU that stage 1 gave the most gate-open gain without perfect labels, session
#            17, and 400 CPU stage-2 steps emptied its rain layer), with and without translators that see the
#            background, beside t128-dark itself. VEIL (default: benchmarks/results/learned_veil.safetensors,
#            fitted in session 18) is the veil generator
#   resume: continue every unfinished run in RUNS_DIR (a second call on a still-warm machine)
#
#   bash benchmarks/gpu_sweep.sh [RUNS_DIR] [recipes|fog|sky|tone|scratch|ceiling|long|long2|width|dark|background|bare|resume]     BUDGET=seconds (default 500)
#   SCALE=1000 BUDGET=300 bash benchmarks/gpu_sweep.sh /tmp/sweep fog   (a CPU smoke run: steps / SCALE)
# On a lent GPU machine, wrap the call in benchmarks/on_device.sh (rainloop runs from the checkout there).
# PACK=DIR (on a lent GPU: PACK=$OUT) writes DIR/NAME.tgz per run with what evaluation and export need
# (g3.safetensors, g3.json, config.json, losses.jsonl, the log), a few MB each. A whole run folder is
# 100+ MB (two checkpoints with optimizer state and image pools), too large to bring back.
set -uo pipefail
RUNS=${1:-runs/sweep}
SET=${2:-recipes}
S=${SCALE:-1}
BUDGET=${BUDGET:-500}
START=$(date +%s)
mkdir -p "$RUNS"
# --dry-stat mean: every recorded sweep set its gates (--dry-db 40) on the dry frames' mean.
# --stage1-gate off: so did every set before `width` (stage 1 trained the gate through the MSE alone).
COMMON=(--preset edge --syn builtin --real builtin --val builtin --batch 8 --threads 1 --workers ${WORKERS:-2}
        --ckpt-every 500 --val-every 500 --log-every 100 --dry-stat mean --stage1-gate off)

left() { echo $(( BUDGET - ($(date +%s) - START) )); }

# learned_veil.py's pairs: the command is `rainloop train` with the built-in synthetic pairs made its way.
# A run made so keeps its generator beside it (NAME.veil.safetensors) for `resume`.
veiled() { echo python3 benchmarks/learned_veil.py train --pairs learned-bare --veil "$1" --; }

train() {  # train NAME ARGS...: one run, stopped (Ctrl-C: finish the step, save) when the budget is spent
  local out=$RUNS/$1 t cmd=(rainloop train); shift
  t=$(left)
  if [ "$t" -lt 10 ]; then echo "$out: no time left"; return; fi
  if [ -n "${VEILED:-}" ]; then cp "$VEILED" "$out.veil.safetensors"; cmd=($(veiled "$out.veil.safetensors")); fi
  timeout -k 60 -s INT "$t" "${cmd[@]}" "${COMMON[@]}" "$@" --out "$out" >"$out.log" 2>&1
  local rc=$?  # before any $(...) below resets it
  echo "$(date +%T) $out: exit $rc ($(tail -n 2 "$out.log" | tr '\n' ' '))"
}

A=(--steps $((5500 / S)) --pretrain-steps $((2000 / S)) --seed 0 --gate off --real-mix rain)
B=(--steps $((1500 / S)) --seed 1 --gate on --real-mix default)
C=(--steps $((7000 / S)) --pretrain-steps $((2000 / S)) --seed 0 --gate on --real-mix default --lambda-idt 20)

if [ "$SET" = recipes ]; then
  ( train a128 --crop 128 "${A[@]}"
    train a128-b20 --crop 128 --init "$RUNS/a128" "${B[@]}" --lambda-idt 20 &
    train a128-b10 --crop 128 --init "$RUNS/a128" "${B[@]}" --lambda-idt 10 &
    wait ) &
  ( train a192 --crop 192 "${A[@]}"
    train a192-b20 --crop 192 --init "$RUNS/a192" "${B[@]}" --lambda-idt 20 ) &
  train c128 --crop 128 "${C[@]}" &
elif [ "$SET" = fog ]; then
  F=(--crop 128 --syn-style streak-fog --pretrain-steps $((2000 / S)) --seed 0 --real-mix default --lambda-idt 20)
  train f128 "${F[@]}" --steps $((7000 / S)) --gate on --dry-db 40 &
  train f128-10k "${F[@]}" --steps $((10000 / S)) --gate on --dry-db 40 &
  train f128-open "${F[@]}" --steps $((7000 / S)) --gate off &
  train f128-sup --crop 128 --syn-style streak-fog --steps $((7000 / S)) --pretrain-steps $((7000 / S)) --seed 0 &
elif [ "$SET" = sky ]; then
  K=(--init "${INIT:-default}" --crop 128 --steps $((2500 / S)) --seed 0 --real-mix default --gate on --lambda-idt 20 --dry-db 40)
  train ft-ctl "${K[@]}" &
  train ft-sky "${K[@]}" --sky 0.5 &
  train ft-skyfog "${K[@]}" --sky 0.5 --syn-style streak-fog &
elif [ "$SET" = tone ]; then
  K=(--init "${INIT:-default}" --crop 128 --steps $((4000 / S)) --seed 0 --real-mix default --gate on --lambda-idt 20
     --dry-db 40 --sky 0.5)
  train ft-sky2 "${K[@]}" &
  train ft-tone "${K[@]}" --tone on &
  train ft-tone-fog "${K[@]}" --tone on --syn-style streak-fog &
  train t-sup --crop 128 --tone on --syn-style streak-fog --steps $((7000 / S)) --pretrain-steps $((7000 / S)) --seed 0 &
elif [ "$SET" = scratch ]; then
  train t128 --crop 128 "${C[@]}" --sky 0.5 --dry-db 40 --tone on &
  train t128-fog --crop 128 "${C[@]}" --sky 0.5 --dry-db 40 --tone on --syn-style streak-fog &
elif [ "$SET" = ceiling ]; then
  train t128 --crop 128 "${C[@]}" --sky 0.5 --dry-db 40 --tone on &
  train sup-phys --crop 128 --tone on --syn-style physics --steps $((7000 / S)) --pretrain-steps $((7000 / S)) --seed 0 &
elif [ "$SET" = long ]; then
  L=(--crop 128 --steps $((9000 / S)) --seed 2 --real-mix default --gate on --lambda-idt 20 --sky 0.5
     --dry-db 38 --dry-stat p5)
  train ft-long --init "${INIT:-default}" "${L[@]}" &
  train ft-long-lr --init "${INIT:-default}" "${L[@]}" --lr 5e-5 &
  train ft-long-gate --init "${INIT:-default}" "${L[@]}" --lambda-gate 4 &
  train ft-long-idt --init "${INIT:-default}" "${L[@]}" --lambda-idt 40 &
  train ft-long-b16 --init "${INIT:-default}" "${L[@]}" --batch 16 &
  train t128-long --init "${T128:-runs/s7/pk/t128/g3.safetensors}" "${L[@]}" --lambda-gate 4 &
elif [ "$SET" = long2 ]; then
  L=(--init "${INIT:-default}" --crop 128 --steps $((9000 / S)) --seed 3 --real-mix default --gate on --sky 0.5
     --dry-db 38 --dry-stat p5)
  train l2-idt "${L[@]}" --lambda-idt 40 &
  train l2-idt80 "${L[@]}" --lambda-idt 80 &
  train l2-gate-idt80 "${L[@]}" --lambda-idt 80 --lambda-gate 4 &
  train l2-gate2-idt60 "${L[@]}" --lambda-idt 60 --lambda-gate 2 &
  train l2-lr2 "${L[@]}" --lambda-idt 40 --lr 2e-4 &
  train l2-c192 "${L[@]}" --lambda-idt 40 --crop 192 &  # the later --crop wins
elif [ "$SET" = width ]; then
  SUP=(--crop 128 --tone on --syn-style physics --steps $((7000 / S)) --pretrain-steps $((7000 / S)) --seed 0)
  for w in 16 24 32; do train sup-phys-w$w "${SUP[@]}" --width $w --stage1-gate on & done
  for w in 24 32; do train t128-w$w --crop 128 "${C[@]}" --sky 0.5 --dry-db 40 --tone on --width $w --stage1-gate on & done
elif [ "$SET" = dark ] || [ "$SET" = background ]; then
  D=(--crop 128 --tone on --dark on --stage1-gate on)
  J=("${C[@]}" --sky 0.5 --dry-db 38 --dry-stat p5)
  N=""  # the background set: the dark set's JRGR runs with translators that see the background, and the
  V=(off)  # fine-tune once more with the real loop's cycle detached from G3 (-det); from a supervised
  # start the cut made G3 worse than its input on CPU (session 16), so the runs from scratch keep the loop
  [ "$SET" = background ] && { D+=(--translator-background on); N=-bg; V=(off on); }
  train t128-dark$N "${D[@]}" --veil on "${J[@]}" &
  train t128-dark-fog$N "${D[@]}" --veil on "${J[@]}" --syn-style streak-fog &
  for v in "${V[@]}"; do
    n=$N; [ "$v" = on ] && n=$N-det
    train ft-dark$n "${D[@]}" --detach-real-loop "$v" --veil on --init "${INIT:-default}" --steps $((9000 / S)) \
      --seed 5 --real-mix default --gate on --sky 0.5 --lambda-idt 40 --dry-db 38 --dry-stat p5 &
  done
  if [ "$SET" = dark ]; then
    train t128-dark-noveil "${D[@]}" "${J[@]}" &
    SUP=(--steps $((7000 / S)) --pretrain-steps $((7000 / S)) --seed 0)
    train sup-fog-dark "${D[@]}" --veil on "${SUP[@]}" --syn-style streak-fog &
    train sup-phys-dark-noveil "${D[@]}" "${SUP[@]}" --syn-style physics &
  fi
elif [ "$SET" = bare ]; then
  D=(--crop 128 --tone on --dark on --stage1-gate on --veil on "${C[@]}" --sky 0.5 --dry-db 38 --dry-stat p5)
  train t128-dark "${D[@]}" &
  VEIL=${VEIL:-benchmarks/results/learned_veil.safetensors}
  VEILED=$VEIL train bare-dark "${D[@]}" &
  VEILED=$VEIL train bare-dark-bg "${D[@]}" --translator-background on &
elif [ "$SET" = resume ]; then
  unfinished=$(python3 - "$RUNS" <<'EOF'
import json, sys
from pathlib import Path
for cfg in sorted(Path(sys.argv[1]).glob("*/config.json")):
    card = cfg.parent / "g3.json"
    step = json.loads(card.read_text())["step"] if card.exists() else 0
    if step < json.loads(cfg.read_text())["steps"]:
        print(cfg.parent)
EOF
)
  for run in $unfinished; do
    ( t=$(left) cmd=(rainloop train)
      [ -e "$run.veil.safetensors" ] && cmd=($(veiled "$run.veil.safetensors"))
      timeout -k 60 -s INT "$t" "${cmd[@]}" --resume --out "$run" --threads 1 --workers ${WORKERS:-2} \
        --ckpt-every 500 --val-every 500 --log-every 100 >>"$run.log" 2>&1
      rc=$?
      echo "$(date +%T) $run: resumed, exit $rc ($(tail -n 2 "$run.log" | tr '\n' ' '))" ) &
  done
else
  echo "unknown set $SET (recipes, fog, sky, tone, scratch, ceiling, long, long2, width, dark, background, bare or resume)"; exit 2
fi
wait

python3 - "$RUNS" <<'EOF'
import json, statistics, sys
from pathlib import Path
print(f"{'run':<10} {'steps':>6} {'s/step 1':>9} {'s/step 2':>9} {'val PSNR':>9} {'input':>7} {'dry':>7} {'minutes':>8}")
for run in sorted(p for p in Path(sys.argv[1]).iterdir() if p.is_dir()):
    lines = [json.loads(x) for x in (run / "losses.jsonl").read_text().splitlines()] if (run / "losses.jsonl").exists() else []
    card = json.loads((run / "g3.json").read_text()) if (run / "g3.json").exists() else {}
    sec = {s: statistics.median([x["sec"] for x in lines if x["stage"] == s] or [0]) for s in (1, 2)}
    val = lambda k: f"{card[k]:.2f}" if card.get(k) is not None else "-"
    print(f"{run.name:<10} {card.get('step', 0):>6} {sec[1]:>9.3f} {sec[2]:>9.3f} {val('val_psnr'):>9} "
          f"{val('val_input_psnr'):>7} {val('val_dry_psnr'):>7} {card.get('train_seconds', 0) / 60:>8.1f}")
EOF
if [ -n "${PACK:-}" ]; then
  mkdir -p "$PACK"
  for run in "$RUNS"/*/; do
    run=${run%/}; name=$(basename "$run")
    files=()
    for f in g3.safetensors g3.json config.json losses.jsonl; do [ -e "$run/$f" ] && files+=("$name/$f"); done
    [ -e "$run.log" ] && files+=("$name.log")
    tar czf "$PACK/$name.tgz" -C "$RUNS" "${files[@]}"
  done
  ls -l "$PACK"
fi
