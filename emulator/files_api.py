"""The files API: uploads (checked as Azure's import checks them), lookups, deletion, and their processing."""

from __future__ import annotations

import hashlib
from typing import Any, Callable

from emulator import errors
from emulator.config import EmulatorConfig
from emulator.counting import check_upload
from emulator.store import Store

PURPOSES = ("fine-tune", "fine-tune-results", "assistants", "assistants_output", "batch", "batch_output",
            "evals", "evals_output")


class Files:
    def __init__(self, store: Store, config: EmulatorConfig, now: Callable[[], float], new_id: Callable[[str], str]):
        self.store = store
        self.config = config
        self.now = now
        self.new_id = new_id

    def upload(self, filename: str, purpose: str, content: bytes) -> dict[str, Any]:
        now = self.now()
        error = check_upload(content).message if purpose == "fine-tune" else None
        rec: dict[str, Any] = {"id": self.new_id("file"), "object": "file", "bytes": len(content), "created_at": now,
                               "filename": filename, "purpose": purpose, "status": "pending",
                               "ready_at": now + self.config.file_processing_seconds, "error": error}
        with self.store.lock:
            self.store.put_file(rec, content)
        return rec

    def process(self, now: float) -> None:
        """Pending uploads whose processing time is over become ``processed`` (or ``error``)."""
        for rec in self.store.files():
            if rec["status"] == "pending" and now >= rec["ready_at"]:
                rec = dict(rec)
                rec["status"] = "error" if rec.get("error") else "processed"
                if rec.get("error"):
                    rec["status_details"] = rec["error"]
                self.store.put_file(rec)

    def get(self, file_id: str) -> dict[str, Any]:
        rec = self.store.get_file(file_id)
        if rec is None:
            raise errors.not_found("File", file_id)
        return rec

    def delete(self, file_id: str) -> None:
        self.get(file_id)
        with self.store.lock:
            self.store.delete_file(file_id)

    def usable(self, file_id: str, param: str) -> dict[str, Any]:
        """A processed ``fine-tune`` file a job may train on, or Azure's 400 naming ``param``."""
        rec = self.store.get_file(file_id)
        if rec is None:
            raise errors.invalid_payload(f"The specified {param.replace('_', ' ')} '{file_id}' does not exist.", param)
        if rec["status"] != "processed" or rec.get("purpose") != "fine-tune":
            raise errors.invalid_payload(errors.FILE_NOT_COMPLETED, param)
        return rec

    def put_results(self, job_id: str, content: bytes, t: float) -> str:
        """A job's ``results.csv`` as a ``fine-tune-results`` file; returns its id."""
        file_id = f"file-{hex_id(job_id, 'results')}"
        rec = {"id": file_id, "object": "file", "bytes": len(content), "created_at": t, "filename": "results.csv",
               "purpose": "fine-tune-results", "status": "processed", "ready_at": t, "error": None}
        self.store.put_file(rec, content)
        return file_id


def hex_id(*parts: Any) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:32]


def unit(*parts: Any) -> float:
    """A deterministic number in [0, 1) from the parts."""
    return int(hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:8], 16) / 2**32
