"""A run folder's config.json: the resolved config (networks, losses, data, seed, step budget).

Everything needed to rebuild the networks and continue the run lives there,
so `--resume` needs only the folder. A run is never started over an existing
one, and a resumed run refuses settings that would make it a different run.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import torch

from rainloop.atomic import write_json
from rainloop.errors import RainloopError
from rainloop.files import read_json
from rainloop.training.derainer_io import read_card, resolve_weights
from rainloop.training.gate_calibration import STATS, parse_dry_sizes
from rainloop.training.networks import SWITCHES_OF, build_derainer, build_discriminator, build_translator
from rainloop.training.presets import RECORDS, apply_sets, flat, load_config, override

FORMAT = "rainloop-run/1"
CONFIG = "config.json"
# `rainloop train`'s common options -> the field each sets; they win over --config and --set.
OPTIONS = {"steps": "steps", "pretrain_steps": "pretrain_steps", "seed": "seed", "crop": "crop", "batch": "batch",
           "dry_db": "dry_db", "init": "init",
           **{k: f"data.{k}" for k in ("syn", "real", "val", "every", "syn_style", "sky", "dry")}}


def make_config(config: str = "edge", sets=(), **options) -> dict:
    """A new run's config: `config` (a preset, a TOML file or a run folder, presets.load_config), then
    `sets` ("key=value", presets.apply_sets), then `options` (OPTIONS; None = not given).

    `init` (a run folder or a derainer, see training.warm_start) starts from trained weights, in stage 2.
    """
    unknown = set(options) - set(OPTIONS)
    if unknown:
        raise TypeError(f"unknown options {sorted(unknown)}")
    cfg, stated = load_config(config)
    cfg, set_keys = apply_sets(cfg, sets)
    cfg = _with_options(cfg, options)
    if cfg.get("init"):
        _take_init(cfg, stated | set_keys)
    cfg.setdefault("pretrain_steps", cfg["steps"] // 2)
    for key in ("dry", "dry_sizes"):
        cfg["data"].setdefault(key, None)
    # "batch" is global: one optimizer step's images over all processes, each training on batch / processes
    cfg.update(batch_scope="global", format=FORMAT)
    check_config(cfg)
    return cfg


def _with_options(cfg: dict, options: dict) -> dict:
    given = {k: v for k, v in options.items() if v is not None}
    if "crop" in given:
        # Keep the config's load/crop ratio (CycleGAN resizes a little, then crops).
        cfg = {**cfg, "load": round(given["crop"] * cfg["load"] / cfg["crop"])}
    layer: dict = {}
    for name, value in given.items():
        table, _, key = OPTIONS[name].rpartition(".")
        (layer.setdefault(table, {}) if table else layer)[key] = value
    return override(cfg, layer, "options")


def _take_init(cfg: dict, stated: set[str]) -> None:
    """A fine-tune starts from its source's weights, which fix its networks: the derainer, and from
    a run folder the translators and critics too. A head the config asks for and the source lacks
    starts neutral (warm_start.load_grown); any other field the user set must fit the weights."""
    init = cfg["init"]
    if cfg.get("pretrain_steps"):
        raise RainloopError("--init starts from a trained G3 in stage 2; pretrain_steps must be 0")
    cfg["pretrain_steps"] = 0
    for table, spec in init_specs(init).items():
        taken = dict(spec)
        if table == "g1":
            taken.update({k: True for k in SWITCHES_OF.get(spec["type"], ()) if cfg["g1"].get(k)})
        for key in sorted(k.partition(".")[2] for k in stated if k.startswith(f"{table}.")):
            if cfg[table].get(key) != taken.get(key):
                raise RainloopError(f"{table}.{key} {cfg[table].get(key)}: --init {init} has {spec.get(key)}, "
                                    "and its weights fit only that")
        cfg[table] = taken


def init_path(source: str) -> Path:
    """An --init source as a path: a run folder or a derainer; `default` is the bundled one."""
    if source == "default":
        from rainloop.models import resolve

        return resolve("default", want="weights")
    return Path(source)


def init_specs(source: str) -> dict[str, dict]:
    """The network specs an --init source's weights fix: a run folder's g1, g2 and d; a derainer's g1."""
    path = init_path(source)
    if (path / CONFIG).is_file():
        cfg = read_run_config(path)
        return {key: cfg[key] for key in ("g1", "g2", "d")}
    return {"g1": read_card(resolve_weights(path))["net"]}


