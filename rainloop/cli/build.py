"""`rainloop build`: an ONNX model -> a TensorRT engine for this GPU (reused when one matches)."""

from rainloop.engines.shapes import DEFAULT_SHAPES

HELP = "build a TensorRT engine from an exported ONNX model (reuses a matching one)"


def add_arguments(parser):
    parser.add_argument("onnx", help="model.onnx from `rainloop export` or `rainloop quantize`")
    parser.add_argument("--precision", choices=["fp32", "fp16", "int8", "best"], default="best",
                        help="best (default): what the ONNX carries; int8 needs a Q/DQ model "
                             "(rainloop quantize); fp16 from an FP32 ONNX only on TensorRT 10.x")
    parser.add_argument("--shapes", metavar="MIN:OPT:MAX",
                        help=f"input shapes the engine accepts, as WIDTHxHEIGHT (default {DEFAULT_SHAPES}) "
                             "or full shapes in the model's layout: 1x3x240x320:1x3x720x1280:1x3x1080x1920 "
                             "(NCHW float models) or NxHxWx3 (uint8 models)")
    parser.add_argument("--workspace", type=float, metavar="GB", help="builder workspace limit in GB")
    parser.add_argument("--timing-cache", metavar="PATH",
                        help="timing cache to load and update "
                             "(default ~/.cache/rainloop/timing-trt<version>-sm<cc>.cache)")
    parser.add_argument("--dla", type=int, metavar="N",
                        help="run on Jetson DLA core N with GPU fallback: FP16 or INT8 models, one fixed "
                             "shape (--shapes 1280x720, or a --static export)")
    parser.add_argument("--version-compatible", action="store_true",
                        help="engine also runs on later TensorRT versions (slower; loads its own runtime code)")
    parser.add_argument("--hardware-compat", choices=["ampere+"],
                        help="engine runs on any Ampere or newer desktop GPU (slower; built on one, not on a Jetson)")
    parser.add_argument("--out", metavar="PATH",
                        help="engine path (default <onnx stem>.<precision>.engine beside the ONNX)")
    parser.add_argument("--verify", metavar="DIR",
                        help="compare the engine with ONNX Runtime on the images in DIR and print PSNRs")
    parser.add_argument("--force", action="store_true", help="rebuild even if a matching engine exists")


def run(args):
    from rainloop.engines.build import BuildOptions, build_engine

    options = BuildOptions(precision=args.precision, shapes=args.shapes, workspace_gb=args.workspace,
                           dla_core=args.dla, version_compatible=args.version_compatible,
                           hardware_compat=args.hardware_compat, timing_cache=args.timing_cache)
    result = build_engine(args.onnx, options, out=args.out, force=args.force)
    if args.verify:
        from rainloop.engines.verify import format_table, verify_engine

        print(format_table(verify_engine(result.engine, args.onnx, args.verify)))
    print(result.engine)
