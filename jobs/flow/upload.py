"""Step 2, upload: the validated file, once per content hash, until the service has processed it.

Crash safety, in the run state (``jobs/state.py``):

- ``pending_uploads[sha256]`` is written *before* the POST; ``files[sha256]`` as soon as the service answers.
- A restart that finds a pending upload looks for the file on the server (same name and size, created after
  the attempt started) before uploading again; a file the state knows is reused while the server still has it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from jobs.api import FileInfo, is_not_found
from jobs.errors import JobFailedError, JobsError
from jobs.flow.data import DataCheck
from jobs.status import FileStatus

if TYPE_CHECKING:  # pragma: no cover
    from jobs.session import Session

ADOPT_SLACK_SECONDS = 60  # clock skew allowed between this machine and the service
PROCESSING_TIMEOUT = 3600.0


def now() -> int:
    return int(time.time())


@dataclass(frozen=True)
class UploadOutcome:
    file_id: str
    filename: str
    sha256: str
    status: str
    reused: bool
    adopted: bool = False
    status_details: str | None = None


def file_record(f: FileInfo, check: DataCheck) -> dict[str, Any]:
    """What the run state keeps of an uploaded file (lets ``train --file-id`` estimate the cost later)."""
    return {"file_id": f.id, "filename": check.path.name, "bytes": check.size, "purpose": "fine-tune",
            "sha256": check.sha256, "uploaded_at": f.created_at or now(), "status": str(f.state),
            "examples": check.examples, "billed_tokens_per_epoch": check.billed_tokens_per_epoch,
            "auto_epochs": check.epochs}


def file_facts(state: dict[str, Any], file_id: str) -> dict[str, Any] | None:
    """What the run state knows about an uploaded file id (tokens per epoch, default epochs)."""
    for rec in state.get("files", {}).values():
        if rec.get("file_id") == file_id:
            return dict(rec)
    return None


def find_uploaded(session: "Session", filename: str, size: int, since: int) -> FileInfo | None:
    """The file a lost upload request created: same name and size, not deleted, created after ``since``."""
    best: FileInfo | None = None
    for f in session.api.list_files():
        if f.filename != filename or f.purpose not in (None, "fine-tune") or f.bytes not in (None, size):
            continue
        if f.state is FileStatus.DELETED or (f.created_at or 0) < since - ADOPT_SLACK_SECONDS:
            continue
        if best is None or (f.created_at or 0) < (best.created_at or 0):
            best = f  # the earliest: the one the lost request created
    return best


def ensure_uploaded(session: "Session", check: DataCheck, *, wait: bool = True) -> UploadOutcome:
    """Upload ``check.path`` once per content hash; reuse what the state and the server already have."""
    say, rs, api = session.say, session.state, session.api
    name, sha, size = check.path.name, check.sha256, check.size
    state = rs.load()
    rec = state["files"].get(sha)
    if rec and rec.get("file_id"):
        try:
            f: FileInfo | None = api.get_file(rec["file_id"])
        except JobsError as exc:
            if not is_not_found(exc):
                raise
            f = None
        if f is not None and f.state not in (FileStatus.DELETED, FileStatus.ERROR):
            say(f"upload: {name} already uploaded as {f.id} (same sha256); reusing it")
            return _after_upload(session, f, check, wait=wait, reused=True)
        say(f"upload: {rec['file_id']} is gone from the server; uploading {name} again")

    pending = state.get("pending_uploads", {}).get(sha)
    if pending:
        found = find_uploaded(session, name, size, int(pending.get("started_at", 0)))
        if found is not None:
            say(f"upload: found {found.id} on the server from an interrupted upload; adopting it")
            _record_file(session, sha, file_record(found, check))
            return _after_upload(session, found, check, wait=wait, reused=True, adopted=True)

    session.checkpoint("before_upload")
    started = now()

    def mark(s: dict[str, Any]) -> None:
        s.setdefault("pending_uploads", {})[sha] = {"started_at": started, "filename": name, "bytes": size}

    rs.update(mark)
    session.checkpoint("after_upload_pending")
    say(f"upload: sending {name} ({size} bytes)")
    f = api.upload(name, check.path.read_bytes(), reconcile=lambda: find_uploaded(session, name, size, started))
    session.checkpoint("after_upload")
    _record_file(session, sha, file_record(f, check))
    session.checkpoint("after_upload_recorded")
    say(f"upload: {name} -> {f.id}")
    return _after_upload(session, f, check, wait=wait, reused=False)


def _record_file(session: "Session", sha: str, record: dict[str, Any]) -> None:
    def change(s: dict[str, Any]) -> None:
        s["files"][sha] = record
        s.setdefault("pending_uploads", {}).pop(sha, None)

    session.state.update(change)


def _after_upload(session: "Session", f: FileInfo, check: DataCheck, *, wait: bool, reused: bool,
                  adopted: bool = False) -> UploadOutcome:
    if wait and f.state is not FileStatus.PROCESSED:
        f = wait_processed(session, f.id)
    status = f.state

    def change(s: dict[str, Any]) -> None:
        if check.sha256 in s["files"]:
            s["files"][check.sha256]["status"] = str(status)

    session.state.update(change)
    if status is FileStatus.ERROR:
        raise JobFailedError(
            f"file {f.id} ({check.path.name}) failed processing on the server: "
            f"{f.status_details or 'no reason given'}",
            hint="fix the data file as the reason says (`python -m jobs validate` checks it locally) and upload again",
        )
    session.checkpoint("after_processed")
    return UploadOutcome(file_id=f.id, filename=check.path.name, sha256=check.sha256, status=str(status),
                         reused=reused, adopted=adopted, status_details=f.status_details)


def wait_processed(session: "Session", file_id: str, *, timeout: float = PROCESSING_TIMEOUT) -> FileInfo:
    """Poll a file until the service has processed it (or failed it), with the session's polling backoff."""
    poll = session.poll
    interval = poll.first
    started = time.monotonic()
    last: FileStatus | None = None
    while True:
        f = session.api.get_file(file_id)
        if f.state != last:
            session.say(f"upload: {file_id} is {f.status}")
            last = f.state
            interval = poll.first
        if f.state.terminal:
            return f
        if time.monotonic() - started > timeout:
            raise JobsError(f"file {file_id} is still {f.status} after {timeout:.0f} s",
                            hint="run the same command again later: it reuses the uploaded file")
        session.sleep(interval)
        interval = min(poll.cap, interval * poll.factor)
