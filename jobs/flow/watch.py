"""Step 4, watch: poll the job until it ends, showing status, elapsed time, ETA, new events and the train loss.

Polling: the session's first interval after a status change, then x1.5 per poll up to the cap (new events do
not reset it: Azure sends metrics all the time); while the job runs, never more often than the running floor.
Each status change is recorded in the run state (when the caller holds the lock).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jobs.api import EventInfo, EventKey, JobInfo
from jobs.display import eta_text
from jobs.errors import JobFailedError
from jobs.flow.present import event_line
from jobs.flow.train import record_status
from jobs.settings import check_number
from jobs.status import JobStatus

if TYPE_CHECKING:  # pragma: no cover
    from jobs.session import Session

EVENT_PAGE = 50
EVENT_PAGES_MAX = 20  # per poll: up to 1,000 new events
TIMEOUT_MAX = 30 * 86_400.0  # a month: longer than any fine-tuning job runs

_LOSS_RE = re.compile(r"(?:train(?:ing)?[ _]loss)\s*[=:]\s*([0-9.eE+-]+)", re.I)
_STEP_RE = re.compile(r"step\s*([0-9]+)", re.I)


def check_timeout(timeout: float | None) -> float | None:
    """``--timeout``: seconds, finite and positive (``nan`` would wait forever, ``-1`` not at all)."""
    if timeout is None:
        return None
    return check_number(timeout, name="--timeout", above=0, maximum=TIMEOUT_MAX,
                        unit=f"seconds, more than 0 and at most {TIMEOUT_MAX:g}; omit it to watch until the job ends",
                        example="3600")


def train_loss(e: EventInfo) -> tuple[int | None, float] | None:
    """(step, train loss) from a metrics event's data, or its message."""
    data = e.data
    if isinstance(data, dict):
        for k in ("train_loss", "training_loss", "loss"):
            if isinstance(data.get(k), (int, float)):
                step = data.get("step")
                return (int(step) if isinstance(step, (int, float)) else None, float(data[k]))
    m = _LOSS_RE.search(e.message)
    if m:
        try:
            value = float(m.group(1).rstrip("."))
        except ValueError:
            return None
        s = _STEP_RE.search(e.message)
        return (int(s.group(1)) if s else None, value)
    return None


def new_events(session: "Session", job_id: str, seen: set[EventKey]) -> list[EventInfo]:
    """The events not in ``seen``, oldest first.

    The service lists events newest first, ``limit`` at a time; pages are followed (``after`` = the last id
    of a page) until a page reaches an event already seen, the list ends, or ``EVENT_PAGES_MAX`` pages were
    read, so a burst of more than one page between two polls loses nothing.
    """
    fresh: list[EventInfo] = []
    after: str | None = None
    for _ in range(EVENT_PAGES_MAX):
        page = session.api.list_events(job_id, limit=EVENT_PAGE, after=after)
        reached_seen = False
        for e in page.items:  # newest first
            if e.key in seen:
                reached_seen = True
                break
            fresh.append(e)
        last_id = page.last_id
        if reached_seen or not page.items or not page.has_more or not last_id or last_id == after:
            break
        after = last_id
    fresh.reverse()
    fresh.sort(key=lambda e: e.created_at or 0)  # stable: keeps the service's order within a second
    return fresh


@dataclass
class WatchOutcome:
    job: JobInfo
    status: JobStatus
    events: list[EventInfo] = field(default_factory=list)
    last_loss: tuple[int | None, float] | None = None
    polls: int = 0


def follow(session: "Session", job_id: str, *, display: Any, record: bool = True,
           timeout: float | None = None) -> WatchOutcome:
    """Poll until the job is terminal (or ``timeout`` seconds passed; the job keeps running)."""
    poll = session.poll
    interval = poll.first
    seen: set[EventKey] = set()
    shown: list[EventInfo] = []
    last_loss: tuple[int | None, float] | None = None
    last_status: JobStatus | None = None
    started_mono = time.monotonic()
    polls = 0
    while True:
        job = session.api.get_job(job_id)
        polls += 1
        status = job.state
        for e in new_events(session, job_id, seen):
            seen.add(e.key)
            shown.append(e)
            loss = train_loss(e)
            if loss is not None:
                last_loss = loss
            elif (e.type or "message") != "metrics":
                display.line(event_line(e))
        changed = status != last_status
        if changed and record:
            record_status(session, job)
        last_status = status
        elapsed = (time.time() - job.created_at) if job.created_at else (time.monotonic() - started_mono)
        note = None
        if status is JobStatus.PAUSED:
            note = f"paused: resume with `python -m jobs resume {job_id}`"
        if job.queue_position is not None and status is JobStatus.QUEUED:
            note = f"queue position {job.queue_position}"
        loss_txt = None
        if last_loss is not None:
            loss_txt = f"{last_loss[1]:.4f}" + (f" (step {last_loss[0]})" if last_loss[0] is not None else "")
        display.update(job_id=job_id, status=str(status), elapsed=elapsed, eta=eta_text(job.estimated_finish),
                       loss=loss_txt, note=note)
        if status.terminal:
            if record:
                record_status(session, job)
            return WatchOutcome(job=job, status=status, events=shown, last_loss=last_loss, polls=polls)
        session.checkpoint("watch_poll")
        if timeout is not None and time.monotonic() - started_mono > timeout:
            return WatchOutcome(job=job, status=status, events=shown, last_loss=last_loss, polls=polls)
        interval = poll.first if changed else min(poll.cap, interval * poll.factor)
        if status is JobStatus.RUNNING:
            interval = max(interval, poll.running_floor)
        session.sleep(interval)


def failure_error(job: JobInfo) -> JobFailedError:
    """The error a failed or cancelled job ends a command with (exit 1)."""
    if job.state is JobStatus.CANCELLED:
        return JobFailedError(f"job {job.id} was cancelled; nothing was promoted",
                              hint="start it again with `python -m jobs run DATA.jsonl --new` (billed again)")
    err = job.error or {}
    code = err.get("code") or "unknown"
    message = err.get("message") or "no message from the service"
    param = err.get("param")
    return JobFailedError(
        f"job {job.id} failed: {code}: {message}" + (f" (param: {param})" if param else ""),
        hint="fix what the error names (the data file, quota, or the parameters), then run with --new",
    )
