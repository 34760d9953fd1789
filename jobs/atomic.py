"""Atomic file writes: a temp file in the same folder, fsync, then ``os.replace``.

A crash (``kill -9``) at any moment leaves either the old file or the new one, never half of one. Used by the
run state, the emulator's records and the tokenizer's vocabulary cache. Stdlib only.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``; an OSError (disk full, permissions) leaves the old file as it was."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
