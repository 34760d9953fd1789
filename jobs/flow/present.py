"""How jobs, events and times read in the commands' text output (one place, shared by every command)."""

from __future__ import annotations

import time
from typing import Any

from jobs.api import EventInfo


def ts_text(ts: Any) -> str:
    if not ts:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(int(ts)))


def event_line(e: EventInfo | dict[str, Any]) -> str:
    created, level, message = ((e.created_at, e.level, e.message) if isinstance(e, EventInfo)
                               else (e.get("created_at"), e.get("level"), e.get("message")))
    clock = time.strftime("%H:%M:%S", time.gmtime(int(created))) if created else "--:--:--"
    return f"  [{clock}] {str(level or 'info'):<7} {message}"
