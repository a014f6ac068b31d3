"""`rainloop gate`: set a trained derainer's rain gate for a camera, without training."""

HELP = ("set a derainer's rain gate (or `default`'s) to the most open point at which your dry footage "
        "passes at --dry-db")


def add_arguments(parser):
    parser.add_argument("model", help="run folder, g3.safetensors, or `default` (the bundled model)")
    parser.add_argument("--dry-db", type=float, required=True,
                        help="PSNR of dry frames against themselves to reach (e.g. 38), see --dry-stat")
    parser.add_argument("--dry-stat", choices=["p5", "mean"],
                        help="which dry frames must reach --dry-db: p5, 95 in 100 of them (default), or mean, "
                             "their average (how runs were set before --dry-stat; untouched frames count "
                             "100 dB, so it lets some frames fall far below)")
    parser.add_argument("--dry-sizes", metavar="WxH,...",
                        help="the sizes your model runs at: dry frames must pass at each (default: --dry "
                             "footage at its own size, built-in crops at 320x240)")
    parser.add_argument("--dry", help="your camera's dry footage: folder of images, video, folder of videos "
                                      "(default: crops of the built-in training photos, half under a sky)")
    parser.add_argument("--out", required=True, help="folder for the new g3.safetensors and its card")


def run(args):
    from rainloop.training.gate_calibration import DEFAULT_STAT, set_gate

    r = set_gate(args.model, args.out, args.dry_db, args.dry, args.dry_stat or DEFAULT_STAT, args.dry_sizes)
    print(f"gate: logit shift {r['logit_shift']:+.2f} from the gate as trained (dry frames' {r['statistic']} "
          f"{r['dry_psnr_before']:.2f} -> {r['dry_psnr_after']:.2f} dB, {r['share_at_target']:.0%} of them at "
          f"{r['dry_db_target']:g} dB or better, on {r['frames']})")
    if len(r["by_size"]) > 1:
        print("  by size: " + ", ".join(f"{size} {db:.2f} dB" for size, db in r["by_size"].items()))
    print(f"wrote {args.out}/g3.safetensors; next: rainloop export {args.out} --out model.onnx")
    return 0
