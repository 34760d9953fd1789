"""Progress output of the long-running commands (upload, train, watch, run).

On a terminal: a rich live panel (status, elapsed, ETA, latest train loss) with
event lines scrolling above it. Anywhere else (pipes, CI, ``--json``): plain
lines: each new event, and a status line when the status changes (train loss
and ETA at most every ``FTJOBS_STATUS_EVERY`` seconds, default 30), so logs stay
readable. Which one is used is decided in ``jobs/ui.py``. Progress always goes
to stderr; stdout carries only the command's result (text or ``--json``).

rich is imported only when the live display is used.
"""

from __future__ import annotations

import sys
import time
from typing import Any, Callable, TextIO


def _fmt_elapsed(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s"


class PlainDisplay:
    """Plain lines to stderr (or ``stream``): every event line, and a status line when the status
    (or its note) changes; other changes (train loss, ETA) at most every ``every`` seconds
    (env FTJOBS_STATUS_EVERY, default 30), so CI logs stay short."""

    def __init__(self, stream: TextIO | None = None, *, every: float = 30.0,
                 clock: Callable[[], float] = time.monotonic):
        self.stream = stream or sys.stderr
        self.every = every
        self.clock = clock
        self._last_head: tuple[Any, ...] | None = None
        self._last_detail: tuple[Any, ...] | None = None
        self._last_at: float | None = None

    def line(self, text: str) -> None:
        self.stream.write(text.rstrip("\n") + "\n")
        self.stream.flush()

    def update(self, *, job_id: str, status: str, elapsed: float, eta: str | None = None,
               loss: str | None = None, note: str | None = None) -> None:
        head, detail = (job_id, status, note), (eta, loss)
        now = self.clock()
        if head == self._last_head:
            if detail == self._last_detail:
                return
            if self._last_at is not None and now - self._last_at < self.every:
                return
        self._last_head, self._last_detail, self._last_at = head, detail, now
        parts = [f"{job_id}: {status}", f"elapsed {_fmt_elapsed(elapsed)}"]
        if eta:
            parts.append(f"ETA {eta}")
        if loss:
            parts.append(f"train loss {loss}")
        if note:
            parts.append(note)
        self.line("  ".join(parts))

    def close(self) -> None:
        pass


class RichDisplay:  # pragma: no cover - needs a real terminal
    def __init__(self) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = Console(stderr=True)
        self.live = Live(console=self.console, refresh_per_second=4, transient=True)
        self.live.start()
        self._fields: dict[str, Any] = {}

    def line(self, text: str) -> None:
        self.live.console.print(text, markup=False, highlight=False)

    def update(self, *, job_id: str, status: str, elapsed: float, eta: str | None = None,
               loss: str | None = None, note: str | None = None) -> None:
        from rich.table import Table

        t = Table.grid(padding=(0, 2))
        t.add_row("job", job_id)
        t.add_row("status", status)
        t.add_row("elapsed", _fmt_elapsed(elapsed))
        if eta:
            t.add_row("ETA", eta)
        if loss:
            t.add_row("train loss", loss)
        if note:
            t.add_row("", note)
        self.live.update(t)

    def close(self) -> None:
        self.live.stop()


Display = PlainDisplay | RichDisplay


def eta_text(estimated_finish: Any, now: float | None = None) -> str | None:
    """``estimated_finish`` (unix seconds) as "in 12m00s (14:05 UTC)"."""
    if not estimated_finish:
        return None
    try:
        ts = float(estimated_finish)
    except (TypeError, ValueError):
        return None
    left = ts - (now if now is not None else time.time())
    clock = time.strftime("%H:%M UTC", time.gmtime(ts))
    return f"in {_fmt_elapsed(left)} ({clock})" if left > 0 else f"due ({clock})"
