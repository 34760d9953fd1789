"""Azure's fine-tuning limits, checked before anything is uploaded or spent (``validate``, ``run``, ``pipeline``,
``train``). The figures and their source are in ``jobs/contract.py`` (``MAX_*``, the quotas page):

- the job size: tokens in the training file x epochs, at most 2 billion;
- the resource's files: at most 100 fine-tuning files, 1 GB in all (counted on the server before an upload).

The 512 MB per file is the validator's own rule (``jobs/dataset.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping

from jobs import contract
from jobs.errors import UsageError

if TYPE_CHECKING:  # pragma: no cover
    from jobs.session import Session


def job_size_problem(tokens_per_epoch: int | None, epochs: int | None) -> str | None:
    """What is wrong with a job of this size, or None (also when either number is unknown)."""
    if not tokens_per_epoch or not epochs:
        return None
    size = tokens_per_epoch * epochs
    if size <= contract.MAX_JOB_TOKENS:
        return None
    most = max(1, contract.MAX_JOB_TOKENS // tokens_per_epoch)
    return (f"the job would train {tokens_per_epoch:,} tokens x {epochs} epochs = {size:,} tokens, over Azure's "
            f"{contract.MAX_JOB_TOKENS:,}-token job size ({contract.QUOTA_SOURCE}); at most {most} epochs fit, "
            "or split the data into smaller jobs")


def check_job_size(tokens_per_epoch: int | None, epochs: int | None) -> None:
    problem = job_size_problem(tokens_per_epoch, epochs)
    if problem:
        raise UsageError(f"{problem}; no job was created", hint="pass --epochs with fewer epochs, or use less data")


def check_resource_files(session: "Session", uploads: list[tuple[str, int]], uploaded: Mapping[str, Any]) -> None:
    """Before uploading: the resource keeps at most 100 fine-tuning files, 1 GB in all. ``uploads`` are
    (sha256, size) of the files the step needs; those in ``uploaded`` (the run state's) cost nothing more."""
    new = [size for sha, size in uploads if sha not in uploaded]
    adding = sum(new)
    if not new:
        return
    files = [f for f in session.api.list_files()
             if (f.purpose or "fine-tune").startswith("fine-tune") and f.status not in ("deleted", "error")]
    used = sum(f.bytes or 0 for f in files)
    where = f"on {session.connection.endpoint} ({contract.QUOTA_SOURCE})"
    fix = "delete files no job needs any more: `python -m jobs clean` (the project's), or the portal's Data files"
    if len(files) + len(new) > contract.MAX_FINE_TUNING_FILES:
        raise UsageError(f"the resource already holds {len(files)} fine-tuning files, Azure's limit is "
                         f"{contract.MAX_FINE_TUNING_FILES} {where}; nothing was uploaded", hint=fix)
    if used + adding > contract.MAX_FINE_TUNING_FILES_BYTES:
        raise UsageError(f"uploading {adding:,} bytes would bring the resource's fine-tuning files to "
                         f"{used + adding:,} bytes, over Azure's {contract.MAX_FINE_TUNING_FILES_BYTES:,} {where}; "
                         "nothing was uploaded", hint=fix)
