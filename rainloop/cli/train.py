"""`rainloop train`: two-stage JRGR training into a run folder (resumable)."""

HELP = "train a JRGR derainer (stage 1: supervised G1; stage 2: joint loops) into a run folder"

EPILOG = """\
examples:
  rainloop train --config edge --real my_rain/ --out runs/edge1
  rainloop train --config edge --set g1.base=48 --set loss.identity=20 --real my_rain/ --out runs/wide
  rainloop train --config my.toml --steps 40000 --out runs/mine    # my.toml: base = "edge", then fields
  rainloop train --config runs/edge1 --set data.sky=0.5 --out runs/edge2   # that run's settings, anew

--config is a preset, a TOML file or a run folder (the settings of that run,
for a new one); --set KEY=VALUE changes any field of it (docs/training.md
lists them all: lr, lr_pretrain, loss.*, g1.*, data.rain_mix, dry_stat, ...),
and the options above win over both. --syn builtin renders rain of many looks
on built-in photos; --real builtin is only a stand-in (physics-rendered rain):
for your camera, pass your own rainy footage (a folder of frames, a video or a
folder of videos; clips of many scenes work best). The run folder gets
config.json (the resolved config), losses.jsonl, tb/ (TensorBoard),
checkpoints/ and g3.safetensors + g3.json (the derainer, ready for `rainloop
export`). Ctrl-C finishes the step, saves and stops; --resume continues, also
with a larger --steps. --init default fine-tunes the bundled model on your
footage (stage 2 only; keep --set loss.identity=20, and --dry-db 38 --dry
DRY_FOOTAGE, so dry frames still pass through). On several GPUs (or CPU
processes): torchrun --nproc-per-node N -m rainloop train ...
(docs/training.md); --batch stays the global batch, each process trains on
batch/N, rank 0 writes --out."""


def add_arguments(parser):
    import argparse

    from rainloop.training.presets import PRESETS

    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--config", metavar="NAME|FILE",
                        help=f"a preset ({', '.join(PRESETS)}; default edge), a TOML file (base = \"edge\" and "
                             "the fields it changes) or a run folder (its settings, for a new run)")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="change one field of the config, e.g. g1.base=48, loss.identity=20, lr=5e-5 "
                             "(repeatable; the options below win over it)")
    parser.add_argument("--syn", help="synthetic pairs: a dataset folder or 'builtin' (default builtin)")
    parser.add_argument("--real", help="real rainy images: folder of images or of videos, JRGR root (Ot/), video, "
                                       "or 'builtin' (default builtin)")
    parser.add_argument("--val", help="held-out pairs for validation PSNR: folder, 'builtin' or 'none' (default builtin)")
    parser.add_argument("--every", type=int, help="with a video --real: keep every k-th frame (default 1)")
    parser.add_argument("--syn-style", choices=["broad", "streak", "streak-fog", "physics"],
                        help="style of the built-in synthetic rain (default broad: every pair draws its own "
                             "layers, density, length, blend, veil, night, noise and JPEG from wide ranges; the "
                             "others are single looks)")
    parser.add_argument("--sky", type=float, metavar="FRACTION",
                        help="with builtin data: this fraction of training crops gets a procedural sky above a "
                             "horizon (the built-in photos show none; default 0)")
    parser.add_argument("--init", help="start in stage 2 from trained weights: a run folder (all networks) or a "
                                       "derainer (.safetensors, or 'default': G1 = G3 = it), e.g. to fine-tune "
                                       "on your own footage; the derainer's width and heads are the source's")
    parser.add_argument("--out", help="run folder (must not exist unless --resume)")
    parser.add_argument("--resume", action="store_true",
                        help="continue the run in --out from its newest checkpoint (--config, --set and the "
                             "options may only repeat its settings, except --steps)")
    parser.add_argument("--steps", type=int, help="total steps, both stages (default from the config: 2000)")
    parser.add_argument("--until", type=int, metavar="STEP",
                        help="stop and save at this step (train in chunks; --resume continues)")
    parser.add_argument("--pretrain-steps", type=int, help="stage-1 steps of G1 alone (default steps/2)")
    parser.add_argument("--crop", type=int, help="training crop side, scaling the config's load with it "
                                                 "(default from the config)")
    parser.add_argument("--batch", type=int,
                        help="global batch: the images of one optimizer step over all processes; under torchrun "
                             "each of N processes trains on batch/N (default from the config)")
    parser.add_argument("--seed", type=int,
                        help="seed of the networks and of every data draw (default from the config: 0)")
    parser.add_argument("--dry-db", type=float,
                        help="set the exported G3's rain gate to the most open point at which dry frames pass "
                             "at this PSNR against themselves (e.g. 38; which frames: the field dry_stat, 95 in 100 "
                             "of them; at what sizes: data.dry_sizes; default: the gate as trained; `rainloop "
                             "gate` sets it again later)")
    parser.add_argument("--dry", help="with --dry-db: your camera's dry footage (folder of images, video, "
                                      "folder of videos; default: crops of the built-in training photos, half "
                                      "under a procedural sky, which fit only models trained with --sky)")
    parser.add_argument("--device", help="cpu or cuda (default: cuda if available)")
    parser.add_argument("--amp", action="store_true", help="mixed precision (bf16, or fp16 with loss scaling)")
    parser.add_argument("--threads", type=int, help="torch CPU threads")
    parser.add_argument("--workers", type=int,
                        help="processes drawing batches ahead of the trainer (default: 4 on a GPU, 0 on CPU, "
                             "where the step, not the data, is the bottleneck)")
    parser.add_argument("--log-every", type=int, default=10, help="progress-bar loss refresh, in steps")
    parser.add_argument("--ckpt-every", type=int, default=250, help="checkpoint + g3 export interval, in steps")
    parser.add_argument("--val-every", type=int, default=250, help="validation PSNR + TensorBoard images interval")
    parser.add_argument("--dry-run", action="store_true", help="2 steps of each stage in a temp folder, then exit")
    parser.add_argument("--print-model", action="store_true",
                        help="print parameters and GFLOPs of the config's networks (with --set too)")


