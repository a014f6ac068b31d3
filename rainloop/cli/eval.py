"""`rainloop eval`: PSNR/SSIM of a derainer (or of doing nothing) on a paired data set, or how
much it changes a camera's dry footage."""

HELP = "score a derainer on rainy/clean pairs (PSNR/SSIM of input and output), or on dry footage"

_TABLE_ROWS = 30  # longer sets print the summary only; --json keeps every row
_DRY_FRAMES = 100


def add_arguments(parser):
    data = parser.add_mutually_exclusive_group(required=True)
    data.add_argument("--data", metavar="DIR",
                      help="paired set: rainy/+clean/, Rain100 rain/+norain/, Rain1400, SPA-Data or JRGR Os/+Bs/")
    data.add_argument("--dry", metavar="PATH",
                      help="your camera's dry footage (folder of images, video, folder of videos): how close "
                           "each frame comes out to itself (frames spread over it: --limit, default 100)")
    parser.add_argument("--model", metavar="PATH|default",
                        help="model to score (.onnx, .engine, run folder, default); none: identity baseline")
    parser.add_argument("--json", metavar="OUT.json", help="write the scores, per image too")
    parser.add_argument("--y", action="store_true", help="score the Y (luma) channel as deraining papers do")
    parser.add_argument("--limit", type=int, metavar="N", help="score only the first N pairs")
    parser.add_argument("--size", metavar="WxH", help="infer at this size, as `rainloop run --size` does")


def run(args):
    from rainloop.atomic import write_json
    from rainloop.data import dry_pairs, open_pairs
    from rainloop.errors import RainloopError
    from rainloop.evaluate import evaluate, identity

    if args.limit is not None and args.limit < 1:
        raise RainloopError(f"--limit {args.limit}: must be 1 or more")
    if args.size and not args.model:
        raise RainloopError("--size: the identity baseline has no inference size; give --model")
    if args.dry:
        pairs, layout = dry_pairs(args.dry, args.limit or _DRY_FRAMES), "dry footage"
    else:
        pairs = open_pairs(args.data)
        layout = pairs.layout
    derain, model, close = identity, "identity", None
    if args.model:
        from rainloop.runtime import Derainer
        from rainloop.sizes import parse_size

        derain = Derainer(args.model, size=parse_size(args.size) if args.size else None)
        model, close = str(getattr(derain, "model_path", args.model)), getattr(derain, "close", None)
    try:
        report = evaluate(pairs, derain, y=args.y, limit=args.limit, progress=True)
    finally:
        if close:
            close()
    report = {**report, "model": model, "data": str(args.dry or args.data), "layout": layout}
    _print(report)
    if args.json:
        write_json(args.json, report)


def _print(report: dict) -> None:
    from rainloop.evaluate import DRY_BAR_DB

    rows = report["per_image"]
    if len(rows) <= _TABLE_ROWS:
        width = max(len(r["name"]) for r in rows)
        print(f"{'image':<{width}}  in PSNR  out PSNR  in SSIM  out SSIM")
        for r in rows:
            print(f"{r['name']:<{width}}  {r['input_psnr']:7.2f}  {r['psnr']:8.2f}  "
                  f"{r['input_ssim']:7.4f}  {r['ssim']:8.4f}")
    space = "Y" if report["y"] else "RGB"
    if report["layout"] == "dry footage":
        print(f"{report['n']} dry frames of {report['data']}, {space}, model {report['model']}: output against "
              f"input {report['psnr']:.2f} dB on average, 10th percentile {report['psnr_p10']:.2f} dB, worst "
              f"{report['worst']['psnr']:.2f} dB ({report['worst']['name']}); {report['share_38']:.0%} of frames "
              f"at {DRY_BAR_DB:.0f} dB or more")
        return
    print(f"{report['n']} pairs ({report['layout']}), {space}, model {report['model']}: "
          f"PSNR {report['input_psnr']:.2f} -> {report['psnr']:.2f} dB (gain {report['gain_db']:+.2f}), "
          f"SSIM {report['input_ssim']:.4f} -> {report['ssim']:.4f}")
    print(f"output PSNR: 10th percentile {report['psnr_p10']:.2f} dB, worst {report['worst']['psnr']:.2f} dB "
          f"({report['worst']['name']})")
