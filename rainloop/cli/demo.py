"""`rainloop demo`: see rain disappear in a minute, offline, on a CPU."""

HELP = "derain a rendered rainy clip (or a live source) with the bundled model and show the result"


def add_arguments(parser):
    parser.add_argument("--source", metavar="URI",
                        help="derain this source live, side by side (0, csi://0, clip.mp4, ...); "
                             "default: a rendered rainy clip of a photo the model never saw")
    parser.add_argument("--out", default="rainloop-demo", metavar="DIR",
                        help="where the clip, side-by-side video and contact sheet go (default: %(default)s)")
    parser.add_argument("--model", default="default", metavar="PATH|default",
                        help="model file (.onnx, .engine, checkpoint) or the bundled `default`")
    parser.add_argument("--headless", action="store_true", help="never open a window")
    parser.add_argument("--size", metavar="WxH", help="with --source: infer at this size, as `rainloop run --size` "
                                                      "does (640x360 keeps a CPU near 10 FPS)")
    parser.add_argument("--frames", type=int, default=48, help="length of the rendered clip (default: %(default)s)")


def run(args):
    from rainloop.errors import RainloopError

    if args.source is not None:
        from rainloop.runtime.live import run_live
        from rainloop.sizes import parse_size

        run_live(args.model, args.source, size=parse_size(args.size) if args.size else None, side_by_side=True,
                 headless=args.headless)
        return 0
    if args.size:
        raise RainloopError("--size: the rendered clip is derained at its own size; give --source too")
    if args.frames < 3:
        raise RainloopError(f"--frames {args.frames}: the demo needs at least 3 frames")
    from rainloop.demo import play, run_demo

    result = run_demo(args.out, args.model, frames=args.frames)
    print(f"derained {result.frames} frames of moving rain (a photo the model never saw)")
    print(f"PSNR  rainy {result.input_psnr:.2f} dB -> derained {result.output_psnr:.2f} dB "
          f"({result.gain_db:+.2f} dB)")
    print(f"speed {result.fps:.1f} FPS through the pipeline, {result.model_fps:.1f} FPS model alone")
    print(f"wrote {result.video}")
    print(f"      {result.sheet}")
    if not args.headless and not play(result.video):
        print("(no display here: open the files above to watch)")
    return 0
