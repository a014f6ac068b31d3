"""What inferring at a smaller size (`rainloop run --size`) costs, on rain and on dry frames.

For a paired set (rainy/ + clean/, any layout `rainloop eval` reads) and each --size, scores
  full size     the model on the frames as they are
  resize back   the model at --size, its output resized to the frame (the runtime before session 9)
  runtime       Derainer(size=...): what the model removed at --size, scaled up, taken off the frame
on the rainy frames (PSNR against clean) and on the clean ones as dry frames (PSNR against
themselves; share at 38 dB or better).

    python benchmarks/infer_size.py --data t640x360 --size 320x180 [--model default] [--json out.json]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from rainloop.atomic import write_json
from rainloop.data import open_pairs
from rainloop.evaluate import DRY_BAR_DB
from rainloop.frames import resize_to
from rainloop.metrics import psnr
from rainloop.runtime import Derainer
from rainloop.sizes import parse_sizes


def scores(derain, pairs) -> dict:
    wet = [psnr(derain(s.rainy), s.clean) for s in pairs]
    dry = np.array([psnr(derain(s.clean), s.clean) for s in pairs])
    return {"rain_psnr": float(np.mean(wet)), "dry_mean": float(dry.mean()), "dry_worst": float(dry.min()),
            "dry_share_38": float(np.mean(dry >= DRY_BAR_DB))}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="paired set")
    p.add_argument("--size", required=True, help="inference sizes, WxH[,WxH...]")
    p.add_argument("--model", default="default")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)
    pairs = list(open_pairs(args.data))
    full = Derainer(args.model)
    rows = {"full size": scores(full, pairs)}
    for w, h in parse_sizes(args.size):
        def back(frame):
            return resize_to(full(resize_to(frame, (w, h))), (frame.shape[1], frame.shape[0]))

        rows[f"{w}x{h}, resize back"] = scores(back, pairs)
        rows[f"{w}x{h}, runtime"] = scores(Derainer(args.model, size=(w, h)), pairs)
    rainy = float(np.mean([psnr(s.rainy, s.clean) for s in pairs]))
    print(f"{len(pairs)} pairs of {args.data}, rainy input {rainy:.2f} dB")
    print(f"{'inference':<24} {'rain PSNR':>9} {'dry mean':>9} {'dry worst':>9} {'dry>=38':>8}")
    for name, r in rows.items():
        print(f"{name:<24} {r['rain_psnr']:>9.2f} {r['dry_mean']:>9.2f} {r['dry_worst']:>9.2f} {r['dry_share_38']:>8.0%}")
    if args.json:
        write_json(args.json, {"data": args.data, "model": args.model, "pairs": len(pairs), "rainy_psnr": rainy,
                               "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
