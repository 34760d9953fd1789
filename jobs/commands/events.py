"""``python -m jobs events [JOB_ID] [--limit N]``: the job's events, oldest first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobs.api import EventKey
from jobs.errors import UsageError
from jobs.flow.present import event_line
from jobs.flow.train import latest_job_id
from jobs.session import Session


@dataclass
class EventsResult:
    job_id: str
    events: list[dict[str, Any]]

    def to_text(self) -> str:
        if not self.events:
            return f"job {self.job_id}: no events yet"
        return "\n".join([f"job {self.job_id}: {len(self.events)} events"] + [event_line(e) for e in self.events])

    def to_json(self) -> dict[str, Any]:
        return {"job_id": self.job_id, "events": self.events}


def events(session: Session, *, job_id: str | None = None, limit: int = 20) -> EventsResult:
    if limit < 1 or limit > 1000:
        raise UsageError(f"--limit {limit} is out of range", hint="pass --limit between 1 and 1000")
    job_id = job_id or latest_job_id(session)
    page = session.api.list_events(job_id, limit=limit)
    seen: set[EventKey] = set()
    unique = []
    for e in reversed(page.items):  # newest first on the wire
        if e.key not in seen:  # the service may repeat an event under a new id
            seen.add(e.key)
            unique.append(e)
    unique.sort(key=lambda e: e.created_at or 0)
    return EventsResult(job_id=job_id, events=[e.summary() for e in unique])
