"""`rainloop synth`: render synthetic rainy/clean pairs (or a rainy video) from clean photos."""

HELP = "render rainy/clean training or test pairs (or a rainy video) from clean photos"

STYLES = ("streak", "streak-fog", "physics", "broad")  # mirrors rainloop.rain.STYLES without importing OpenCV here


def add_arguments(parser):
    parser.add_argument("--clean", default="builtin", metavar="DIR|builtin",
                        help="clean photos to crop from: a folder, or the photos bundled with scikit-image (default)")
    parser.add_argument("--out", metavar="OUT", help="write OUT/rainy/NAME.png and OUT/clean/NAME.png")
    parser.add_argument("--n", type=int, default=100, help="number of pairs (default 100)")
    parser.add_argument("--size", metavar="WxH", help="crop size (default 256x256; 640x360 for --video)")
    parser.add_argument("--seed", type=int, default=0, help="same seed, same bytes (default 0)")
    parser.add_argument("--style", choices=STYLES,
                        help="streak (default for pairs): classic synthetic streaks; streak-fog: the same "
                             "in front of depth-dependent fog (RainCityscapes' recipe); "
                             "physics (default for --video): blended depth layers, veil, noise, JPEG")
    level = parser.add_mutually_exclusive_group()
    level.add_argument("--intensity", type=float, metavar="F",
                       help="fixed rain intensity 0..1 (default: random 0.2..0.7 per image)")
    level.add_argument("--heavy", action="store_true", help="heavy rain: random intensity 0.7..1.0")
    parser.add_argument("--split", choices=("train", "test", "all"),
                        help="which builtin photos (default train; test photos are never trained on)")
    parser.add_argument("--video", metavar="OUT.mp4", help="instead of pairs, a rainy video of one clean scene")
    parser.add_argument("--frames", type=int, default=60, help="frames in --video (default 60)")
    parser.add_argument("--fps", type=float, default=25.0, help="frame rate of --video (default 25)")


def run(args):
    from tqdm import tqdm

    from rainloop import synth
    from rainloop.errors import RainloopError
    from rainloop.sizes import parse_size

    if bool(args.out) == bool(args.video):
        raise RainloopError("give either --out DIR (pairs) or --video OUT.mp4")
    if args.intensity is not None and not 0 <= args.intensity <= 1:
        raise RainloopError(f"--intensity {args.intensity}: must be between 0 and 1")
    size = parse_size(args.size or ("640x360" if args.video else "256x256"))
    crop = synth.clean_source(args.clean, args.split)
    style = args.style or ("physics" if args.video else "streak")
    common = dict(crop=crop, size=size, seed=args.seed, style=style, intensity=args.intensity, heavy=args.heavy)
    if args.video:
        synth.synth_video(args.video, args.frames, fps=args.fps, **common)
        print(f"wrote {args.video} ({args.frames} frames, {size[0]}x{size[1]}, {style} rain)")
    else:
        names = synth.synth_pairs(args.out, args.n, progress=lambda r: tqdm(r, unit="pair", desc="synth", disable=None), **common)
        print(f"wrote {len(names)} pairs to {args.out}/rainy and {args.out}/clean ({style} rain)")
