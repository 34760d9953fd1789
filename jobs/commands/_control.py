"""Shared core of ``cancel``, ``pause`` and ``resume``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobs import lifecycle as lc


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


def control(action: str, *, job_id: str | None, stack: str | None, endpoint: str | None, api: str | None,
            api_version: str | None) -> ControlResult:
    conn = lc.open_connection(stack=stack, endpoint=endpoint, api=api, api_version=api_version)
    rs = lc.run_state(conn)
    job_id = job_id or lc.latest_job_id(rs)
    fn = getattr(conn.client.fine_tuning.jobs, action)
    job = conn.call(fn, job_id, what=f"{action} job")
    if job_id in lc.tracked_job_ids(rs.load()):
        try:
            with rs.locked():
                lc.record_status(rs, job)
        except Exception:
            pass
    return ControlResult(action=action, job=lc.job_summary(job))
