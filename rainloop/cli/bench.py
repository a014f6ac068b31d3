"""`rainloop bench`: latency, FPS (and PSNR) per model x backend x size, plus pipeline overhead."""

HELP = "benchmark derainers: latency/FPS per model x backend x size, PSNR, end-to-end pipeline FPS"


def add_arguments(parser):
    parser.add_argument("--model", required=True, nargs="+", metavar="PATH", help=".onnx, .engine, run folder or default")
    parser.add_argument("--sizes", default="640x360,1280x720", metavar="WxH,...", help="frame sizes (default 640x360,1280x720)")
    parser.add_argument("--warmup", type=int, default=10, help="untimed calls first (default 10)")
    parser.add_argument("--iters", type=int, default=100, help="timed calls, and frames of the pipeline video (default 100)")
    parser.add_argument("--data", metavar="DIR", help="paired set for a PSNR column")
    parser.add_argument("--json", metavar="OUT.json", help="write the table and the system it ran on")
    parser.add_argument("--providers", metavar="LIST", help="ONNX Runtime providers to bench, e.g. cuda,cpu (default: all available)")
    parser.add_argument("--no-pipeline", action="store_true", help="skip the end-to-end pipeline run on a rendered video")


def run(args):
    from rainloop.errors import RainloopError
    from rainloop.runtime.bench import bench, write_report
    from rainloop.sizes import parse_sizes

    if args.warmup < 0 or args.iters < 1:
        raise RainloopError(f"--warmup {args.warmup} / --iters {args.iters}: need warmup >= 0 and iters >= 1")
    sizes = parse_sizes(args.sizes)
    if not sizes:
        raise RainloopError(f"--sizes {args.sizes!r}: name at least one WIDTHxHEIGHT")
    rows = bench(args.model, sizes, warmup=args.warmup, iters=args.iters, data=args.data,
                 providers=args.providers, pipeline=not args.no_pipeline, log=print)
    if args.json:
        write_report(args.json, rows, {k: v for k, v in vars(args).items() if not k.startswith("_")})
    return 0
