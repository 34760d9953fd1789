"""One status vocabulary for fine-tuning jobs and files, whatever the server says.

Azure OpenAI (dated API, ``2025-04-01-preview``) reports a job as ``created``,
``pending``, ``notRunning``, ``running``, ``pausing``, ``paused``, ``resuming``,
``succeeded``, ``cancelled`` or ``failed``; OpenAI and the v1 surface say
``validating_files``, ``queued``, ``running``, ``succeeded``, ``failed``,
``cancelled``. Both spellings of cancelled occur. :func:`normalise` maps all of
them (case-insensitively, ignoring ``_``/``-``) onto :class:`JobStatus`.

Stdlib only: imported by the CLI's commands before any SDK.
"""

from __future__ import annotations

import enum


class JobStatus(str, enum.Enum):
    VALIDATING = "validating"
    QUEUED = "queued"
    RUNNING = "running"
    PAUSING = "pausing"
    PAUSED = "paused"
    RESUMING = "resuming"
    CANCELLING = "cancelling"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNKNOWN = "unknown"

    @property
    def terminal(self) -> bool:
        return self in (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED)

    @property
    def ok(self) -> bool:
        return self is JobStatus.SUCCEEDED

    def __str__(self) -> str:  # "running", not "JobStatus.RUNNING"
        return self.value


_JOB_ALIASES: dict[str, JobStatus] = {
    "validatingfiles": JobStatus.VALIDATING,
    "validating": JobStatus.VALIDATING,
    "created": JobStatus.QUEUED,
    "notrunning": JobStatus.QUEUED,
    "pending": JobStatus.QUEUED,
    "queued": JobStatus.QUEUED,
    "running": JobStatus.RUNNING,
    "inprogress": JobStatus.RUNNING,
    "pausing": JobStatus.PAUSING,
    "paused": JobStatus.PAUSED,
    "resuming": JobStatus.RESUMING,
    "cancelling": JobStatus.CANCELLING,
    "canceling": JobStatus.CANCELLING,
    "succeeded": JobStatus.SUCCEEDED,
    "completed": JobStatus.SUCCEEDED,
    "failed": JobStatus.FAILED,
    "cancelled": JobStatus.CANCELLED,
    "canceled": JobStatus.CANCELLED,
}


def _squash(raw: object) -> str:
    return str(raw or "").strip().lower().replace("_", "").replace("-", "").replace(" ", "")


def normalise(raw: object) -> JobStatus:
    """Map any job status string (Azure's or OpenAI's) onto :class:`JobStatus`."""
    if isinstance(raw, JobStatus):
        return raw
    return _JOB_ALIASES.get(_squash(raw), JobStatus.UNKNOWN)


class FileStatus(str, enum.Enum):
    PROCESSING = "processing"
    PROCESSED = "processed"
    ERROR = "error"
    DELETED = "deleted"
    UNKNOWN = "unknown"

    @property
    def terminal(self) -> bool:
        return self in (FileStatus.PROCESSED, FileStatus.ERROR, FileStatus.DELETED)

    def __str__(self) -> str:
        return self.value


_FILE_ALIASES: dict[str, FileStatus] = {
    "uploaded": FileStatus.PROCESSING,
    "pending": FileStatus.PROCESSING,
    "running": FileStatus.PROCESSING,
    "processing": FileStatus.PROCESSING,
    "processed": FileStatus.PROCESSED,
    "error": FileStatus.ERROR,
    "failed": FileStatus.ERROR,
    "deleting": FileStatus.DELETED,
    "deleted": FileStatus.DELETED,
}


def normalise_file(raw: object) -> FileStatus:
    """Map a file status (``uploaded``/``pending``/``running``/``processed``/``error``...)."""
    if isinstance(raw, FileStatus):
        return raw
    return _FILE_ALIASES.get(_squash(raw), FileStatus.UNKNOWN)
