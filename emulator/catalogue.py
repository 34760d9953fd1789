"""The model catalogue: the fine-tunable base models and the fine-tuned models (and checkpoints) trained here."""

from __future__ import annotations

import datetime
import re
from typing import Any, Callable

from emulator import errors
from emulator.answers import TunedModel
from emulator.store import Store
from jobs import models

_CHECKPOINT = re.compile(r"(?P<model>.+):ckpt-step-(?P<step>\d+)")
Artefact = Callable[[dict[str, Any], int], "str | None"]


class Catalogue:
    def __init__(self, store: Store, artefact: Artefact):
        self.store = store
        self.artefact = artefact

    def models(self) -> list[dict[str, Any]]:
        out = []
        for m in models.FINE_TUNABLE:
            lc = m.lifecycle
            out.append({"id": m.model_id, "object": "model", "created_at": 1735689600, "status": "succeeded",
                        "capabilities": {"fine_tune": True, "inference": True, "completion": False,
                                         "chat_completion": True, "embeddings": False},
                        "lifecycle_status": _STATUS.get(lc.status, "generally-available"),
                        # the lifecycle table's dates where it has them; else the emulator's placeholders
                        "deprecation": {"fine_tune": _epoch(lc.training_retires, 1798761600),
                                        "inference": _epoch(lc.base_retires, 1830297600)}})
        for job in sorted(self.store.jobs(), key=lambda j: j["created_at"]):
            if job["status"] == "succeeded" and not job.get("model_deleted"):
                tuned_lc = _lifecycle(job["model"])
                out.append({"id": job["fine_tuned_model"], "object": "model", "created_at": int(job["finished_at"]),
                            "status": "succeeded", "model": job["model"], "fine_tune": job["id"],
                            "capabilities": {"fine_tune": False, "inference": True, "completion": False,
                                             "chat_completion": True, "embeddings": False},
                            "lifecycle_status": _STATUS.get(tuned_lc.status, "generally-available") if tuned_lc
                            else "generally-available",
                            "deprecation": {"inference": _epoch(tuned_lc.deployment_retires if tuned_lc else None,
                                                                int(job["finished_at"]) + 365 * 86400)}})
        return out

    def get(self, model_id: str) -> dict[str, Any]:
        for m in self.models():
            if m["id"] == model_id:
                return m
        raise errors.not_found("Model", model_id)

    def delete(self, model_id: str) -> None:
        """Delete a fine-tuned model (base models cannot be deleted)."""
        with self.store.lock:
            for job in self.store.jobs():
                if job.get("fine_tuned_model") == model_id and not job.get("model_deleted"):
                    job = dict(job)
                    job["model_deleted"] = True
                    self.store.put_job(job)
                    return
        if any(m.model_id == model_id for m in models.FINE_TUNABLE):
            raise errors.ApiError(400, "invalidPayload", f"The base model '{model_id}' cannot be deleted.")
        raise errors.not_found("Model", model_id)

    def tuned_model(self, model_id: str) -> TunedModel | None:
        """The job behind a fine-tuned model id or a checkpoint id (``<model>:ckpt-step-N``) trained here."""
        m = _CHECKPOINT.fullmatch(model_id)
        name, step = (m.group("model"), int(m.group("step"))) if m else (model_id, None)
        for job in self.store.jobs():
            if job.get("fine_tuned_model") == name or job.get("planned_model") == name:
                jid = job["id"]
                at = step if step is not None else int(job["total_steps"])
                return TunedModel(job_id=jid, base_model=_base_id(job["model"]), step=step,
                                  artefact=self.artefact(job, at), training_data=lambda: self._snapshot(jid))
        return None

    def _snapshot(self, job_id: str) -> bytes | None:
        try:
            return self.store.training_snapshot(job_id)
        except OSError:
            return None


# The lifecycle table's statuses as the spec's LifeCycleStatus enum names them (authoring 2025-04-01-preview:
# preview, generally-available, deprecating, deprecated); "Legacy" (retirement announced) reads as deprecating.
_STATUS = {models.GA: "generally-available", models.LEGACY: "deprecating", models.DEPRECATED: "deprecated",
           models.RETIRED_STATUS: "deprecated"}


def _epoch(day: datetime.date | None, default: int) -> int:
    if day is None:
        return default
    return int(datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.timezone.utc).timestamp())


def _lifecycle(model: str) -> models.Lifecycle | None:
    try:
        return models.resolve(model).lifecycle
    except LookupError:
        return None


def _base_id(model: str) -> str:
    try:
        return models.resolve(model).model_id
    except (models.UnknownModel, models.NotFineTunable):
        return model
