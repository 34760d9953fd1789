"""Shared core of ``cancel``, ``pause`` and ``resume``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobs.errors import RefusedError
from jobs.flow.train import latest_job_id, record_status, tracked_job_ids
from jobs.session import Session


@dataclass
class ControlResult:
    action: str
    job: dict[str, Any]

    def to_text(self) -> str:
        j = self.job
        text = f"job {j['id']}: {self.action} requested; status now {j['status']}"
        if self.action == "pause":
            text += f"\nnext: python -m jobs resume {j['id']}"
        return text

    def to_json(self) -> dict[str, Any]:
        return {"action": self.action, "job": self.job}


def control(session: Session, action: str, *, job_id: str | None) -> ControlResult:
    job_id = job_id or latest_job_id(session)
    job = session.api.control_job(action, job_id)
    if job_id in tracked_job_ids(session.state.load()):
        try:
            with session.state.locked():
                record_status(session, job)
        except RefusedError:
            pass
    return ControlResult(action=action, job=job.summary())
