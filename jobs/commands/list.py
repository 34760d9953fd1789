"""``python -m jobs list``: recent jobs on the server, marking those in this stack's state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jobs import lifecycle as lc
from jobs.errors import UsageError


@dataclass
class ListResult:
    jobs: list[dict[str, Any]]
    stack: str

    def to_text(self) -> str:
        if not self.jobs:
            return "no fine-tuning jobs on this resource"
        rows = [("", "JOB", "STATUS", "CREATED", "MODEL", "FINE-TUNED MODEL")]
        for j in self.jobs:
            rows.append(("*" if j["tracked"] else " ", str(j["id"]), j["status"], lc.ts_text(j["created_at"]),
                         str(j["model"] or "-"), str(j["fine_tuned_model"] or "-")))
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
        lines.append(f"* = in the run state of stack {self.stack!r}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {"stack": self.stack, "jobs": self.jobs}


def list_jobs(*, limit: int = 20, stack: str | None = None, endpoint: str | None = None, api: str | None = None,
              api_version: str | None = None) -> ListResult:
    if limit < 1 or limit > 100:
        raise UsageError(f"--limit {limit} is out of range", hint="pass --limit between 1 and 100")
    conn = lc.open_connection(stack=stack, endpoint=endpoint, api=api, api_version=api_version)
    tracked = lc.tracked_job_ids(lc.run_state(conn).load())
    page = conn.call(conn.client.fine_tuning.jobs.list, limit=limit, what="list jobs")
    out = []
    for j in (getattr(page, "data", None) or [])[:limit]:
        s = lc.job_summary(j)
        s["tracked"] = s["id"] in tracked
        out.append(s)
    out.sort(key=lambda s: int(s["created_at"] or 0), reverse=True)
    return ListResult(jobs=out, stack=conn.stack)
