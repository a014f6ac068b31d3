"""A run folder's config.json: the preset after overrides, the data, the seed, the step budget.

Everything needed to rebuild the networks and continue the run lives there,
so `--resume` needs only the folder. A run is never started over an existing
one, and a resumed run refuses settings that would make it a different run.
"""

from __future__ import annotations

from pathlib import Path

from rainloop.atomic import write_json
from rainloop.errors import RainloopError
from rainloop.files import read_json
from rainloop.training.derainer_io import read_card, resolve_weights
from rainloop.training.gate_calibration import DEFAULT_STAT, STATS, parse_dry_sizes
from rainloop.training.networks import SWITCHES, SWITCHES_OF
from rainloop.training.presets import get_preset

FORMAT = "rainloop-run/1"
CONFIG = "config.json"
DEFAULT_STEPS = 2000
# Overridable preset entries -> where they live in the config.
LOSS_KEYS = {"lambda_sup": "supervised", "lambda_cyc": "cycle", "lambda_adv": "adversarial",
             "lambda_idt": "identity", "lambda_gate": "gate"}
PLAIN_KEYS = ("crop", "batch", "lr", "lr_pretrain", "gate", "tone", "veil", "dark", "width", "stage1_gate", "dry_db",
              "dry_stat", "translator_background", "detach_real_loop")
OVERRIDES = (*PLAIN_KEYS, *LOSS_KEYS)  # what `rainloop train` may set on a preset


