"""Embedding rainloop in your own code.

The whole API is three lines:

    from rainloop.runtime import Derainer
    d = Derainer("model.onnx")        # or "default", "model.fp16.engine", a run folder
    clean = d(frame)                  # BGR uint8 in (OpenCV's layout), same size out

Below: a camera loop that shows rainy | derained. Run it with
    python examples/embed.py --model default --camera 0
For anything bigger (files, RTSP, CSI cameras, threads, dropped-frame
handling) use `rainloop run` or rainloop.runtime.Pipeline instead.
"""

import argparse

import cv2
import numpy as np

from rainloop.runtime import Derainer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--camera", type=int, default=0)
    args = parser.parse_args()

    derain = Derainer(args.model)
    print(f"{derain.model_path.name} on {derain.backend} ({derain.precision}); press q to quit")
    cap = cv2.VideoCapture(args.camera)
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            cv2.imshow("rainy | derained", np.hstack([frame, derain(frame)]))
            if cv2.waitKey(1) & 0xFF == ord("q"):
                break
    finally:
        cap.release()
        cv2.destroyAllWindows()
        derain.close()


if __name__ == "__main__":
    main()
