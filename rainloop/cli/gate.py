"""`rainloop gate`: set a trained derainer's rain gate for a camera, without training."""

HELP = ("set a derainer's rain gate (or `default`'s) to the most open point at which your dry footage "
        "passes at --dry-db")


def add_arguments(parser):
    parser.add_argument("model", help="run folder, g3.safetensors, or `default` (the bundled model)")
    parser.add_argument("--dry-db", type=float, required=True,
                        help="mean PSNR of dry frames against themselves to reach (e.g. 40)")
    parser.add_argument("--dry", help="your camera's dry footage: folder of images, video, folder of videos "
                                      "(default: crops of the built-in training photos, half under a sky)")
    parser.add_argument("--out", required=True, help="folder for the new g3.safetensors and its card")


def run(args):
    from rainloop.training.gate_calibration import set_gate

    r = set_gate(args.model, args.out, args.dry_db, args.dry)
    print(f"gate: logit shift {r['logit_shift']:+.2f} from the gate as trained (dry frames "
          f"{r['dry_psnr_before']:.2f} -> {r['dry_psnr_after']:.2f} dB on {r['frames']})")
    print(f"wrote {args.out}/g3.safetensors; next: rainloop export {args.out} --out model.onnx")
    return 0
