"""``python -m jobs list``: recent jobs on the server, marking those in this stack's state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobs.errors import UsageError
from jobs.flow.present import ts_text
from jobs.flow.train import tracked_job_ids
from jobs.session import Session


@dataclass
class ListResult:
    jobs: list[dict[str, Any]]
    stack: str

    def to_text(self) -> str:
        if not self.jobs:
            return "no fine-tuning jobs on this resource"
        rows = [("", "JOB", "STATUS", "CREATED", "MODEL", "FINE-TUNED MODEL")]
        for j in self.jobs:
            rows.append(("*" if j["tracked"] else " ", str(j["id"]), j["status"], ts_text(j["created_at"]),
                         str(j["model"] or "-"), str(j["fine_tuned_model"] or "-")))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        lines.append(f"* = in the run state of stack {self.stack!r}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {"stack": self.stack, "jobs": self.jobs}


def list_jobs(session: Session, *, limit: int = 20) -> ListResult:
    if limit < 1 or limit > 100:
        raise UsageError(f"--limit {limit} is out of range", hint="pass --limit between 1 and 100")
    tracked = tracked_job_ids(session.state.load())
    out = []
    for j in session.api.list_jobs(limit=limit)[:limit]:
        s = j.summary()
        s["tracked"] = j.id in tracked
        out.append(s)
    out.sort(key=lambda s: int(s["created_at"] or 0), reverse=True)
    return ListResult(jobs=out, stack=session.stack)
