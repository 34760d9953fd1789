"""``python -m jobs cancel [JOB_ID]``: ask the service to cancel the job (default: this stack's latest)."""

from __future__ import annotations

from jobs.commands._control import ControlResult, control


def cancel(*, job_id: str | None = None, stack: str | None = None, endpoint: str | None = None, api: str | None = None,
       api_version: str | None = None) -> ControlResult:
    return control("cancel", job_id=job_id, stack=stack, endpoint=endpoint, api=api, api_version=api_version)
