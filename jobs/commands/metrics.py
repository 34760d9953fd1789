"""``metrics [JOB_ID] [--plot FILE.png]`` (default: the stack's latest job): checkpoints and results.csv of a job.

The result file is ``job.result_files[0]``, read with ``client.files.content``
(base64-encoded content and Azure's column variants are handled by
:mod:`jobs.metrics`). Checkpoints come from ``fine_tuning.jobs.checkpoints.list``.
The data comes from :func:`jobs.flow.metrics.collect`. A terminal gets rich tables; pipes get plain text;
``--json`` one object.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jobs import metrics as m
from jobs.errors import UsageError
from jobs.flow.metrics import collect
from jobs.flow.train import latest_job_id
from jobs.session import Session

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
    rich: bool = False  # render rich tables (a terminal)

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
        if self.rich:
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


def metrics(session: Session, *, job_id: str | None = None, plot: str | None = None, rows: int = 20) -> MetricsResult:
    """The ``metrics`` command."""
    if rows < 0:
        raise UsageError(f"--rows {rows}: must be 0 (all) or more", hint="e.g. --rows 20")
    if job_id is not None and not job_id.strip():
        raise UsageError("JOB_ID is empty",
                         hint="pass a job id, e.g. `python -m jobs metrics ftjob-...`, or omit it for this stack's "
                         "latest job")
    if plot:
        p = Path(plot)
        if p.suffix.lower() != ".png":
            raise UsageError(f"--plot {plot}: the chart is written as PNG", hint="use a file name ending in .png")
        if not p.parent.exists():
            raise UsageError(f"--plot {plot}: folder {p.parent} does not exist", hint="create it or choose another path")
    job_id = job_id.strip() if job_id is not None else latest_job_id(session)  # like status/watch
    got = collect(session, job_id)
    result = MetricsResult(
        job_id=got.job.id, status=got.job.state.value, fine_tuned_model=got.job.fine_tuned_model,
        result_file=got.result_file, table=got.table, checkpoints=got.checkpoints, rows_limit=rows, notes=got.notes,
        rich=session.ui.rich_output(),
    )
    if plot:
        if got.table is None or not got.table.rows:
            raise UsageError(f"--plot {plot}: job {result.job_id} has no results.csv rows to chart yet",
                             hint=f"wait for the job to succeed: `python -m jobs watch {result.job_id}`")
        result.plot = str(m.plot(got.table, plot, title=f"{result.job_id}  {result.fine_tuned_model or ''}".strip(),
                                 stand_in=got.stand_in_label()))
    return result
