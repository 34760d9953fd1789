"""``python -m jobs pause [JOB_ID]``: ask the service to pause the job (default: this stack's latest)."""

from __future__ import annotations

from jobs.commands._control import ControlResult, control
from jobs.session import Session


def pause(session: Session, *, job_id: str | None = None) -> ControlResult:
    return control(session, "pause", job_id=job_id)
