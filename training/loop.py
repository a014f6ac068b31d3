"""Running a training: data per step, the JRGR step, logs, validation, checkpoints, the exported G3.

Outputs in the run folder:
- config.json (runs.py), losses.jsonl (one line per step), tb/ (TensorBoard);
- checkpoints/step-N.{safetensors,json} (checkpoint.py), resumable exactly;
- g3.safetensors + g3.json: the deployable derainer (G1 while still in stage 1).
"""

from __future__ import annotations

import copy
import json
import platform
import signal
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from rainloop.atomic import write_text
from rainloop.training.batches import StepBatches, open_real, open_synthetic, step_batches, step_rngs
from rainloop.training.checkpoint import load_latest, save_checkpoint
from rainloop.training.derainer_io import save_derainer
from rainloop.training.distributed import World, agree, from_main, share_of, share_state, step_means
from rainloop.training.gate_calibration import calibrate, dry_set
from rainloop.training.jrgr import JRGR, forward_loops
from rainloop.training.runs import check_free, create_run, read_config
from rainloop.training.validation import evaluate, open_val
from rainloop.training.warm_start import warm_start


@dataclass
class Options:
    """How to run (never changes what is learned, except `amp`, and `world`, whose ranks each draw
    their share of a batch from streams of their own)."""

    device: str = "cpu"
    amp: bool = False
    workers: int = 0
    log_every: int = 10
    ckpt_every: int = 250
    val_every: int = 250
    progress: bool = True
    tensorboard: bool = True
    command: str = ""
    world: World = World()


def train(run_dir: str | Path, opts: Options = Options(), until: int | None = None, new: dict | None = None) -> dict:
    """Train the run in `run_dir` from its newest checkpoint up to config["steps"], or
    only up to step `until` (the run stays resumable). With `new` (a runs.make_config
    dict) the run folder is created first, once the data has opened without error.

    In a run of several processes (opts.world, its process group started) every rank
    calls this; rank 0 alone reads and writes the run folder.

    Returns {"step", "steps" (the run's planned total), "stage", "val", "stopped", "train_seconds"}.
    """
    run_dir = Path(run_dir)
    world = opts.world
    cfg = from_main(world, lambda: _open_config(run_dir, new))
    share = share_of(cfg["batch"], world)
    data = cfg["data"]
    model = JRGR(cfg, opts.device, opts.amp, world)

    def prepare():
        sources = (open_synthetic(data["syn"], cfg["load"], data["rain_mix"], data["syn_style"], data["sky"],
                                  data["target"]),
                   open_real(data["real"], cfg["load"], data["every"], data["real_mix"], data["sky"]))
        return sources, _starting_point(run_dir, cfg, model, new is not None) if world.main else None

    (syn, real), start = agree(world, prepare)
    if world.size > 1:
        _same_start(model, world)
    if new is not None and world.main:
        create_run(run_dir, cfg)
    end = cfg["steps"] if until is None else min(until, cfg["steps"])
    described = {"syn": syn.description, "real": real.description, "val": data["val"]}
    record = Record(run_dir, model, opts, end, described, *start) if world.main else None
    stopped = False
    steps = range(model.step, end)
    drawn = StepBatches(syn, real, cfg["seed"], share, cfg["crop"], cfg["pretrain_steps"], world.rank, world.size)
    with StopOnSignal() as stop:
        t0 = time.perf_counter()
        for step, batch in zip(steps, step_batches(drawn, steps, opts.workers, model.device)):
            terms = model.train_step(step, batch, step_rngs(cfg["seed"], step)["pool"])
            terms, stopped = step_means(world, terms, stop.requested, model.device)
            seconds = time.perf_counter() - t0
            model.train_seconds += seconds
            if record is not None:
                record.step(step, terms, seconds, batch, last=step + 1 == end or stopped)
            if stopped:
                break
            t0 = time.perf_counter()
    val = record.close() if record is not None else {}
    return {"step": model.step, "steps": cfg["steps"], "stage": model.stage(max(0, model.step - 1)), "val": val,
            "stopped": stopped, "train_seconds": model.train_seconds}


def _open_config(run_dir: Path, new: dict | None) -> dict:
    if new is None:
        return read_config(run_dir)
    check_free(run_dir)
    return new


