"""The crash-test hook: named checkpoints where a test can make the process SIGKILL itself.

Env ``FTJOBS_TEST_CRASH_AT`` (read once, into the session) lists checkpoint names,
comma-separated, each ``name`` or ``name#N`` for the N-th time it is reached. The
flow steps call :meth:`CrashHook.__call__` at each point below, in the order
``run`` reaches them; ``tests/test_crash.py`` kills the runner at every one and
checks that running the same command again loses nothing and repeats nothing.
"""

from __future__ import annotations

import os
import signal
import sys

CHECKPOINTS = (
    "after_validate",
    "before_upload",
    "after_upload_pending",
    "after_upload",  # the server has the file, the state does not
    "after_upload_recorded",
    "after_processed",
    "after_pending",  # the pending create is written, nothing sent
    "after_create",  # the server has the job, the state does not
    "after_job_recorded",
    "watch_poll",
    "before_promote",
    "after_promote",
    "compare_row",  # compare: a row was recorded in the history (jobs/compare/engine.py)
    "ckpt_recorded",  # compare --checkpoints: a temporary deployment is in the run state, not yet created
    "ckpt_deployed",  # compare --checkpoints: ... and created (jobs/flow/ckpt_deployments.py)
    # the pipeline: after each of its steps is recorded, "pipeline:<step>" (jobs/flow/pipeline.py:STEPS)
)


class CrashHook:
    """``hook("after_upload")`` SIGKILLs this process when the spec names that checkpoint (and count)."""

    def __init__(self, spec: str | None = None):
        self.targets: list[tuple[str, int | None]] = []
        for item in (spec or "").split(","):
            name, _, nth = item.strip().partition("#")
            if name:
                self.targets.append((name, int(nth) if nth.isdigit() else (None if not nth else -1)))
        self._hits: dict[str, int] = {}

    def __call__(self, name: str) -> None:
        if not self.targets:
            return
        self._hits[name] = self._hits.get(name, 0) + 1
        for target, nth in self.targets:
            if target == name and (nth is None or nth == self._hits[name]):
                sys.stdout.flush()
                sys.stderr.flush()
                os.kill(os.getpid(), signal.SIGKILL)
