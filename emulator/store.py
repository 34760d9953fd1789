"""Persistence of the emulator's files, jobs and registered deployments under ``--state-dir``.

Layout::

    <state-dir>/files/<file-id>.json     metadata (status, validation result, timestamps)
    <state-dir>/files/<file-id>.bin      the uploaded bytes
    <state-dir>/jobs/<job-id>.json       the job record, its events, checkpoints and transitions
    <state-dir>/models/<job-id>.jsonl    a job's copy of its training data (what its stand-in model answers from)
    <state-dir>/deployments.json         deployments registered through POST /++/deployments

Every write is atomic (temp file + fsync + rename), so a ``kill -9`` at any moment
leaves either the old or the new record. No key or token is ever written here.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any, Iterator

from jobs.atomic import write_atomic
from jobs.errors import UsageError


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data)


class Store:
    def __init__(self, state_dir: Path):
        self.root = Path(state_dir)
        self.files_dir = self.root / "files"
        self.jobs_dir = self.root / "jobs"
        self._check_writable()
        self.lock = threading.RLock()
        self._files: dict[str, dict[str, Any]] = {}
        self._jobs: dict[str, dict[str, Any]] = {}
        self._load()

    def _check_writable(self) -> None:
        """Refuse to start on a folder it cannot write: every upload would answer 500 and clients retry for minutes."""
        try:
            self.files_dir.mkdir(parents=True, exist_ok=True)
            self.jobs_dir.mkdir(parents=True, exist_ok=True)
            fd, probe = tempfile.mkstemp(dir=self.root, prefix=".write-check.", suffix=".tmp")
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise UsageError(f"emulator state folder {self.root} is not writable ({reason})",
                             hint="pass --state-dir a folder you can write to (it is created if missing)") from None

    def _load(self) -> None:
        for p in sorted(self.files_dir.glob("*.json")):
            rec = self._read_json(p)
            self._files[rec["id"]] = rec
        for p in sorted(self.jobs_dir.glob("*.json")):
            rec = self._read_json(p)
            self._jobs[rec["id"]] = rec

    @staticmethod
    def _read_json(p: Path) -> dict[str, Any]:
        """One persisted record. A damaged one stops the emulator rather than being
        skipped: a silently missing job would make a resuming runner start a second one."""
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UsageError(f"emulator state file {p} is unreadable: {exc}",
                             hint=f"repair or delete {p} (or start with an empty --state-dir)") from None
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise UsageError(f"emulator state file {p} is not a record with an \"id\"",
                             hint=f"repair or delete {p} (or start with an empty --state-dir)")
        return data

    # ------------------------------------------------------------------ files
    def files(self) -> Iterator[dict[str, Any]]:
        return iter(list(self._files.values()))

    def get_file(self, file_id: str) -> dict[str, Any] | None:
        return self._files.get(file_id)

    def put_file(self, rec: dict[str, Any], content: bytes | None = None) -> None:
        if content is not None:
            _atomic_write(self.files_dir / f"{rec['id']}.bin", content)
        _atomic_write(self.files_dir / f"{rec['id']}.json", json.dumps(rec).encode())
        self._files[rec["id"]] = rec

    def file_content(self, file_id: str) -> bytes:
        return (self.files_dir / f"{file_id}.bin").read_bytes()

    def delete_file(self, file_id: str) -> None:
        for suffix in (".json", ".bin"):
            try:
                (self.files_dir / f"{file_id}{suffix}").unlink()
            except FileNotFoundError:
                pass
        self._files.pop(file_id, None)

    # ------------------------------------------------------------------ jobs
    def jobs(self) -> list[dict[str, Any]]:
        return list(self._jobs.values())

    def get_job(self, job_id: str) -> dict[str, Any] | None:
        return self._jobs.get(job_id)

    def put_job(self, rec: dict[str, Any]) -> None:
        _atomic_write(self.jobs_dir / f"{rec['id']}.json", json.dumps(rec).encode())
        self._jobs[rec["id"]] = rec

    def delete_job(self, job_id: str) -> None:
        try:
            (self.jobs_dir / f"{job_id}.json").unlink()
        except FileNotFoundError:
            pass
        self._jobs.pop(job_id, None)

    # ------------------------------------------------------------------ what a job "learned"
    def put_training_snapshot(self, job_id: str, content: bytes) -> None:
        """A job's copy of its training data: the stand-in for the trained weights (survives file deletion)."""
        _atomic_write(self.root / "models" / f"{job_id}.jsonl", content)

    def training_snapshot(self, job_id: str) -> bytes:
        return (self.root / "models" / f"{job_id}.jsonl").read_bytes()

    # ------------------------------------------------------------------ deployments
    def registered_deployments(self) -> dict[str, dict[str, Any]]:
        path = self.root / "deployments.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise UsageError(f"emulator state file {path} is unreadable: {exc}",
                             hint=f"repair or delete {path} (registered deployments are re-created by promote)") from None
        if not isinstance(data, dict):
            raise UsageError(f"emulator state file {path} is not an object of deployments",
                             hint=f"repair or delete {path}")
        return data

    def save_deployments(self, deployments: dict[str, dict[str, Any]]) -> None:
        _atomic_write(self.root / "deployments.json", json.dumps(deployments, indent=1).encode())
