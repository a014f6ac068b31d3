"""`rainloop` command line: one thin module per subcommand.

Each subcommand module defines HELP, `add_arguments(parser)` and `run(args)`.
Modules import only argparse-level things at the top so `rainloop --help`
stays instant and works without PyTorch; heavy imports live inside `run`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from rainloop import __version__
from rainloop.errors import RainloopError

# Packages an extra brings (pyproject.toml), for the error when a command needs one.
EXTRAS = {"torch": "train", "onnxsim": "train", "tensorboard": "train", "tensorrt": "trt", "pycuda": "trt"}
SUBCOMMANDS = ["synth", "train", "gate", "eval", "export", "quantize", "build", "run", "bench", "demo"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rainloop",
        description="Real-rain deraining (JRGR): train -> export -> quantize -> build -> run.",
    )
    parser.add_argument("--version", action="version", version=f"rainloop {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        module = importlib.import_module(f"rainloop.cli.{name}")
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def _quiet_opencv() -> None:
    # OpenCV prints WARN lines for every capture backend it tries on a missing
    # camera, and its FFmpeg prints its own errors ("moov atom not found") for a
    # broken video; the CLI's one-line error says it better. Library users keep
    # OpenCV's own settings, and OPENCV_FFMPEG_LOGLEVEL set by the user wins.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    import cv2

    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    _quiet_opencv()
    try:
        return int(args._run(args) or 0)
    except RainloopError as exc:
        print(f"rainloop {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"rainloop {args.command}: interrupted", file=sys.stderr)
        return 130
    except ModuleNotFoundError as exc:
        extra = EXTRAS.get((exc.name or "").split(".")[0])
        if extra is None:
            raise
        print(f"rainloop {args.command}: error: needs {exc.name}, which the base install leaves out: "
              f"pip install 'rainloop[{extra}]'", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
