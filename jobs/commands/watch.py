"""``python -m jobs watch [JOB_ID]``: poll with backoff until the job ends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jobs.errors import RefusedError
from jobs.flow import watch as watch_step
from jobs.flow.train import latest_job_id
from jobs.session import Session


@dataclass
class WatchResult:
    job: dict[str, Any]
    events: list[dict[str, Any]] = field(default_factory=list)
    last_train_loss: float | None = None
    last_step: int | None = None
    stack: str = "dev"

    def to_text(self) -> str:
        j = self.job
        lines = [f"job {j['id']}: {j['status']}"]
        if j.get("fine_tuned_model"):
            lines.append(f"  fine-tuned model: {j['fine_tuned_model']}")
        if self.last_train_loss is not None:
            step = f" at step {self.last_step}" if self.last_step is not None else ""
            lines.append(f"  last train loss: {self.last_train_loss:.4f}{step}")
        if j["status"] == "succeeded":
            lines.append(f"next: python -m jobs promote {j['id']} --stack {self.stack}")
        elif j["status"] not in ("failed", "cancelled"):
            lines.append(f"still {j['status']} (--timeout reached; the job keeps running): "
                         f"python -m jobs watch {j['id']} --stack {self.stack}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {"job": self.job, "events": self.events, "last_train_loss": self.last_train_loss,
                "last_step": self.last_step}


def watch(session: Session, *, job_id: str | None = None, timeout: float | None = None) -> WatchResult:
    timeout = watch_step.check_timeout(timeout)
    job_id = job_id or latest_job_id(session)
    with session.progress() as display:
        try:
            with session.state.locked():  # record status changes when no other run owns the state
                out = watch_step.follow(session, job_id, display=display, timeout=timeout)
        except RefusedError:
            out = watch_step.follow(session, job_id, display=display, record=False, timeout=timeout)
    if out.status.terminal and not out.status.ok:
        raise watch_step.failure_error(out.job)
    loss = out.last_loss
    return WatchResult(job=out.job.summary(), events=[e.summary() for e in out.events],
                       last_train_loss=loss[1] if loss else None, last_step=loss[0] if loss else None,
                       stack=session.stack)
