"""How many requests one deployment gets in flight at once: a window that adapts, AIMD as TCP's congestion
control does, instead of a fixed number.

- It starts at :data:`START` (or the ``--concurrency`` cap, if lower) and, until the service first refuses a
  request, grows by one per answer ("slow start": it doubles every round trip), or at once to what the
  limits can use as soon as the first answer's headers name them.
- A 429 halves it (once per round: the 429s of requests sent before the cut do not cut again) and ends the
  slow start; from then on each answer adds ``1/window`` (one more request per round trip).
- Once the deployment's limits are known (``--rate-limit`` or the ``x-ratelimit-*`` headers, see
  :mod:`jobs.compare.pacing`), it never exceeds what those limits can use: by Little's law, requests per
  second × seconds per request, doubled for headroom (:meth:`Window.fit`). "Seconds per request" is a slow
  request's, estimated as TCP estimates its retransmission timeout (RFC 6298, "Computing TCP's Retransmission
  Timer", 2011): the smoothed latency plus four times its smoothed deviation (the first answer alone counts
  as three times its latency). The pacing keeps the limits themselves; the window only keeps requests from
  queueing at the service for nothing.
- It never exceeds ``--concurrency`` (the cap; by default :data:`jobs.compare.plan.MAX_CONCURRENCY`).

Thread-safe; waiting for a slot blocks on a condition (woken when a request leaves).
"""

from __future__ import annotations

import math
import threading

START = 4  # the first round trip: before any answer, nothing about the deployment is known
ALPHA, BETA = 1 / 8, 1 / 4  # RFC 6298's gains for the smoothed latency and its smoothed deviation
HEADROOM = 2.0  # the window allows twice what the limits can use


class Window:
    """One deployment's in-flight limit (see the module docstring)."""

    def __init__(self, cap: int, start: int = START):
        self.cap = max(1, cap)
        self.limit = float(min(start, self.cap))
        self.ceiling: int | None = None  # from the deployment's limits, once known
        self.latency: float | None = None  # seconds per answered request, smoothed (RFC 6298's SRTT)
        self.deviation = 0.0  # its smoothed deviation (RTTVAR)
        self.in_flight = 0
        self.slow_start = True
        self.halvings = 0
        self.peak = int(self.limit)
        self._round = 0  # bumped by every cut: a ticket of an older round does not cut again
        self._cond = threading.Condition()

    def allowed(self) -> int:
        return max(1, min(int(self.limit), self.cap, self.ceiling or self.cap))

    def enter(self) -> int:
        """Wait for a slot, take it; returns the round to give back to :meth:`leave`."""
        with self._cond:
            while self.in_flight >= self.allowed():
                self._cond.wait(timeout=1.0)
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            return self._round

    def leave(self, round_: int, *, seconds: float | None, refused: bool) -> None:
        """Give the slot back. ``refused``: a 429 was among the request's attempts (cut the window);
        ``seconds``: an answer came after that long (grow it); neither: a failure that says nothing."""
        with self._cond:
            self.in_flight = max(0, self.in_flight - 1)
            if refused:
                if round_ == self._round:
                    self.limit = max(1.0, self.limit / 2)
                    self._round += 1
                    self.halvings += 1
                self.slow_start = False
            elif seconds is not None:
                if self.latency is None:
                    self.latency, self.deviation = seconds, seconds / 2
                else:
                    self.deviation = (1 - BETA) * self.deviation + BETA * abs(self.latency - seconds)
                    self.latency = (1 - ALPHA) * self.latency + ALPHA * seconds
                self.limit += 1.0 if self.slow_start else 1.0 / self.limit
                self.limit = min(self.limit, float(self.cap), float(self.ceiling or self.cap))
            self._cond.notify_all()

    def fit(self, per_second: float | None) -> None:
        """The deployment's limits allow ``per_second`` requests a second: cap the window at what that rate
        keeps busy (requests per second × a slow request's seconds × :data:`HEADROOM`, at least 2)."""
        with self._cond:
            if per_second is None or self.latency is None:
                return
            self.ceiling = max(2, math.ceil(per_second * (self.latency + 4 * self.deviation) * HEADROOM))
            # slow start (no 429 yet): straight to what the limits can use; after a 429, never above it
            self.limit = float(min(self.ceiling, self.cap)) if self.slow_start else min(self.limit, self.ceiling)
            self._cond.notify_all()

    def describe(self) -> dict[str, object]:
        return {"cap": self.cap, "now": self.allowed(), "peak_in_flight": self.peak, "ceiling": self.ceiling,
                "halvings": self.halvings,
                "latency_s": None if self.latency is None else round(self.latency, 3)}