def check_config(cfg: dict) -> None:
    """A new run's config holds together (each field's type is checked where it is read)."""
    if cfg.get("dry_db") is not None and not cfg["g1"].get("gate"):
        raise RainloopError("--dry-db sets the rain gate's operating point; this derainer has no gate (g1.gate)")
    if cfg.get("dry_stat") not in STATS:
        raise RainloopError(f"dry_stat {cfg.get('dry_stat')!r}: choose one of {', '.join(STATS)}")
    for key in ("dry", "dry_sizes"):
        if cfg["data"].get(key) and cfg.get("dry_db") is None:
            raise RainloopError(f"data.{key}: dry frames are only read to set the gate; give --dry-db too")
    if cfg["data"].get("dry_sizes"):
        parse_dry_sizes(cfg["data"]["dry_sizes"])
    m = _derainer_multiple(cfg)
    if cfg["crop"] < m or cfg["crop"] % m:
        raise RainloopError(f"crop {cfg['crop']}: the {cfg['preset']} derainer needs a multiple of {m}")
    for key, value in (("batch", cfg["batch"]), ("steps", cfg["steps"]), ("data.every", cfg["data"]["every"])):
        if value < 1:
            raise RainloopError(f"{key} must be at least 1")
    if cfg["pretrain_steps"] < 0:
        raise RainloopError("pretrain_steps must be 0 or more")


def _derainer_multiple(cfg: dict) -> int:
    """Every network builds (on the meta device: no memory, no time); the derainer's size multiple."""
    nets = {}
    for key, build in (("g1", build_derainer), ("g2", build_translator), ("d", build_discriminator)):
        try:
            with torch.device("meta"), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # zero-sized layers, refused below
                nets[key] = build(cfg[key])
        except (TypeError, ValueError, RuntimeError) as exc:
            raise RainloopError(f"{key} {cfg[key]}: cannot be built ({str(exc).splitlines()[0]})") from None
        if any(p.numel() == 0 for p in nets[key].parameters()):
            raise RainloopError(f"{key} {cfg[key]}: a layer would have no channels")
    return int(nets["g1"].multiple)


def read_run_config(run_dir: str | Path) -> dict:
    """A run folder's config.json (or the file itself) as the run trained: fields that runs from
    before them lack hold what those runs did."""
    path = Path(run_dir)
    path = path if path.suffix == ".json" else path / CONFIG
    if not path.exists():
        raise RainloopError(f"{run_dir}: not a training run (no {CONFIG})")
    cfg = read_json(path, "run config", FORMAT)
    cfg["data"].setdefault("real_mix", "rain")  # runs from before data.real_mix were always raining
    cfg["data"].setdefault("syn_style", "streak")  # and those from before --syn-style saw plain streaks
    cfg["data"].setdefault("sky", 0.0)
    cfg["data"].setdefault("target", "all")  # and learned to remove everything the rain changed
    cfg.setdefault("dry_stat", "mean")  # and --dry-db meant the mean of the dry frames
    cfg.setdefault("stage1_gate", False)  # and stage 1 trained the gate through the MSE alone
    cfg["data"].setdefault("dry_sizes", "320x240")  # judged at 320x240, footage and built-in crops alike
    return cfg


def read_config(run_dir: str | Path) -> dict:
    """A run's config to train on again: resumed, or as --config for a new run."""
    cfg = read_run_config(run_dir)
    if cfg.get("detach_real_loop"):
        raise RainloopError(f"{run_dir}: trained with a detached real loop, which is no longer supported; "
                            f"start a new run with --init {run_dir}")
    return cfg


def create_run(run_dir: str | Path, cfg: dict) -> None:
    """Start a new run folder; refuse to start over anything already there."""
    check_free(run_dir)
    write_json(Path(run_dir) / CONFIG, cfg)


def check_free(run_dir: str | Path) -> None:
    run_dir = Path(run_dir)
    if (run_dir / CONFIG).exists():
        raise RainloopError(f"{run_dir}: a run already exists there; pass --resume to continue it or pick another --out")
    if run_dir.exists() and (not run_dir.is_dir() or any(run_dir.iterdir())):
        raise RainloopError(f"{run_dir}: exists and is not an empty folder; pick another --out")


def resume_run(run_dir: str | Path, config: str | None = None, sets=(), **options) -> dict:
    """Reopen a run. What `config`, `sets` and `options` give (as make_config takes them) must be
    what the run has: only the step budget may change (through --steps or --set steps=N)."""
    cfg = read_config(run_dir)
    wanted, claims, set_keys = cfg, {}, set()
    if config is not None:
        wanted = load_config(config)[0]
        claims = {key: f"--config {config}" for key in flat(wanted) if key not in RECORDS}
    for text in sets:
        wanted, keys = apply_sets(wanted, [text])
        claims.update({key: f"--set {text}" for key in keys})
        set_keys |= keys
    wanted = _with_options(wanted, options)
    claims.update({OPTIONS[k]: f"--{k.replace('_', '-')} {v}" for k, v in options.items() if v is not None})
    want, have = flat(wanted), flat(cfg)
    for key, given in claims.items():
        if key != "steps" and want.get(key) != have.get(key):
            raise RainloopError(f"{run_dir}: {given} sets {key} to {want.get(key)!r}, the run has "
                                f"{have.get(key)!r}; a resumed run keeps its settings (only --steps may change)")
    steps = options.get("steps")
    if steps is None and "steps" in set_keys:
        steps = wanted["steps"]
    if steps is not None:
        if steps < 1:
            raise RainloopError("steps must be at least 1")
        cfg["steps"] = int(steps)
        write_json(Path(run_dir) / CONFIG, cfg)
    return cfg
