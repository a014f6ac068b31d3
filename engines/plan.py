"""Decide how to build an engine, as data: ONNX facts + user options -> BuildPlan.

Every precision rule lives here so it is testable without TensorRT; the
TensorRT module only applies a plan. The rules follow TensorRT's direction
(precision lives in the ONNX, networks are strongly typed):

- `best`: whatever the ONNX carries (fp32, fp16 or int8 Q/DQ), strongly typed.
- `int8`: needs a Q/DQ ONNX (`rainloop quantize`), strongly typed.
- `fp16`: an FP16 ONNX is built strongly typed; an FP32 ONNX gets the weak
  FP16 builder flag on TensorRT 10.x only (deprecated since 10.12, removed
  in 11), otherwise the user must export with `--precision fp16`.
- `fp32`: needs an FP32 ONNX.

Options the hardware rules out are refused here too: DLA runs one fixed input
shape (with a range, GPU fallback would quietly put every layer on the GPU),
and hardware-compatible engines exist only for Ampere and newer desktop GPUs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from rainloop.engines.onnx_info import OnnxInfo
from rainloop.engines.shapes import Profile
from rainloop.errors import RainloopError

PRECISIONS = ("fp32", "fp16", "int8", "best")
HARDWARE_COMPAT = ("ampere+",)


@dataclass(frozen=True)
class BuildPlan:
    onnx: str
    input_name: str
    output_name: str
    layout: str
    io_dtype: str
    precision: str  # what the engine computes in: fp32 | fp16 | int8
    strongly_typed: bool
    flags: tuple[str, ...]  # tensorrt.BuilderFlag member names, e.g. ("FP16",)
    profile: Profile
    workspace_bytes: int | None = None
    dla_core: int | None = None
    hardware_compat: str | None = None  # None | "ampere+"
    notes: tuple[str, ...] = ()  # warnings for the user

    def to_dict(self) -> dict:
        d = asdict(self)
        d["profile"] = self.profile.as_dict()
        d["flags"] = list(self.flags)
        d["notes"] = list(self.notes)
        return d


def trt_major(version: str | None) -> int:
    """Major version; None (TensorRT not importable here) counts as 10, the oldest we target."""
    if version is None:
        return 10
    try:
        return int(version.split(".")[0])
    except ValueError:
        raise ValueError(f"not a TensorRT version: {version!r}") from None


def make_plan(info: OnnxInfo, precision: str, profile: Profile, trt_version: str | None, *,
              workspace_gb: float | None = None, dla_core: int | None = None,
              version_compatible: bool = False, hardware_compat: str | None = None,
              jetson: bool = False) -> BuildPlan:
    """The build for `info` at the requested `precision` on TensorRT `trt_version`.

    With `trt_version` None every option is still checked, so a machine without
    TensorRT reports a wrong model or option before saying TensorRT is missing.
    `jetson`: the build runs on a Jetson.
    """
    if precision not in PRECISIONS:
        raise RainloopError(f"--precision {precision!r}: choose one of {', '.join(PRECISIONS)}")
    resolved, strongly_typed, flags, notes = _precision_rule(info, precision, trt_major(trt_version))
    if dla_core is not None:
        flags += _dla_flags(info, resolved, dla_core, hardware_compat, profile)
    if version_compatible:
        flags += ("VERSION_COMPATIBLE",)
    if hardware_compat is not None:
        _check_hardware_compat(hardware_compat, jetson)
    return BuildPlan(
        onnx=info.path, input_name=info.input_name, output_name=info.output_name,
        layout=info.layout, io_dtype=info.io_dtype, precision=resolved,
        strongly_typed=strongly_typed, flags=flags, profile=profile,
        workspace_bytes=_workspace(workspace_gb), dla_core=dla_core,
        hardware_compat=hardware_compat, notes=notes)


def _precision_rule(info: OnnxInfo, precision: str, major: int):
    """-> (resolved precision, strongly typed, builder flags, notes)."""
    name = Path(info.path).name
    have = info.precision
    if precision in ("best", have):
        return have, True, (), ()
    if precision == "int8":
        raise RainloopError(f"{info.path}: --precision int8 needs a Q/DQ model and this one has no "
                            f"QuantizeLinear/DequantizeLinear nodes; run `rainloop quantize {name}` first")
    if precision == "fp16" and have == "fp32":
        if major >= 11:
            raise RainloopError(f"{info.path}: is an FP32 model and TensorRT {major}.x has no FP16 builder "
                                "flag; export it with `rainloop export CKPT --precision fp16` "
                                "(or build it as fp32)")
        note = ("building an FP32 ONNX with the FP16 builder flag (weak typing, deprecated in "
                "TensorRT 10.12 and removed in 11); prefer `rainloop export --precision fp16`")
        return "fp16", False, ("FP16",), (note,)
    raise RainloopError(f"{info.path}: the model carries {have.upper()} precision; build it with "
                        f"--precision {have} or best, not {precision}")


def _dla_flags(info: OnnxInfo, precision: str, core: int, hardware_compat: str | None,
               profile: Profile) -> tuple[str, ...]:
    if core < 0:
        raise RainloopError(f"--dla {core}: DLA cores are numbered from 0")
    if precision not in ("fp16", "int8"):
        raise RainloopError(f"{info.path}: DLA runs only FP16 or INT8 layers and this build is "
                            f"{precision.upper()}; use an FP16 export or an INT8 (Q/DQ) model with --dla")
    if hardware_compat is not None:
        raise RainloopError("--hardware-compat is for desktop GPUs and cannot be combined with --dla")
    if not profile.min == profile.opt == profile.max:
        # DLA takes a layer only when min = opt = max; with GPU fallback a range
        # builds fine and silently runs every layer on the GPU.
        raise RainloopError(f"--dla {core}: DLA runs one fixed input shape and the profile is {profile}; "
                            "give one size (--shapes 1280x720) or build a --static export")
    # Layers DLA cannot run go to the GPU instead of failing the build.
    return ("GPU_FALLBACK",)


def _check_hardware_compat(level: str, jetson: bool) -> None:
    if level not in HARDWARE_COMPAT:
        raise RainloopError(f"--hardware-compat {level!r}: the only level is ampere+")
    if jetson:
        raise RainloopError(f"--hardware-compat {level}: TensorRT offers it for desktop GPUs only; "
                            "a Jetson engine runs on the Jetson and JetPack that built it (leave the option out)")


def check_device(plan: BuildPlan, device: dict) -> None:
    """What the GPU itself rules out, checked as soon as it is known and before anything is built."""
    cc = tuple(int(p) for p in device["compute_capability"].split("."))
    if plan.hardware_compat == "ampere+" and cc < (8, 0):
        raise RainloopError(f"--hardware-compat ampere+: this GPU, {device['name']} (compute "
                            f"{device['compute_capability']}), predates Ampere (8.0), so TensorRT cannot "
                            "build such an engine on it; leave the option out or build on an Ampere or newer GPU")


def _workspace(gb: float | None) -> int | None:
    if gb is None:
        return None
    if not gb > 0:
        raise RainloopError(f"--workspace {gb}: must be a positive number of GB")
    return int(gb * (1 << 30))
