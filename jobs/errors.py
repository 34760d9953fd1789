"""The one error type of the job runner and its exit codes.

Core functions raise :class:`JobsError` (or a subclass); only the CLI edge
(``jobs/cli.py``) turns it into a message and an exit code. The codes are
documented in the README (Troubleshooting) and docs/runner.md:

====  =========================================================
0     success
1     the job failed or was cancelled / the data file is invalid
2     usage error: bad option, missing file, unknown model, bad setting
3     refused by a guard (cost limit, not confirmed, lock held, ...)
4     a ``compare --fail-under CHECK=RATE`` gate failed (the report is written)
====  =========================================================
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    USAGE = 2
    REFUSED = 3
    GATE = 4  # compare --fail-under: the candidate's pass rate is below the gate


class JobsError(Exception):
    """A failure the user can act on: a message, an optional fix, an exit code."""

    exit_code: ExitCode = ExitCode.FAILED

    def __init__(self, message: str, *, hint: str | None = None, exit_code: ExitCode | None = None,
                 status: int | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.status = status  # the HTTP status of a final API error (jobs/retry.py:translate), else None
        # the API's error code of a final API error, Azure's inner code after a slash
        # ("content_filter/ResponsibleAIPolicyViolation"), else None
        self.code: str | None = None
        if exit_code is not None:
            self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message


class UsageError(JobsError):
    """Bad input: a missing file, an unknown model, a setting that is not set."""

    exit_code = ExitCode.USAGE


class RefusedError(JobsError):
    """A guard said no: cost above --max-cost, not confirmed, another run holds the lock."""

    exit_code = ExitCode.REFUSED


class JobFailedError(JobsError):
    """The fine-tuning job (or the uploaded file) ended in failure or was cancelled."""

    exit_code = ExitCode.FAILED