def _starting_point(run_dir: Path, cfg: dict, model: JRGR, is_new: bool) -> tuple:
    """Rank 0's part before training: the validation and dry sets, and the model's starting
    state (newest checkpoint or --init); read before the run folder exists."""
    val_pairs = open_val(cfg["data"]["val"])
    dry = dry_set(cfg["data"].get("dry"), cfg["data"].get("dry_sizes")) if cfg.get("dry_db") else None
    val: dict = {}
    ckpt = None if is_new else load_latest(run_dir / "checkpoints")
    if ckpt is not None:
        model.load_state(*ckpt, source=str(run_dir / "checkpoints" / ckpt[1]["tensors"]))
        val = ckpt[1].get("val", {})
    elif cfg.get("init"):  # also when a warm-started run was killed before its first checkpoint
        cfg["init_from"] = warm_start(model, cfg["init"])
    return val_pairs, dry, val


def _same_start(model: JRGR, world: World) -> None:
    """Every rank starts from rank 0's state, whatever that was loaded from."""
    state = None
    if world.main:
        tensors, info = model.state()
        state = tensors, {**info, "step": model.step}
    tensors, info = share_state(world, state, model.device)
    if not world.main:
        model.load_state(tensors, info)


class Record:
    """What rank 0 writes while training: losses.jsonl, TensorBoard, the progress bar,
    validation, checkpoints and the exported derainer."""

    def __init__(self, run_dir: Path, model: JRGR, opts: Options, end: int, described: dict, val_pairs, dry,
                 val: dict):
        self.run_dir, self.model, self.opts, self.end, self.described = run_dir, model, opts, end, described
        self.val_pairs, self.dry, self.val = val_pairs, dry, val
        self.log = LossLog(run_dir / "losses.jsonl", model.step)
        self.board = _board(run_dir / "tb", model.step) if opts.tensorboard else None
        self.bar = _progress(model.step, end, opts.progress)

    def step(self, step: int, terms: dict, seconds: float, batch: dict, last: bool) -> None:
        model, opts, board = self.model, self.opts, self.board
        stage = model.stage(step)
        self.log.write(step, stage, terms, seconds)
        if board is not None:
            for k, v in terms.items():
                board.add_scalar(f"stage{stage}/{k}", v, step)
        self.bar.update(1)
        if (step + 1) % opts.log_every == 0:
            self.bar.set_postfix_str(_short(stage, terms, seconds))
        if (step + 1) % opts.val_every == 0 or last:
            self.val = {**evaluate(model.derainer(), self.val_pairs, model.device), "step": step + 1}
            if board is not None:
                for k in ("psnr", "ssim", "dry_psnr"):
                    if k in self.val:
                        board.add_scalar(f"val/{k}", self.val[k], step)
                board.add_image("loops", _grid(model, batch, stage), step)
        if (step + 1) % opts.ckpt_every == 0 or last:
            _save(self.run_dir, model, self.val, self.log.flush_means(), self.described, self.dry, opts)

    def close(self) -> dict:
        """The last validation scores."""
        self.bar.close()
        if self.board is not None:
            self.board.close()
        self.log.close()
        return self.val


def _save(run_dir: Path, model: JRGR, val: dict, losses: dict, described: dict, dry, opts: Options) -> None:
    tensors, info = model.state()
    processes = opts.world.size
    save_checkpoint(run_dir / "checkpoints", model.step, tensors,
                    {**info, "val": val, "losses": losses, "processes": processes})
    cfg = model.cfg
    meta = {"preset": cfg["preset"], "step": model.step, "stage": info["stage"], "seed": cfg["seed"],
            "data": described, "val_psnr": val.get("psnr"), "val_ssim": val.get("ssim"),
            "val_input_psnr": val.get("input_psnr"), "val_input_ssim": val.get("input_ssim"),
            "val_dry_psnr": val.get("dry_psnr"),
            **({"init": cfg["init_from"]} if "init_from" in cfg else {}),
            "train_seconds": round(model.train_seconds, 1),
            "machine": machine(model.device) + (f" x {processes} processes" if processes > 1 else ""),
            "command": opts.command}
    derainer = model.derainer()
    if dry is not None:  # --dry-db; runs.check_config allows it only for gated derainers
        derainer = copy.deepcopy(derainer)
        meta["gate_calibration"] = calibrate(derainer, cfg["dry_db"], dry, cfg["dry_stat"])
    save_derainer(derainer, cfg["g1"], run_dir / "g3.safetensors", meta)


