"""`rainloop eval`: PSNR/SSIM of a derainer (or of doing nothing) on a paired data set."""

HELP = "score a derainer on rainy/clean pairs (PSNR/SSIM of input and output)"

_TABLE_ROWS = 30  # longer sets print the summary only; --json keeps every row


def add_arguments(parser):
    parser.add_argument("--data", required=True, metavar="DIR",
                        help="paired set: rainy/+clean/, Rain100 rain/+norain/, Rain1400, SPA-Data or JRGR Os/+Bs/")
    parser.add_argument("--model", metavar="PATH|default",
                        help="model to score (.onnx, .engine, run folder, default); none: identity baseline")
    parser.add_argument("--json", metavar="OUT.json", help="write the scores, per image too")
    parser.add_argument("--y", action="store_true", help="score the Y (luma) channel as deraining papers do")
    parser.add_argument("--limit", type=int, metavar="N", help="score only the first N pairs")


def run(args):
    from rainloop.atomic import write_json
    from rainloop.data import open_pairs
    from rainloop.errors import RainloopError
    from rainloop.evaluate import evaluate, identity

    if args.limit is not None and args.limit < 1:
        raise RainloopError(f"--limit {args.limit}: must be 1 or more")
    pairs = open_pairs(args.data)
    derain, model, close = identity, "identity", None
    if args.model:
        from rainloop.runtime import Derainer

        derain = Derainer(args.model)
        model, close = str(getattr(derain, "model_path", args.model)), getattr(derain, "close", None)
    try:
        report = evaluate(pairs, derain, y=args.y, limit=args.limit, progress=True)
    finally:
        if close:
            close()
    report = {**report, "model": model, "data": str(args.data), "layout": pairs.layout}
    _print(report)
    if args.json:
        write_json(args.json, report)


def _print(report: dict) -> None:
    rows = report["per_image"]
    if len(rows) <= _TABLE_ROWS:
        width = max(len(r["name"]) for r in rows)
        print(f"{'image':<{width}}  in PSNR  out PSNR  in SSIM  out SSIM")
        for r in rows:
            print(f"{r['name']:<{width}}  {r['input_psnr']:7.2f}  {r['psnr']:8.2f}  "
                  f"{r['input_ssim']:7.4f}  {r['ssim']:8.4f}")
    space = "Y" if report["y"] else "RGB"
    print(f"{report['n']} pairs ({report['layout']}), {space}, model {report['model']}: "
          f"PSNR {report['input_psnr']:.2f} -> {report['psnr']:.2f} dB (gain {report['gain_db']:+.2f}), "
          f"SSIM {report['input_ssim']:.4f} -> {report['ssim']:.4f}")
    print(f"output PSNR: 10th percentile {report['psnr_p10']:.2f} dB, worst {report['worst']['psnr']:.2f} dB "
          f"({report['worst']['name']})")
