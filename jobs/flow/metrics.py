"""What a job learned: its ``results.csv`` and checkpoints, fetched through the session (``metrics``, the
rehearsal's chart). ``job.result_files[0]`` is read with the files API (base64-encoded content and Azure's
column variants are handled by :mod:`jobs.metrics`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from jobs import metrics as m
from jobs.api import JobInfo, NotTheApi
from jobs.errors import JobsError
from jobs.status import JobStatus

if TYPE_CHECKING:  # pragma: no cover
    from jobs.session import Session


@dataclass
class JobMetrics:
    job: JobInfo
    table: m.MetricsTable | None
    checkpoints: list[m.Checkpoint] = field(default_factory=list)
    result_file: str | None = None
    notes: list[str] = field(default_factory=list)


def collect(session: "Session", job_id: str) -> JobMetrics:
    """Fetch the job, its results.csv and checkpoints."""
    job = session.api.get_job(job_id)
    got = JobMetrics(job=job, table=None)
    if job.result_files:
        got.result_file = job.result_files[0]
        got.table = m.load_results(session.api.file_content(got.result_file),
                                   source=f"result file {got.result_file}")
        if not got.table.rows:
            got.notes.append(f"result file {got.result_file} has a header but no rows")
    elif job.state is JobStatus.SUCCEEDED:
        got.notes.append("the job succeeded but lists no result file")
    else:
        got.notes.append(f"no results.csv yet: the job is {job.state.value}; it appears when the job succeeds")
    try:
        got.checkpoints = m.parse_checkpoints(session.api.list_checkpoints(job_id))
    except NotTheApi:
        raise
    except JobsError as exc:
        got.notes.append(f"checkpoints unavailable: {exc.message.splitlines()[0]}")
    return got
