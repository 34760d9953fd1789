"""What a job learned: its ``results.csv`` and checkpoints, fetched through the session (``metrics``, the
rehearsal's chart). ``job.result_files[0]`` is read with the files API (base64-encoded content and Azure's
column variants are handled by :mod:`jobs.metrics`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from jobs import metrics as m
from jobs.api import JobInfo, NotTheApi
from jobs.errors import JobsError
from jobs.stand_in import STAND_IN_HEADER
from jobs.status import JobStatus

STAND_IN_MODEL_HEADER = f"{STAND_IN_HEADER}-model"  # the local-model backend's model name (when sent)

if TYPE_CHECKING:  # pragma: no cover
    from jobs.session import Session


@dataclass
class JobMetrics:
    job: JobInfo
    table: m.MetricsTable | None
    checkpoints: list[m.Checkpoint] = field(default_factory=list)
    result_file: str | None = None
    notes: list[str] = field(default_factory=list)
    backend: str | None = None  # the x-emulator header of the results download: "stand-in", "local-model"; None: Azure
    backend_model: str | None = None  # the local-model backend's model, when its header names it

    def stand_in_label(self) -> str | None:
        """The chart's stand-in label (:func:`jobs.metrics.stand_in_label`), None for Azure's metrics."""
        return m.stand_in_label(self.backend, model=self.job.model, local_model=self.backend_model)


def collect(session: "Session", job_id: str) -> JobMetrics:
    """Fetch the job, its results.csv and checkpoints."""
    job = session.api.get_job(job_id)
    got = JobMetrics(job=job, table=None)
    if job.result_files:
        got.result_file = job.result_files[0]
        content, headers = session.api.file_download(got.result_file)
        got.backend = headers.get(STAND_IN_HEADER) or None
        got.backend_model = headers.get(STAND_IN_MODEL_HEADER) or None
        got.table = m.load_results(content, source=f"result file {got.result_file}")
        label = got.stand_in_label()
        if label:
            got.notes.append(label)
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
