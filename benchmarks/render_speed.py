"""Rain rendering speed: training renders on the fly, so it must stay far below a step's time.

    python benchmarks/render_speed.py [--json out.json]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time

import numpy as np

from rainloop import builtin, rain
from rainloop.atomic import write_json


def per_call_ms(clean: np.ndarray, style: str, rng, repeat: int) -> float:
    rain.render(clean, rng, style)  # first call builds kernels / caches
    t = time.perf_counter()
    for _ in range(repeat):
        rain.render(clean, rng, style)
    return (time.perf_counter() - t) / repeat * 1000


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--json")
    args = p.parse_args(argv)
    rng = np.random.default_rng(0)
    rows = []
    for size, repeat in (((96, 96), 50), ((128, 128), 50), ((640, 360), 10), ((1280, 720), 5)):
        clean = builtin.random_crop(rng, size, split="test")
        for style in rain.STYLES:
            rows.append({"style": style, "size": f"{size[0]}x{size[1]}", "ms": per_call_ms(clean, style, rng, repeat)})
    print(f"{'style':<8} {'size':>9} {'ms/frame':>9}")
    for r in rows:
        print(f"{r['style']:<8} {r['size']:>9} {r['ms']:>9.2f}")
    if args.json:
        write_json(args.json, {"machine": platform.platform(), "processor": platform.processor(), "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
