"""``metrics [JOB_ID] [--plot FILE.png]`` (default: the stack's latest job): checkpoints and results.csv of a job.

The result file is ``job.result_files[0]``, read with ``client.files.content``
(base64-encoded content and Azure's column variants are handled by
:mod:`jobs.metrics`). Checkpoints come from ``fine_tuning.jobs.checkpoints.list``.
A terminal gets rich tables; pipes get plain text; ``--json`` one object.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Any

from jobs import metrics as m
from jobs.errors import JobsError, UsageError

TABLE_COLUMNS = (m.STEP, m.TRAIN_LOSS, m.TRAIN_ACC, m.VALID_LOSS, m.VALID_ACC, m.FULL_VALID_LOSS, m.FULL_VALID_ACC)


@dataclass
class MetricsResult:
    job_id: str
    status: str
    fine_tuned_model: str | None
    result_file: str | None
    table: m.MetricsTable | None
    checkpoints: list[m.Checkpoint] = field(default_factory=list)
    plot: str | None = None
    rows_limit: int = 20
    notes: list[str] = field(default_factory=list)

    # ------------------------------------------------------------- JSON
    def to_json(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "status": self.status,
            "fine_tuned_model": self.fine_tuned_model,
            "result_file": self.result_file,
            "results": self.table.to_json() if self.table else None,
            "checkpoints": [c.to_json() for c in self.checkpoints],
            "plot": self.plot,
            "notes": self.notes,
        }

    # ------------------------------------------------------------- text
    def _results_rows(self) -> tuple[list[str], list[list[str]], int]:
        assert self.table is not None
        cols = [c for c in TABLE_COLUMNS if c in self.table.columns]
        shown = m.sample_rows(self.table.rows, self.rows_limit)
        body = [[m.fmt(r.get(c), c) for c in cols] for r in shown]
        return [m.SHORT[c] for c in cols], body, len(self.table.rows)

    def _checkpoint_rows(self) -> tuple[list[str], list[list[str]]]:
        cols = [c for c in TABLE_COLUMNS[1:] if any(cp.metrics.get(c) is not None for cp in self.checkpoints)]
        headers = ["step"] + [m.SHORT[c] for c in cols] + ["checkpoint model"]
        body = [[str(cp.step) if cp.step is not None else "-"] + [m.fmt(cp.metrics.get(c), c) for c in cols]
                + [cp.model or "-"] for cp in self.checkpoints]
        return headers, body

    def _head(self) -> list[str]:
        lines = [f"job {self.job_id}: {self.status}"]
        if self.fine_tuned_model:
            lines.append(f"fine-tuned model: {self.fine_tuned_model}")
        return lines

    def _tail(self) -> list[str]:
        lines: list[str] = []
        if self.table:
            last = {k: v for k, v in self.table.summary().items() if v is not None}
            if last:
                lines.append("last: " + ", ".join(f"{m.SHORT[k]} {m.fmt(v, k)}" for k, v in last.items()))
        if self.plot:
            lines.append(f"chart: {self.plot}")
        lines += [f"note: {n}" for n in self.notes]
        return lines

    def to_text(self) -> str:
        if _use_rich():
            return self._rich_text()
        out = self._head()
        if self.checkpoints:
            headers, body = self._checkpoint_rows()
            out += ["", f"checkpoints ({len(self.checkpoints)}):",
                    m.plain_table(headers, body, left=frozenset({len(headers) - 1}))]
        if self.table:
            headers, body, total = self._results_rows()
            title = f"results.csv ({self.result_file}): {total} steps"
            if len(body) < total:
                title += f", {len(body)} shown (--rows 0 for all)"
            out += ["", title + ":", m.plain_table(headers, body)]
        tail = self._tail()
        if tail:
            out += [""] + tail
        return "\n".join(out)

    def _rich_text(self) -> str:  # pragma: no cover - exercised on a terminal
        from rich.console import Console
        from rich.markup import escape
        from rich.table import Table

        console = Console(file=sys.stdout, record=True)
        with console.capture() as cap:
            for line in self._head():
                console.print(escape(line), highlight=False)
            if self.checkpoints:
                headers, body = self._checkpoint_rows()
                t = Table(title=f"checkpoints ({len(self.checkpoints)})", title_justify="left")
                for h in headers:
                    t.add_column(h, justify="left" if h == "checkpoint model" else "right")
                for r in body:
                    t.add_row(*(escape(c) for c in r))
                console.print(t)
            if self.table:
                headers, body, total = self._results_rows()
                title = f"results.csv ({self.result_file}): {total} steps"
                if len(body) < total:
                    title += f", {len(body)} shown"
                t = Table(title=title, title_justify="left")
                for h in headers:
                    t.add_column(h, justify="right")
                for r in body:
                    t.add_row(*r)
                console.print(t)
            for line in self._tail():
                console.print(escape(line), highlight=False)
        return cap.get()


def _use_rich() -> bool:
    if os.environ.get("CI") or os.environ.get("NO_COLOR") or os.environ.get("TERM") == "dumb":
        return False
    return sys.stdout.isatty()


def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, dict) else getattr(obj, name, None)


def _content_bytes(resp: Any) -> bytes:
    """Bytes of a ``files.content`` answer (SDK binary response, bytes or str)."""
    if isinstance(resp, (bytes, bytearray)):
        return bytes(resp)
    if isinstance(resp, str):
        return resp.encode("utf-8")
    for attr in ("content", "text"):
        value = getattr(resp, attr, None)
        if isinstance(value, (bytes, bytearray)):
            return bytes(value)
        if isinstance(value, str):
            return value.encode("utf-8")
    read = getattr(resp, "read", None)
    if callable(read):
        data = read()
        return data if isinstance(data, bytes) else str(data).encode("utf-8")
    raise JobsError("unexpected answer type from files.content", hint="upgrade the openai package")


def collect(conn: Any, job_id: str) -> tuple[Any, m.MetricsTable | None, list[m.Checkpoint], str | None, list[str]]:
    """Fetch the job, its results.csv and checkpoints through the connection."""
    from jobs.status import JobStatus, normalise

    job = conn.call(conn.client.fine_tuning.jobs.retrieve, job_id, what=f"get job {job_id}")
    notes: list[str] = []
    status = normalise(_get(job, "status"))
    result_files = list(_get(job, "result_files") or [])
    table: m.MetricsTable | None = None
    result_file: str | None = None
    if result_files:
        result_file = str(result_files[0])
        resp = conn.call(conn.client.files.content, result_file, what=f"download {result_file}")
        table = m.load_results(_content_bytes(resp), source=f"result file {result_file}")
        if not table.rows:
            notes.append(f"result file {result_file} has a header but no rows")
    elif status is JobStatus.SUCCEEDED:
        notes.append("the job succeeded but lists no result file")
    else:
        notes.append(f"no results.csv yet: the job is {status.value}; it appears when the job succeeds")

    checkpoints: list[m.Checkpoint] = []
    try:
        page = conn.call(conn.client.fine_tuning.jobs.checkpoints.list, job_id, what=f"list checkpoints of {job_id}")
        items = list(getattr(page, "data", None) or [])
        checkpoints = m.parse_checkpoints(items)
    except JobsError as exc:
        notes.append(f"checkpoints unavailable: {exc.message.splitlines()[0]}")
    return job, table, checkpoints, result_file, notes


def metrics(*, job_id: str | None = None, plot: str | None = None, rows: int = 20, stack: str | None = None,
            endpoint: str | None = None, api: str | None = None, api_version: str | None = None) -> MetricsResult:
    """The ``metrics`` command."""
    from jobs.client import connect
    from jobs.status import normalise

    if rows < 0:
        raise UsageError(f"--rows {rows}: must be 0 (all) or more", hint="e.g. --rows 20")
    if job_id is not None and not job_id.strip():
        raise UsageError("JOB_ID is empty",
                         hint="pass a job id, e.g. `python -m jobs metrics ftjob-...`, or omit it for this stack's "
                         "latest job")
    if plot:
        from pathlib import Path

        p = Path(plot)
        if p.suffix.lower() != ".png":
            raise UsageError(f"--plot {plot}: the chart is written as PNG", hint="use a file name ending in .png")
        if not p.parent.exists():
            raise UsageError(f"--plot {plot}: folder {p.parent} does not exist", hint="create it or choose another path")
    conn = connect(endpoint=endpoint, stack=stack, api=api, api_version=api_version)
    if job_id is None:  # like status/watch: this stack's latest job
        from jobs import lifecycle as lc

        job_id = lc.latest_job_id(lc.run_state(conn))
    job, table, checkpoints, result_file, notes = collect(conn, job_id.strip())
    result = MetricsResult(
        job_id=str(_get(job, "id") or job_id), status=normalise(_get(job, "status")).value,
        fine_tuned_model=_get(job, "fine_tuned_model"), result_file=result_file, table=table,
        checkpoints=checkpoints, rows_limit=rows, notes=notes,
    )
    if plot:
        if table is None or not table.rows:
            raise UsageError(f"--plot {plot}: job {result.job_id} has no results.csv rows to chart yet",
                             hint=f"wait for the job to succeed: `python -m jobs watch {result.job_id}`")
        result.plot = str(m.plot(table, plot, title=f"{result.job_id}  {result.fine_tuned_model or ''}".strip()))
    return result
