"""``python -m jobs resume [JOB_ID]``: ask the service to resume the job (default: this stack's latest)."""

from __future__ import annotations

from jobs.commands._control import ControlResult, control
from jobs.session import Session


def resume(session: Session, *, job_id: str | None = None) -> ControlResult:
    return control(session, "resume", job_id=job_id)
