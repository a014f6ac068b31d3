"""rainloop.runtime: derain live video without PyTorch.

    from rainloop.runtime import Derainer
    d = Derainer("model.onnx")
    clean = d(frame)            # BGR uint8 in, BGR uint8 out

`open_source` / `open_sink` take jetson-inference style URIs (csi://0,
v4l2:///dev/video0, rtsp://..., clip.mp4, folder/, display://0, out.mp4,
none) and `Pipeline` runs source -> derainer -> sink in threads.
"""

from rainloop.runtime.backends import Derainer
from rainloop.runtime.pipeline import Pipeline
from rainloop.runtime.sinks import open_sink
from rainloop.runtime.sources import open_source

__all__ = ["Derainer", "Pipeline", "open_sink", "open_source"]
