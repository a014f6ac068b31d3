"""Training configs: the presets (TOML files in configs/), a user's file built on one, and `--set`.

A config is plain data (JSON-able) so a run folder's config.json can rebuild
every network without these files. `rainloop train --config SOURCE` takes a
preset name, a TOML file (`base = "edge"` and the fields it changes; a file
without `base` gives every field), or a run folder's config.json (that run's
settings, for a new run); `--set key=value` then changes single fields.
Every field is checked: a misspelt key or a value of the wrong type is one
line naming the file (or the --set) and the key, not a run that quietly
ignores it.
"""

from __future__ import annotations

import copy
import sys
from functools import cache
from pathlib import Path

from rainloop.errors import RainloopError

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

CONFIGS = Path(__file__).with_name("configs")
PRESETS = tuple(sorted(p.stem for p in CONFIGS.glob("*.toml")))
TABLES = ("g1", "g2", "d", "loss", "data")
# Fields a config may leave out, with their types: pretrain_steps defaults to half of steps;
# without the others there is no --dry-db, dry footage, --init or gate term.
OPTIONAL = {"pretrain_steps": int, "dry_db": float, "init": str, "loss.gate": float, "data.dry": str,
            "data.dry_sizes": str}
# Settings old run folders may hold, which new runs keep at one value (the measurements showed no
# gain from the others); networks.py still builds them, so those runs load, resume and export.
RETIRED = {"stage1_gate": True, "detach_real_loop": False, "g1.tone": False, "g1.veil": False, "g1.dark": False,
           "g2.background": False}
# What rainloop writes into a config itself: where it came from, and config.json's bookkeeping.
RECORDS = ("preset", "config", "format", "batch_scope", "init_from")
_KINDS = {int: "an integer", float: "a number", bool: "true or false", str: "text"}


def get_preset(name: str) -> dict:
    """The preset's config, with "preset": name."""
    if name not in PRESETS:
        raise RainloopError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return {**_read_toml(CONFIGS / f"{name}.toml"), "preset": name}


def load_config(source: str) -> tuple[dict, set[str]]:
    """`--config SOURCE`: a preset name, a TOML file, or a run folder (or its config.json).

    Returns the config and the fields (dotted keys) a user's file set over a preset.
    """
    if source in PRESETS:
        return get_preset(source), set()
    path = Path(source)
    if path.is_dir() or path.suffix == ".json":
        return {**_from_run(path), "config": source}, set()
    if not path.exists():
        raise RainloopError(f"{source}: no such preset or config file (presets: {', '.join(PRESETS)})")
    cfg, stated = _from_file(path, frozenset())
    return {**cfg, "config": source}, stated


def apply_sets(cfg: dict, sets) -> tuple[dict, set[str]]:
    """cfg with each `--set key=value` applied; returns it and the fields set (dotted keys)."""
    stated: set[str] = set()
    for text in sets:
        key, value = _parse_set(cfg, text)
        layer = value
        for part in reversed(key.split(".")):
            layer = {part: layer}
        cfg = override(cfg, layer, f"--set {text}")
        stated |= set(flat(layer))
    return cfg, stated


def override(cfg: dict, layer: dict, where: str) -> dict:
    """cfg with `layer` (a file's fields, or one --set) over it; tables merge, every field is checked.
    `where` names the layer in errors."""
    out = copy.deepcopy(cfg)
    for key, value in layer.items():
        if key in TABLES:
            if not isinstance(value, dict):
                raise RainloopError(f"{where}: {key} is a table of fields ({key}.FIELD)")
            out[key] = _table(out.get(key, {}), value, key, where)
        elif _kept(key, value, where):
            out[key] = _checked(value, field_type(out, key), key, where)
    return out


def field_type(cfg: dict, key: str) -> type | None:
    """The type of field `key` (dotted) in a config like cfg; None if there is no such field.
    g1's fields are the options of its derainer type."""
    table, _, name = key.partition(".")
    if table == "g1" and name:
        return _g1_options(cfg.get("g1", {}).get("type"), "g1").get(name)
    return _schema().get(key)


def flat(cfg: dict, prefix: str = "") -> dict:
    """{dotted key: value} of a config's fields."""
    out = {}
    for key, value in cfg.items():
        if isinstance(value, dict):
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _table(have: dict, layer: dict, name: str, where: str) -> dict:
    if name == "g1" and layer.get("type", have.get("type")) != have.get("type"):
        have = {}  # another derainer: its own options, not the last one's
    out = dict(have)
    options = _g1_options(layer.get("type", have.get("type")), where) if name == "g1" else None
    for key, value in layer.items():
        dotted = f"{name}.{key}"
        if _kept(dotted, value, where):
            want = options.get(key) if options is not None else _schema().get(dotted)
            out[key] = _checked(value, want, dotted, where)
    return out


