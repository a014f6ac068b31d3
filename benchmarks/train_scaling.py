"""Training steps per second on 1, 2, ... processes (torchrun + DistributedDataParallel).

Each row is `torchrun --nproc-per-node N -m rainloop train` on built-in data at the same
global batch, so a step does the same work whatever N; a step's time is read from the run's
losses.jsonl: the median over stage-2 steps (the joint loops) after two warm-up steps. On CPU
(gloo) each process gets cores / N torch threads, so every row uses the whole machine; with
--device cuda (NCCL) each process takes one GPU.

    python benchmarks/train_scaling.py OUT.json                    # 1 and 2 CPU processes, tiny preset
    python benchmarks/train_scaling.py OUT.json --device cuda --procs 1,2,4,8 --config edge --batch 32
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

WARMUP = 2  # stage-2 steps left out: the first builds the DDP wrappers of the joint loops


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def seconds_per_step(procs: int, args, folder: Path) -> float:
    run = folder / f"run-{procs}"
    threads = max(1, (os.cpu_count() or 1) // procs)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", str(procs), "--master-addr",
           "127.0.0.1", "--master-port", str(free_port()), "-m", "rainloop", "train", "--config", args.config,
           "--device", args.device, "--batch", str(args.batch), "--crop", str(args.crop), "--val", "none",
           "--steps", str(2 + args.steps), "--pretrain-steps", "2", "--ckpt-every", "100000",
           "--threads", str(threads), "--out", str(run)]
    subprocess.run(cmd, check=True, capture_output=True, text=True)
    lines = [json.loads(line) for line in (run / "losses.jsonl").read_text().splitlines()]
    return statistics.median([line["sec"] for line in lines if line["stage"] == 2][WARMUP:])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", help="JSON file to write")
    parser.add_argument("--procs", default="1,2", help="process counts, comma-separated (default 1,2)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--config", default="tiny", help="preset or config file (default tiny)")
    parser.add_argument("--batch", type=int, default=8, help="global batch (default 8)")
    parser.add_argument("--crop", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10, help="stage-2 steps per run (default 10)")
    args = parser.parse_args()
    procs = [int(p) for p in args.procs.split(",")]
    if args.steps <= WARMUP:
        parser.error(f"--steps must exceed the {WARMUP} warm-up steps")

    import torch

    from rainloop.atomic import write_json
    from rainloop.training.loop import machine

    rows = []
    with tempfile.TemporaryDirectory(prefix="rainloop-scaling-") as tmp:
        for n in procs:
            sec = seconds_per_step(n, args, Path(tmp))
            rows.append({"processes": n, "batch_per_process": args.batch // n, "sec_per_step": round(sec, 4),
                         "steps_per_s": round(1 / sec, 3), "images_per_s": round(args.batch / sec, 1)})
    base = rows[0]["steps_per_s"]
    for row in rows:
        row["speedup"] = round(row["steps_per_s"] / base, 2)
    where = machine(torch.device("cuda" if args.device == "cuda" else "cpu"))
    print(f"{args.config} preset, stage 2, global batch {args.batch}, crop {args.crop}, {args.device}; {where}")
    print("| processes | batch per process | s/step | steps/s | images/s | speedup |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['processes']} | {r['batch_per_process']} | {r['sec_per_step']:.3f} | {r['steps_per_s']:.2f} | "
              f"{r['images_per_s']:.1f} | {r['speedup']:.2f}x |")
    record = {"date": datetime.date.today().isoformat(), "machine": where, "preset": args.config,
              "device": args.device, "batch": args.batch, "crop": args.crop, "cpu_threads_total": os.cpu_count(),
              "rows": rows}
    write_json(args.out, record)
    return 0


if __name__ == "__main__":
    sys.exit(main())
