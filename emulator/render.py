"""The API's shapes of the stored records: files, jobs, events, checkpoints (dated and v1 surfaces)."""

from __future__ import annotations

from typing import Any

from jobs import contract


def render_file(rec: dict[str, Any], *, v1: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"id": rec["id"], "object": "file", "bytes": rec["bytes"],
                           "created_at": int(rec["created_at"]), "filename": rec["filename"],
                           "purpose": rec["purpose"], "status": rec["status"]}
    if rec["status"] == "error":
        out["status_details"] = rec.get("status_details") or rec.get("error")
    elif v1:
        out["status_details"] = None
    return out


def render_job(rec: dict[str, Any], *, v1: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": rec["id"], "object": "fine_tuning.job", "created_at": int(rec["created_at"]),
        "status": rec["status"], "model": rec["model"], "training_file": rec["training_file"],
        "hyperparameters": dict(rec["hyperparameters"]), "method": rec["method"],
        "seed": rec["seed"],
        # Azure's quirk: null until the job is done
        "result_files": rec["result_files"],
    }
    optional = {
        "fine_tuned_model": rec["fine_tuned_model"],
        "validation_file": rec["validation_file"],
        "finished_at": int(rec["finished_at"]) if rec["finished_at"] is not None else None,
        "trained_tokens": rec["trained_tokens"],
        "suffix": rec["suffix"],
        "error": rec["error"],
        "estimated_finish": None,
        contract.TRAINING_TYPE_FIELD: rec.get(contract.TRAINING_TYPE_FIELD),
        "integrations": rec.get("integrations"),
    }
    if rec["status"] == "running" and rec.get("estimated_finish") is not None:
        optional["estimated_finish"] = int(rec["estimated_finish"]) + 1  # the trainer's estimate (emulator/trainer.py)
    if v1:
        optional["organization_id"] = None
        out.update(optional)
    else:
        out.update({k: v for k, v in optional.items() if v is not None})
    return out


def render_event(ev: dict[str, Any]) -> dict[str, Any]:
    out = {"id": ev["id"], "object": "fine_tuning.job.event", "created_at": int(ev["created_at"]),
           "level": ev["level"], "message": ev["message"], "type": ev["type"]}
    if "data" in ev:
        out["data"] = ev["data"]
    return out


def render_checkpoint(ck: dict[str, Any]) -> dict[str, Any]:
    return {k: (int(v) if k == "created_at" else v) for k, v in ck.items() if k not in ("epoch", "artefact")} | {
        "object": "fine_tuning.job.checkpoint"}