def run(args):
    import sys

    from rainloop.errors import RainloopError

    for flag in ("steps", "until", "crop", "batch", "threads", "every", "log_every", "ckpt_every", "val_every"):
        value = getattr(args, flag)
        if value is not None and value < 1:
            raise RainloopError(f"--{flag.replace('_', '-')} must be at least 1")
    if args.workers is not None and args.workers < 0:
        raise RainloopError("--workers must be 0 or more")
    if args.print_model:
        return _print_model(args)
    import torch

    from rainloop.training import distributed, loop

    world = distributed.discover()  # several processes when torchrun started this one
    if args.threads:
        torch.set_num_threads(args.threads)
    device = distributed.device_of(world, _device(args.device))
    workers = args.workers if args.workers is not None else (4 if device.startswith("cuda") else 0)
    command = " ".join(["rainloop", *sys.argv[1:]])  # the same under `python -m rainloop`
    opts = loop.Options(device=device, amp=args.amp, workers=workers, log_every=args.log_every,
                        ckpt_every=args.ckpt_every, val_every=args.val_every, command=command, world=world)
    if args.dry_run:
        if world.size > 1:
            raise RainloopError("--dry-run checks one process; run it without torchrun")
        return _dry_run(_new_config(args), opts)
    if not args.out:
        raise RainloopError("--out RUN is required (the run folder to create or --resume)")
    try:
        with distributed.group(world, device):
            summary = _train(args, opts)
    except distributed.Reported:
        return 2  # rank 0 prints it for the job
    if not world.main:
        return 0
    val = summary["val"]
    scored = "no validation set"
    if "psnr" in val:
        scored = f"val PSNR {val['psnr']:.2f} dB (input {val['input_psnr']:.2f})"
        if "dry_psnr" in val:  # checkpoints from before it was measured lack it
            scored += f", dry frames {val['dry_psnr']:.2f} dB"
    print(f"{args.out}: step {summary['step']} (stage {summary['stage']}), {scored}, "
          f"{summary['train_seconds'] / 60:.1f} min trained; derainer: {args.out}/g3.safetensors")
    if summary["step"] < summary["steps"]:
        print("stopped early; run again with --resume to continue")
    return 0


def _train(args, opts) -> dict:
    """The run's config, resolved by rank 0 alone (it alone reads and writes --out), then training."""
    from rainloop.training import distributed, loop, runs

    world = opts.world
    new = None
    if args.resume:
        cfg = distributed.from_main(world, lambda: runs.resume_run(args.out, args.config, args.set, **_options(args)))
    else:
        new = cfg = distributed.from_main(world, lambda: _new_config(args))
    share = distributed.share_of(cfg["batch"], world)
    if world.size > 1 and world.main:
        print(f"rainloop train: {world.size} processes ({distributed.backend_of(opts.device)}), global batch "
              f"{cfg['batch']} = {share} per process; rank 0 writes {args.out}", flush=True)
    return loop.train(args.out, opts, until=args.until, new=new)


def _options(args) -> dict:
    """The common options that set a config field (None = not given)."""
    from rainloop.training.runs import OPTIONS

    return {k: getattr(args, k) for k in OPTIONS}


def _new_config(args, **options) -> dict:
    """A new run's config from --config, --set and the options (`options` over the command line's)."""
    from rainloop.training.runs import make_config

    return make_config(args.config or "edge", args.set, **{**_options(args), **options})


def _device(name):
    import torch

    from rainloop.errors import RainloopError

    if name is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    if name not in ("cpu", "cuda") and not name.startswith("cuda:"):
        raise RainloopError(f"--device {name!r}: use cpu or cuda")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RainloopError(f"--device {name}: this PyTorch has no CUDA device")
    return name


def _print_model(args):
    from rainloop.training.model_summary import format_table, summarize

    title = ", ".join([args.config or "edge", *args.set])
    print(format_table(title, summarize(_new_config(args, val="none"))))
    return 0


def _dry_run(cfg, opts):
    from rainloop.training.loop import dry_run

    for line in dry_run(cfg, opts):
        print(f"step {line['step']} stage {line['stage']}: {line['sec']:.3f} s")
    print(f"OK: {cfg.get('config', cfg['preset'])}, crop {cfg['crop']}, batch {cfg['batch']}, device {opts.device}")
    return 0
