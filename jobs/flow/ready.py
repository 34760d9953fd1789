"""Wait until a new deployment answers: ARM reports "Succeeded" before inference is ready.

For a while after ``pulumi up`` the data plane answers a chat request with ``DeploymentNotFound`` (404) or
``DeploymentNotReady``; :func:`wait_until_answers` sends the smallest chat request (one token) with the
session's polling backoff until one succeeds, bounded by ``timeout``, showing the wait.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from jobs.api import NotTheApi
from jobs.errors import JobsError

if TYPE_CHECKING:  # pragma: no cover
    from jobs.session import Session

READY_TIMEOUT = 1800.0  # seconds: Microsoft documents deployments taking minutes; half an hour is a fault
_NOT_READY = ("deploymentnotfound", "deploymentnotready", "notready", "not ready", "does not exist")


def _not_ready_yet(exc: JobsError) -> bool:
    text = exc.message.lower().replace(" ", "")
    return exc.status in (404, 409, 424) or any(w.replace(" ", "") in text for w in _NOT_READY)


def wait_until_answers(session: "Session", deployment: str, *, timeout: float = READY_TIMEOUT) -> float:
    """Seconds waited until ``deployment`` answered a one-token chat request."""
    poll = session.poll
    interval = poll.first
    started = time.monotonic()
    attempts = 0
    with session.progress() as display:
        while True:
            attempts += 1
            try:
                session.api.chat(deployment, [{"role": "user", "content": "ping"}], max_tokens=1)
            except NotTheApi:
                raise
            except JobsError as exc:
                if not _not_ready_yet(exc):
                    raise
                waited = time.monotonic() - started
                display.update(job_id=f"deployment {deployment}", status="not answering yet", elapsed=waited,
                               note=f"attempt {attempts}: {exc.message.splitlines()[0][:100]}")
                if waited + interval > timeout:
                    raise JobsError(f"deployment {deployment} did not answer within {timeout:g} s "
                                    f"({attempts} attempts; last: {exc.message.splitlines()[0]})",
                                    hint="check the deployment in the Foundry portal; then run the same command "
                                    "again (it resumes)") from None
                session.sleep(interval)
                interval = min(poll.cap, interval * poll.factor)
                continue
            waited = time.monotonic() - started
            display.update(job_id=f"deployment {deployment}", status="answers", elapsed=waited)
            return waited
