"""``python -m jobs status [JOB_ID]``: one look at a job (normalised status)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobs import lifecycle as lc


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
        lines.append(f"  created:          {lc.ts_text(j['created_at'])}")
        if j.get("estimated_finish") and j["status"] not in ("succeeded", "failed", "cancelled"):
            from jobs.display import eta_text

            lines.append(f"  estimated finish: {eta_text(j['estimated_finish'])}")
        if j.get("finished_at"):
            lines.append(f"  finished:         {lc.ts_text(j['finished_at'])}")
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


def status(*, job_id: str | None = None, stack: str | None = None, endpoint: str | None = None,
           api: str | None = None, api_version: str | None = None) -> StatusResult:
    conn = lc.open_connection(stack=stack, endpoint=endpoint, api=api, api_version=api_version)
    rs = lc.run_state(conn)
    job_id = job_id or lc.latest_job_id(rs)
    job = conn.call(conn.client.fine_tuning.jobs.retrieve, job_id, what="get job")
    tracked = job_id in lc.tracked_job_ids(rs.load())
    if tracked:
        try:
            with rs.locked():
                lc.record_status(rs, job)
        except Exception:  # another run holds the lock: it records the status itself
            pass
    return StatusResult(job=lc.job_summary(job), tracked=tracked)
