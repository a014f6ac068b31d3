"""`rainloop quantize`: FP32 ONNX -> explicit INT8 (Q/DQ) ONNX, calibrated on your own footage."""

HELP = "quantize an FP32 derainer ONNX to INT8 Q/DQ (for TensorRT), calibrated on your rainy footage"


def add_arguments(parser):
    parser.add_argument("onnx", help="the FP32 .onnx from `rainloop export`")
    parser.add_argument("--calib", required=True, help="real rain: a folder of images, a video, or a folder of videos")
    parser.add_argument("--n", type=int, default=200, help="calibration frames, spread over the source (default 200)")
    parser.add_argument("--size", default="640x360",
                        help="WxH the runtime feeds; frames are resized to it (default 640x360; "
                             "a --static model uses its own size)")
    parser.add_argument("--method", choices=["minmax", "entropy", "percentile"], default="minmax",
                        help="activation range calibration (default minmax)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--per-channel", dest="per_channel", action="store_true", default=True,
                       help="per-channel weight scales (default)")
    group.add_argument("--per-tensor", dest="per_channel", action="store_false", help="one scale per weight tensor")
    parser.add_argument("--keep-fp", choices=["IO", "none"], default="IO",
                        help="IO: keep the first and last layers and the per-frame heads (rain gate, frame tone) "
                             "in float (default); none: quantize them too")
    parser.add_argument("--val", default="builtin",
                        help="pairs to compare INT8 with FP32 on: a paired folder, or `builtin` (default)")
    parser.add_argument("--out", help="output .onnx (default: MODEL.int8.onnx beside the input)")


def run(args):
    import sys

    from rainloop.export.quantize import default_output, quantize
    from rainloop.sizes import parse_size

    card = quantize(args.onnx, args.calib, out=args.out, n=args.n, size=parse_size(args.size),
                    method=args.method, per_channel=args.per_channel, keep_fp=args.keep_fp, val=args.val)
    q, v = card["quantization"], card["quality"]["int8_vs_fp32"]
    print(f"calibrated on {q['calibration']['frames']} frames at {q['calibration']['size']} ({q['method']}); "
          f"kept float: {', '.join(q['kept_float']['nodes']) or 'nothing'}")
    print(f"on {v['pairs']} pairs of {v['set']} at {v['size']}: FP32 {v['psnr_fp32_vs_clean']} dB, INT8 "
          f"{v['psnr_int8_vs_clean']} dB vs clean (INT8 loses {v['int8_loss_db']} dB); "
          f"INT8 vs FP32 {v['psnr_int8_vs_fp32']} dB")
    print(f"the same photos without rain, output against input: worst FP32 {v['dry_worst_fp32']} dB, "
          f"INT8 {v['dry_worst_int8']} dB")
    for note in v["warnings"]:
        print(f"warning: {note}", file=sys.stderr)
    print(f"wrote {args.out or default_output(args.onnx)} and its card (sha256 {card['sha256'][:12]})")
    return 0
