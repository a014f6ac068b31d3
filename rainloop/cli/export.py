"""`rainloop export`: a trained G3 derainer -> a checked ONNX file and its model card."""

HELP = "export the G3 derainer of a run (or `default`) to ONNX, checked against PyTorch"


def add_arguments(parser):
    parser.add_argument("ckpt", help="run folder, g3.safetensors, g3.json, or `default` (the bundled model)")
    parser.add_argument("--out", required=True, help="output .onnx (its card goes beside it as .json)")
    parser.add_argument("--opset", type=int, default=17, help="ONNX opset, 13..20 (default 17)")
    parser.add_argument("--precision", choices=["fp32", "fp16"], default="fp32",
                        help="fp16: FP16 graph with float32 IO, normalisations kept FP32 (default fp32)")
    parser.add_argument("--io", choices=["float", "uint8"], default="float",
                        help="float: NCHW RGB [0,1]; uint8: NHWC BGR OpenCV frames in and out (default float)")
    parser.add_argument("--static", metavar="WxH", help="fix the frame size instead of dynamic N, H, W")
    parser.add_argument("--no-simplify", dest="simplify", action="store_false", help="skip onnxsim")
    parser.add_argument("--tolerance", type=float, default=1e-4,
                        help="fp32 parity: max abs error vs PyTorch on [0,1] images (default 1e-4)")
    parser.add_argument("--min-psnr", type=float, default=45.0,
                        help="fp16 parity: min PSNR in dB vs the FP32 PyTorch output (default 45)")


def run(args):
    import sys

    from rainloop.export.onnx_export import ParityError, export_onnx
    from rainloop.sizes import parse_size

    static = parse_size(args.static) if args.static else None
    try:
        card = export_onnx(args.ckpt, args.out, precision=args.precision, io=args.io, opset=args.opset,
                           static=static, simplify=args.simplify, tolerance=args.tolerance,
                           min_psnr=args.min_psnr)
    except ParityError as exc:
        print(f"rainloop export: FAILED {exc}", file=sys.stderr)
        return 1
    p = card["parity"]
    print(f"parity vs PyTorch on {', '.join(p['sizes'])} (batch {p['batch']}): max abs error "
          f"{p['max_abs_error']:.3g}, PSNR {p['psnr_db']} dB -> ok ({p['criterion']})")
    dims = ",".join(card["contract"]["dynamic_dims"]) or "none (static)"
    print(f"wrote {args.out} ({card['precision']}, io {card['io']}, opset {card['opset']}, "
          f"dynamic {dims}, {card['parameters']:,} parameters, sha256 {card['sha256'][:12]})")
    return 0
