"""``python -m jobs status [JOB_ID]``: one look at a job (normalised status)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobs.display import eta_text
from jobs.errors import RefusedError
from jobs.flow.present import ts_text
from jobs.flow.train import latest_job_id, record_status, tracked_job_ids
from jobs.session import Session


@dataclass
class StatusResult:
    job: dict[str, Any]
    tracked: bool

    def to_text(self) -> str:
        j = self.job
        lines = [f"job {j['id']}: {j['status']}" + (f" (service says {j['raw_status']})"
                                                     if j["raw_status"] and j["raw_status"] != j["status"] else "")]
        lines.append(f"  model:            {j['model']}")
        lines.append(f"  training file:    {j['training_file']}")
        if j.get("validation_file"):
            lines.append(f"  validation file:  {j['validation_file']}")
        lines.append(f"  suffix:           {j.get('suffix') or '-'}")
        lines.append(f"  created:          {ts_text(j['created_at'])}")
        if j.get("estimated_finish") and j["status"] not in ("succeeded", "failed", "cancelled"):
            lines.append(f"  estimated finish: {eta_text(j['estimated_finish'])}")
        if j.get("finished_at"):
            lines.append(f"  finished:         {ts_text(j['finished_at'])}")
        if j.get("trained_tokens"):
            lines.append(f"  trained tokens:   {j['trained_tokens']:,}")
        if j.get("fine_tuned_model"):
            lines.append(f"  fine-tuned model: {j['fine_tuned_model']}")
        if j.get("error"):
            lines.append(f"  error:            {j['error']['code']}: {j['error']['message']}")
        if j["status"] == "paused":
            lines.append(f"  paused: resume with `python -m jobs resume {j['id']}`")
        if not self.tracked:
            lines.append("  (not in this stack's run state)")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {"job": self.job, "tracked": self.tracked}


def status(session: Session, *, job_id: str | None = None) -> StatusResult:
    job_id = job_id or latest_job_id(session)
    job = session.api.get_job(job_id)
    tracked = job_id in tracked_job_ids(session.state.load())
    if tracked:
        try:
            with session.state.locked():
                record_status(session, job)
        except RefusedError:  # another run holds the lock: it records the status itself
            pass
    return StatusResult(job=job.summary(), tracked=tracked)
