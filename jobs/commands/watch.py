"""``python -m jobs watch [JOB_ID]``: poll with backoff until the job ends."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jobs import lifecycle as lc


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
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {"job": self.job, "events": self.events, "last_train_loss": self.last_train_loss,
                "last_step": self.last_step}


def watch(*, job_id: str | None = None, timeout: float | None = None, stack: str | None = None,
          endpoint: str | None = None, api: str | None = None, api_version: str | None = None,
          json_mode: bool = False) -> WatchResult:
    from jobs.display import make_display
    from jobs.errors import RefusedError

    conn = lc.open_connection(stack=stack, endpoint=endpoint, api=api, api_version=api_version)
    rs = lc.run_state(conn)
    job_id = job_id or lc.latest_job_id(rs)
    display = make_display(json_mode=json_mode)
    try:
        try:
            with rs.locked():  # record status changes when no other run owns the state
                out = lc.watch_job(conn, job_id, rs=rs, display=display, timeout=timeout)
        except RefusedError:
            out = lc.watch_job(conn, job_id, rs=None, display=display, timeout=timeout)
    finally:
        display.close()
    if out.status.terminal and not out.status.ok:
        raise lc.failure_error(out.job, out.status)
    loss = out.last_loss
    return WatchResult(job=lc.job_summary(out.job), events=[lc.event_summary(e) for e in out.events],
                       last_train_loss=loss[1] if loss else None, last_step=loss[0] if loss else None,
                       stack=conn.stack)
