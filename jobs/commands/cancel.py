"""``python -m jobs cancel [JOB_ID]``: ask the service to cancel the job (default: this stack's latest)."""

from __future__ import annotations

from jobs.commands._control import ControlResult, control
from jobs.session import Session


def cancel(session: Session, *, job_id: str | None = None) -> ControlResult:
    return control(session, "cancel", job_id=job_id)
