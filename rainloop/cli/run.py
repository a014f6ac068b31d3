"""`rainloop run`: derain a camera, stream, video or images into a window, a file or nothing."""

HELP = "derain live: camera (0, v4l2://, csi://), stream, video, images or ROS 2 bag -> window, video, folder, bag"

EPILOG = """\
sources: 0 | v4l2:///dev/video0[?width=&height=&fps=] | csi://0[?width=&height=&fps=&flip=]
         rtsp://... | http://... | clip.mp4 | photo.jpg | folder/ | 'frames/*.png'
         'bag://recording?topic=/camera/image_raw' (ROS 2 bag; needs rainloop[ros])
sinks:   display://0 (q quits) | out.mp4 | out.avi | out.mkv | out.png | folder/ | none
         'bag://new_bag[?topic=/camera/image_derained]' | 'bag://new_bag?replace=1'
Live sources always derain the newest frame (stale ones are dropped); files and bags keep
every frame. Ctrl-C stops cleanly and finalises the output file. A bag sink copies the
source bag's other topics as they are and is written only once the whole recording is in it."""


def add_arguments(parser):
    import argparse

    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("--model", default="default", metavar="PATH|default",
                        help=".onnx, .engine, run folder/.safetensors (needs torch) or default (bundled)")
    parser.add_argument("--source", required=True, metavar="URI", help="where frames come from (see below)")
    parser.add_argument("--sink", metavar="URI", help="where derained frames go (default display://0, none if --headless)")
    parser.add_argument("--size", metavar="WxH", help="infer at this size (fixed-shape engines, speed); the rain removed "
                                                          "there is scaled up and taken off the full frame")
    parser.add_argument("--side-by-side", action="store_true", help="output rainy | derained side by side")
    parser.add_argument("--headless", action="store_true", help="never open a window")
    parser.add_argument("--max-frames", type=int, metavar="N", help="stop after N frames")
    parser.add_argument("--fps-overlay", action="store_true", help="draw FPS and inference time on the output")
    parser.add_argument("--providers", metavar="LIST", help="ONNX Runtime providers in order, e.g. cuda,cpu")


def _stop_on_sigterm() -> None:
    """systemd, docker and ROS launch stop with SIGTERM: finish like Ctrl-C, finalising the output file."""
    import signal

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def run(args):
    from rainloop.runtime.live import run_live
    from rainloop.sizes import parse_size

    _stop_on_sigterm()
    run_live(args.model, args.source, args.sink, size=parse_size(args.size) if args.size else None,
             side_by_side=args.side_by_side, headless=args.headless, max_frames=args.max_frames,
             fps_overlay=args.fps_overlay, providers=args.providers)
    return 0
