"""``python -m jobs events [JOB_ID] [--limit N]``: the job's events, oldest first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobs import lifecycle as lc
from jobs.errors import UsageError


@dataclass
class EventsResult:
    job_id: str
    events: list[dict[str, Any]]

    def to_text(self) -> str:
        if not self.events:
            return f"job {self.job_id}: no events yet"
        return "\n".join([f"job {self.job_id}: {len(self.events)} events"] + [lc.event_line(e) for e in self.events])

    def to_json(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "events": self.events}


def events(*, job_id: str | None = None, limit: int = 20, stack: str | None = None, endpoint: str | None = None,
           api: str | None = None, api_version: str | None = None) -> EventsResult:
    if limit < 1 or limit > 1000:
        raise UsageError(f"--limit {limit} is out of range", hint="pass --limit between 1 and 1000")
    conn = lc.open_connection(stack=stack, endpoint=endpoint, api=api, api_version=api_version)
    job_id = job_id or lc.latest_job_id(lc.run_state(conn))
    page = conn.call(conn.client.fine_tuning.jobs.list_events, job_id, limit=limit, what="list events")
    seen: set[Any] = set()
    unique = []
    for e in reversed(list(getattr(page, "data", None) or [])):  # newest first on the wire
        k = lc.event_key(e)
        if k not in seen:  # the service may repeat an event under a new id
            seen.add(k)
            unique.append(e)
    unique.sort(key=lambda e: int(lc.get(e, "created_at") or 0))
    return EventsResult(job_id=job_id, events=[lc.event_summary(e) for e in unique])