def make_config(preset: str = "edge", *, syn: str = "builtin", real: str = "builtin", val: str = "builtin",
                rain_mix: str = "default", syn_style: str = "broad", real_mix: str = "default", every: int = 1,
                sky: float = 0.0, dry: str | None = None, dry_sizes: str | None = None,
                steps: int | None = None, pretrain_steps: int | None = None, seed: int = 0,
                init: str | None = None, **overrides) -> dict:
    """The preset dict with overrides applied, plus the data and the schedule.

    overrides: crop, batch, lr, lr_pretrain, gate, tone, veil and dark ("on"/"off"), width (the derainer's
    base channels), stage1_gate ("on"/"off": the gate term in stage 1 too), translator_background ("on"/"off":
    G2 and G4 also see the background), detach_real_loop ("on"/"off": the real loop's cycle does not train G3),
    lambda_sup, lambda_cyc, lambda_adv, lambda_idt, lambda_gate (None = keep the preset's value); dry_db (the exported
    G3's gate is shifted until dry frames reach it by dry_stat, training.gate_calibration). `init` (a run folder or a
    derainer, see training.warm_start) starts from trained weights, in stage 2.
    """
    cfg = get_preset(preset)
    unknown = set(overrides) - set(OVERRIDES)
    if unknown:
        raise TypeError(f"unknown overrides {sorted(unknown)}")
    for key, value in overrides.items():
        if value is None:
            continue
        if key in SWITCHES:
            if key not in SWITCHES_OF[cfg["g1"]["type"]]:
                if value == "off":
                    continue
                raise RainloopError(f"--{key}: the {preset} preset's derainer ({cfg['g1']['type']}) has no such option")
            cfg["g1"][key] = value == "on"
        elif key in LOSS_KEYS:
            cfg["loss"][LOSS_KEYS[key]] = float(value)
        elif key == "width":
            if value < 1:
                raise RainloopError(f"--width {value}: the derainer's base channels, at least 1")
            cfg["g1"]["base"] = int(value)
        elif key in ("stage1_gate", "detach_real_loop"):
            cfg[key] = value == "on"
        elif key == "translator_background":
            cfg["g2"].pop("background", None)  # off is the paper's translator, as the presets spell it
            if value == "on":
                cfg["g2"]["background"] = True
        elif key == "crop":
            # Keep the preset's load/crop ratio (CycleGAN resizes a little, then crops).
            cfg["load"] = round(value * cfg["load"] / cfg["crop"])
            cfg["crop"] = int(value)
        else:
            cfg[key] = value
    cfg.setdefault("dry_stat", DEFAULT_STAT)
    cfg.setdefault("stage1_gate", True)
    cfg.setdefault("detach_real_loop", False)
    steps = DEFAULT_STEPS if steps is None else steps
    if init is not None:
        if pretrain_steps:
            raise RainloopError("--init starts from a trained G3 in stage 2; --pretrain-steps must be 0")
        pretrain_steps = 0
        cfg["init"] = init
        source, translator = init_specs(init)
        for switch in SWITCHES:
            if overrides.get(switch) is None and source.get(switch):
                cfg["g1"][switch] = True  # a fine-tune keeps what it starts from unless told otherwise
        if overrides.get("translator_background") is None and translator.get("background"):
            cfg["g2"]["background"] = True  # a run folder's translators load only into their own kind
        if overrides.get("width") is None:
            cfg["g1"]["base"] = source.get("base", cfg["g1"]["base"])  # its weights fix the width
        elif source.get("base") != cfg["g1"]["base"]:
            raise RainloopError(f"--width {overrides['width']}: --init {init} has width {source.get('base')}, "
                                "and its weights fit only that")
    # "batch" is global: one optimizer step's images over all processes, each training on batch / processes
    cfg["batch_scope"] = "global"
    cfg.update(format=FORMAT, steps=int(steps),
               pretrain_steps=int(steps // 2 if pretrain_steps is None else pretrain_steps), seed=int(seed),
               data={"syn": syn, "real": real, "val": val, "rain_mix": rain_mix, "syn_style": syn_style,
                     "real_mix": real_mix, "every": int(every), "sky": float(sky), "dry": dry,
                     "dry_sizes": dry_sizes})
    check_config(cfg)
    return cfg


def init_path(source: str) -> Path:
    """An --init source as a path: a run folder or a derainer; `default` is the bundled one."""
    if source == "default":
        from rainloop.models import resolve

        return resolve("default", want="weights")
    return Path(source)


def init_specs(source: str) -> tuple[dict, dict]:
    """The derainer and translator specs of an --init source; a derainer brings no translator."""
    path = init_path(source)
    if (path / CONFIG).is_file():
        cfg = read_config(path)
        return cfg["g1"], cfg["g2"]
    return read_card(resolve_weights(path))["net"], {}


def check_config(cfg: dict) -> None:
    if cfg.get("dry_db") is not None and not cfg["g1"].get("gate"):
        raise RainloopError("--dry-db sets the rain gate's operating point; this derainer has no gate (--gate on)")
    if cfg.get("dry_stat") not in STATS:
        raise RainloopError(f"--dry-stat {cfg.get('dry_stat')!r}: choose one of {', '.join(STATS)}")
    for flag in ("dry", "dry_sizes"):
        if cfg["data"].get(flag) and cfg.get("dry_db") is None:
            raise RainloopError(f"--{flag.replace('_', '-')}: dry frames are only read to set the gate; give --dry-db too")
    if cfg["data"].get("dry_sizes"):
        parse_dry_sizes(cfg["data"]["dry_sizes"])
    m = multiple_of(cfg)
    if cfg["crop"] < m or cfg["crop"] % m:
        raise RainloopError(f"--crop {cfg['crop']}: the {cfg['preset']} derainer needs a multiple of {m}")
    for key in ("batch", "steps"):
        if cfg[key] < 1:
            raise RainloopError(f"--{key} must be at least 1")
    if cfg["pretrain_steps"] < 0:
        raise RainloopError("--pretrain-steps must be 0 or more")


def multiple_of(cfg: dict) -> int:
    from rainloop.training.networks import build_derainer

    return int(build_derainer(cfg["g1"]).multiple)


def read_config(run_dir: str | Path) -> dict:
    path = Path(run_dir) / CONFIG
    if not path.exists():
        raise RainloopError(f"{run_dir}: not a training run (no {CONFIG})")
    cfg = read_json(path, "run config", FORMAT)
    cfg["data"].setdefault("real_mix", "rain")  # runs from before --real-mix were always raining
    cfg["data"].setdefault("syn_style", "streak")  # and those from before --syn-style saw plain streaks
    cfg["data"].setdefault("sky", 0.0)
    cfg.setdefault("dry_stat", "mean")  # and --dry-db meant the mean of the dry frames
    cfg.setdefault("stage1_gate", False)  # and stage 1 trained the gate through the MSE alone
    cfg.setdefault("detach_real_loop", False)  # and the real loop's cycle trained G3 as in the paper
    cfg["data"].setdefault("dry_sizes", "320x240")  # judged at 320x240, footage and built-in crops alike
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


def resume_run(run_dir: str | Path, requested: dict) -> dict:
    """Reopen a run; `requested` holds the values a user set explicitly (None = not given).

    Only the step budget may change; any other explicit setting must match.
    """
    cfg = read_config(run_dir)
    if requested.get("preset") not in (None, cfg["preset"]):
        raise RainloopError(f"{run_dir}: was trained with preset {cfg['preset']!r}, "
                            f"cannot resume it as {requested['preset']!r}")
    for key, val in requested.items():
        if val is None or key in ("preset", "steps"):
            continue
        have = _current(cfg, key)
        if have != val:
            raise RainloopError(f"{run_dir}: --{key.replace('_', '-')} {val} differs from the run's {have}; "
                                "a resumed run keeps its settings (only --steps may change)")
    if requested.get("steps") is not None:
        cfg["steps"] = int(requested["steps"])
        check_config(cfg)
        write_json(Path(run_dir) / CONFIG, cfg)
    return cfg


def _current(cfg: dict, key: str):
    if key in SWITCHES:
        return "on" if cfg["g1"].get(key) else "off"
    if key == "width":
        return cfg["g1"]["base"]
    if key in ("stage1_gate", "detach_real_loop"):
        return "on" if cfg.get(key) else "off"
    if key == "translator_background":
        return "on" if cfg["g2"].get("background") else "off"
    if key in LOSS_KEYS:
        return cfg["loss"].get(LOSS_KEYS[key], 0.0)
    if key in cfg["data"]:
        return cfg["data"][key]
    return cfg.get(key)
