"""The engine's clock: system time, moved forward on request (``POST /++/clock``) so tests need not sleep.

Every time the engine and the simulated trainer read comes from one :class:`Clock`. Advancing it adds a shift
to the system time, so time still flows. The shift is kept in ``<state-dir>/clock.json``: a restarted emulator
reads its records on the same clock that wrote them.
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from jobs.atomic import write_atomic


class Clock:
    def __init__(self, path: Path | None = None):
        self._path = path
        self._lock = threading.Lock()
        self._offset = self._load()

    def _load(self) -> float:
        if self._path is None:
            return 0.0
        try:
            value = json.loads(self._path.read_text(encoding="utf-8")).get("offset", 0.0)
        except (OSError, ValueError, AttributeError):
            return 0.0  # no shift recorded (or an unreadable one): system time
        return float(value) if isinstance(value, (int, float)) and value >= 0 else 0.0

    def now(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds`` (>= 0); returns the new shift."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += seconds
            if self._path is not None:
                write_atomic(self._path, json.dumps({"offset": self._offset}).encode())
            return self._offset

    @property
    def offset(self) -> float:
        return self._offset