def _kept(key: str, value, where: str) -> bool:
    """False for a retired setting at the value new runs keep (a copied preset names stage1_gate)."""
    if key not in RETIRED:
        return True
    if value != RETIRED[key]:
        raise RainloopError(f"{where}: {key} = {_toml(value)} is not a setting of new runs "
                            f"(they keep {_toml(RETIRED[key])})")
    return False


def _checked(value, want: type | None, key: str, where: str):
    if want is None:
        raise RainloopError(f"{where}: unknown key {key}")
    if want is float and type(value) is int:
        return float(value)
    if type(value) is not want:
        raise RainloopError(f"{where}: {key} must be {_KINDS.get(want, want.__name__)}, not {_toml(value)}")
    return value


def _toml(value) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    return repr(value) if isinstance(value, str) else str(value)


@cache
def _schema() -> dict[str, type]:
    """Every field but g1's, with its type: those of the presets, and the optional ones."""
    fields = {}
    for name in PRESETS:
        fields.update({k: type(v) for k, v in flat(get_preset(name)).items()
                       if not k.startswith("g1.") and k not in RECORDS})
    return {**fields, **OPTIONAL}


def _required() -> set[str]:
    """The fields a file without `base` must give: those every preset has, and g1's type."""
    keys = set.intersection(*(set(flat(get_preset(name))) for name in PRESETS))
    return {k for k in keys if not k.startswith("g1.") and k not in RECORDS and k not in RETIRED} | {"g1.type"}


def _g1_options(kind, where: str) -> dict[str, type]:
    import inspect

    from rainloop.training.networks import DERAINERS

    if kind is None:
        raise RainloopError(f"{where}: g1.type is missing; choose one of {', '.join(DERAINERS)}")
    if kind not in DERAINERS:
        raise RainloopError(f"{where}: g1.type {_toml(kind)}: choose one of {', '.join(DERAINERS)}")
    params = inspect.signature(DERAINERS[kind]).parameters
    return {"type": str, **{name: type(p.default) for name, p in params.items() if f"g1.{name}" not in RETIRED}}


def _parse_set(cfg: dict, text: str) -> tuple[str, object]:
    """"key=value": the value read as TOML (48, 5e-5, true, "text"); anything else, or any value of a
    text field (a folder may be called 2024), is the text as given."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise RainloopError(f"--set {text}: expected KEY=VALUE, e.g. g1.base=48")
    if key.count(".") > 1 or ("." in key and key.split(".")[0] not in TABLES):
        raise RainloopError(f"--set {text}: unknown key {key}")
    try:
        value = tomllib.loads(f"v = {raw}")["v"] if "\n" not in raw else raw
    except tomllib.TOMLDecodeError:
        value = raw
    if field_type(cfg, key) is str and not isinstance(value, str):
        value = raw
    return key, value


def _read_toml(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RainloopError(f"{path}: no such config file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RainloopError(f"{path}: unreadable config file ({exc})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RainloopError(f"{path}: not valid TOML ({exc})") from None


def _from_file(path: Path, seen: frozenset) -> tuple[dict, set[str]]:
    """A user's TOML file over its base (a preset, or another file relative to it)."""
    if path.resolve() in seen:
        raise RainloopError(f"{path}: its chain of base files comes back to it")
    layer = _read_toml(path)
    base = layer.pop("base", None)
    if base is None:
        return {**_complete(layer, str(path)), "preset": str(path)}, set(flat(layer))
    if not isinstance(base, str):
        raise RainloopError(f"{path}: base must be text, a preset name or a file")
    if base in PRESETS:
        below, stated = get_preset(base), set()
    elif (path.parent / base).is_file():
        below, stated = _from_file(path.parent / base, seen | {path.resolve()})
    else:
        raise RainloopError(f"{path}: base {base!r} is neither a preset ({', '.join(PRESETS)}) nor a file "
                            f"beside it")
    return override(below, layer, str(path)), stated | set(flat(layer))


def _from_run(path: Path) -> dict:
    """A run folder's settings (its config.json), for a new run."""
    from rainloop.training.runs import read_config

    cfg = read_config(path)
    fields = {k: v for k, v in flat(cfg).items() if v is not None and k not in RECORDS}
    if cfg.get("dry_db") is None:  # old runs hold dry_sizes without a --dry-db to use them
        fields.pop("data.dry_sizes", None)
    for key in RETIRED:
        # A fine-tune's heads and translators come again from its --init source.
        if key in fields and cfg.get("init") and key.startswith(("g1.", "g2.")):
            del fields[key]
    layer: dict = {}
    for key, value in fields.items():
        table, _, name = key.rpartition(".")
        (layer.setdefault(table, {}) if table else layer)[name] = value
    return {**_complete(layer, str(path)), "preset": cfg["preset"]}


def _complete(layer: dict, where: str) -> dict:
    """A config that is a layer alone (no base): every field must be there."""
    cfg = override({}, layer, where)
    missing = sorted(_required() - set(flat(cfg)))
    if missing:
        raise RainloopError(f"{where}: {missing[0]} is missing (a config without base = PRESET gives every field)")
    return {**cfg, "stage1_gate": RETIRED["stage1_gate"]}
