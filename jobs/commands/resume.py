"""``python -m jobs resume [JOB_ID]``: ask the service to resume the job (default: this stack's latest)."""

from __future__ import annotations

from jobs.commands._control import ControlResult, control


def resume(*, job_id: str | None = None, stack: str | None = None, endpoint: str | None = None, api: str | None = None,
       api_version: str | None = None) -> ControlResult:
    return control("resume", job_id=job_id, stack=stack, endpoint=endpoint, api=api, api_version=api_version)
