"""``python -m jobs status [JOB_ID]``: one look at a job (normalised status)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobs.display import eta_text
from jobs.errors import RefusedError, UsageError
from jobs.flow.lifecycle import today
from jobs.flow.present import ts_text
from jobs.flow.train import latest_job_id, record_status, tracked_job_ids
from jobs.models import retirement_text
from jobs.session import Session


@dataclass
class StatusResult:
    job: dict[str, Any]
    tracked: bool
    promoted: dict[str, Any] | None = None  # the run state's promotion of this job (which checkpoint, and why)
    training_type: str | None = None  # as sent with the job (the run state's record); None: not ours
    retires: str | None = None  # when a deployment of the tuned model stops answering (jobs/models.py)

    def to_text(self) -> str:
        j = self.job
        lines = [f"job {j['id']}: {j['status']}" + (f" (service says {j['raw_status']})"
                                                     if j["raw_status"] and j["raw_status"] != j["status"] else "")]
        lines.append(f"  model:            {j['model']}")
        lines.append(f"  training file:    {j['training_file']}")
        if j.get("validation_file"):
            lines.append(f"  validation file:  {j['validation_file']}")
        lines.append(f"  suffix:           {j.get('suffix') or '-'}")
        lines.append(f"  training type:    {self.training_type or '- (not in the run state)'}")
        lines.append(f"  created:          {ts_text(j['created_at'])}")
        if j.get("estimated_finish") and j["status"] not in ("succeeded", "failed", "cancelled"):
            lines.append(f"  estimated finish: {eta_text(j['estimated_finish'])}")
        if j.get("finished_at"):
            lines.append(f"  finished:         {ts_text(j['finished_at'])}")
        if j.get("trained_tokens"):
            lines.append(f"  trained tokens:   {j['trained_tokens']:,}")
        if j.get("fine_tuned_model"):
            lines.append(f"  fine-tuned model: {j['fine_tuned_model']}")
        if self.retires:
            lines.append(f"  deployment retires: {self.retires}")
        if j.get("error"):
            lines.append(f"  error:            {j['error']['code']}: {j['error']['message']}")
        if j["status"] == "paused":
            lines.append(f"  paused: resume with `python -m jobs resume {j['id']}`")
        if self.promoted:
            ckpt = self.promoted.get("checkpoint")
            what = ckpt.get("text") if isinstance(ckpt, dict) else "the final model"
            lines.append(f"  promoted:         {self.promoted.get('fine_tuned_model')}  ({what})")
        if not self.tracked:
            lines.append("  (not in this stack's run state)")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {"job": self.job, "tracked": self.tracked, "promoted": self.promoted,
                "training_type": self.training_type, "retires": self.retires}


def status(session: Session, *, job_id: str | None = None) -> StatusResult:
    job_id = job_id or latest_job_id(session)
    job = session.api.get_job(job_id)
    state = session.state.load()
    tracked = job_id in tracked_job_ids(state)
    promoted = state.get("promoted") if (state.get("promoted") or {}).get("job_id") == job.id else None
    sent = [r.get("params", {}).get("training_type") for r in state["jobs"].values() if r.get("job_id") == job_id]
    if tracked:
        try:
            with session.state.locked():
                record_status(session, job)
        except RefusedError:  # another run holds the lock: it records the status itself
            pass
    retires = None
    if job.fine_tuned_model or job.model:
        try:
            retires = retirement_text(job.fine_tuned_model or job.model or "", today())
        except UsageError:  # a bad FTJOBS_TODAY: status still shows the job
            retires = None
    return StatusResult(job=job.summary(), tracked=tracked, promoted=promoted,
                        training_type=next((t for t in sent if t), None), retires=retires)
