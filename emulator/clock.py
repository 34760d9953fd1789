"""The engine's clock: system time, moved forward on request (``POST /++/clock``) so tests need not sleep.

Every time the engine and the simulated trainer read comes from one :class:`Clock`. Advancing it is a shift
added to the system time, so time still flows and a record written at a shifted time stays in the past.
"""

from __future__ import annotations

import threading
import time


class Clock:
    def __init__(self) -> None:
        self._offset = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        return time.time() + self._offset

    def advance(self, seconds: float) -> float:
        """Move time forward by ``seconds`` (>= 0); returns the new shift."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += seconds
            return self._offset

    @property
    def offset(self) -> float:
        return self._offset
