"""Atomic file writes: a killed process never leaves a half-written artefact."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator


def _read_umask() -> int:
    # Read once at import: os.umask can only be read by setting it, which is
    # racy once the runtime's threads are writing files.
    mask = os.umask(0)
    os.umask(mask)
    return mask


# mkstemp creates files 0600; artefacts should get the usual umask-derived mode.
_UMASK = _read_umask()


@contextlib.contextmanager
def atomic_path(dest: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `dest`; on success it is renamed onto `dest`.

    The temp file lives in the same folder so the final rename is atomic on
    POSIX filesystems. On error the temp file is removed and `dest` is untouched.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    # The temp name ends in dest's suffix so writers that pick a format from
    # the file name (cv2.VideoWriter, cv2.imwrite) see the right one.
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=f".tmp{dest.suffix}", dir=dest.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # After the writer is done: some (safetensors) re-create the file.
        os.chmod(tmp_path, 0o666 & ~_UMASK)
        # fsync before the rename: robots lose power, and a renamed but
        # unflushed file can come back empty.
        with open(tmp_path, "rb") as f:
            os.fsync(f.fileno())
        os.replace(tmp_path, dest)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


def write_bytes(dest: str | os.PathLike, data: bytes) -> None:
    with atomic_path(dest) as tmp:
        tmp.write_bytes(data)


def write_text(dest: str | os.PathLike, text: str) -> None:
    write_bytes(dest, text.encode("utf-8"))


def write_json(dest: str | os.PathLike, obj) -> None:
    import json

    write_text(dest, json.dumps(obj, indent=2, sort_keys=False) + "\n")