def dry_run(cfg: dict, opts: Options = Options()) -> list[dict]:
    """Two steps of each stage in a temporary run folder; returns the per-step log lines."""
    with tempfile.TemporaryDirectory(prefix="rainloop-dry-") as tmp:
        run = Path(tmp) / "run"
        pretrain = 0 if cfg.get("init") else 2  # a warm start has no stage 1
        train(run, replace(opts, progress=False, ckpt_every=4, val_every=4), new={**cfg, "steps": 4, "pretrain_steps": pretrain})
        return read_losses(run)


def read_losses(run_dir: str | Path) -> list[dict]:
    path = Path(run_dir) / "losses.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()]


class LossLog:
    """losses.jsonl: one JSON line per step; reopening at `start` drops lines from a later,
    abandoned attempt (e.g. after falling back to an older checkpoint)."""

    def __init__(self, path: Path, start: int):
        kept = []
        if path.exists():
            for line in path.read_text().splitlines():
                try:
                    if json.loads(line)["step"] < start:
                        kept.append(line + "\n")
                except ValueError:  # a line cut short by a kill
                    continue
        write_text(path, "".join(kept))
        self.file = path.open("a")
        self.window: dict[str, list[float]] = {}

    def write(self, step: int, stage: int, terms: dict, seconds: float) -> None:
        self.file.write(json.dumps({"step": step, "stage": stage, **terms, "sec": round(seconds, 4)}) + "\n")
        self.file.flush()
        for k, v in terms.items():
            self.window.setdefault(k, []).append(v)

    def flush_means(self) -> dict[str, float]:
        """Mean of each term since the last call (stored in the checkpoint)."""
        means = {k: sum(v) / len(v) for k, v in self.window.items()}
        self.window = {}
        return means

    def close(self) -> None:
        self.file.close()


class StopOnSignal:
    """Ctrl-C / SIGTERM: finish the step, save a checkpoint, stop. A second Ctrl-C aborts at once."""

    def __init__(self):
        self.requested = False
        self._old = {}

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print("\nstopping after this step (Ctrl-C again to abort without saving)", file=sys.stderr)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)


def _board(path: Path, start: int):
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(str(path), purge_step=start)


def _progress(start: int, end: int, enabled: bool):
    from tqdm import tqdm

    tty = sys.stderr.isatty()
    return tqdm(total=end, initial=start, disable=not enabled, unit="step", dynamic_ncols=True,
                mininterval=0.5 if tty else 30.0)


def _short(stage: int, terms: dict, seconds: float) -> str:
    shown = {k: v for k, v in terms.items() if k != "lr"}
    return f"stage {stage} " + " ".join(f"{k}={v:.4g}" for k, v in shown.items()) + f" {seconds:.2f}s/step"


@torch.no_grad()
def _grid(model: JRGR, batch: dict, stage: int) -> torch.Tensor:
    """First image of the batch through the loops: O_s, Bs1, Ot1 over O_t, Bt1, Os1 (stage 1: O_s, Bs1, B_s)."""
    nets = model.nets
    one = {k: v[:1] for k, v in batch.items()}
    if stage == 1:
        rows = [[one["O_s"], nets.g1(one["O_s"]), one["B_s"]]]
    else:
        out = forward_loops(nets, one["O_s"], one["O_t"])
        rows = [[one["O_s"], out["Bs1"], out["Ot1"]], [one["O_t"], out["Bt1"], out["Os1"]]]
    grid = torch.cat([torch.cat(row, dim=3) for row in rows], dim=2)
    return grid[0].float().clamp(0, 1).cpu()


def machine(device: torch.device) -> str:
    """Where the run trained: OS, CPU model and GPU (if any), for the model card."""
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else "no GPU"
    return f"{platform.platform()}; {cpu or 'unknown CPU'}; {gpu}"
