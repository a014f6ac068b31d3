"""rainloop: JRGR real-rain deraining, from training to a live camera."""

__version__ = "0.1.0"

from rainloop.errors import RainloopError

__all__ = ["RainloopError", "__version__"]
