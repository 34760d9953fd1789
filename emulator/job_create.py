"""Creating a fine-tuning job: parse the request, plan the run, persist it (each a small step).

:func:`parse` checks the body's fields as Azure does (400 invalidPayload naming the field); :func:`plan` turns a
parsed request and the checked training file into the job's record; the engine persists it with its training
snapshot and the first event.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from emulator import errors
from emulator.config import EmulatorConfig
from emulator.counting import FileCheck
from emulator.files_api import hex_id, unit
from jobs import contract, models

# Azure's trainingType values, compared case-insensitively ("developer" tolerated for "developerTier").
TRAINING_TYPES = tuple(v.lower() for v in contract.TRAINING_TYPES.values()) + ("developer",)
# What Azure reports for hyperparameters the request left unset, as the tutorial's published job shows
# ("n_epochs": -1, "batch_size": -1, "learning_rate_multiplier": 1; tutorials/fine-tune.md, "Begin fine-tuning").
DEFAULT_HYPERPARAMETERS: dict[str, Any] = {"n_epochs": -1, "batch_size": -1, "learning_rate_multiplier": 1}
# DPO's beta when the request leaves it unset: undocumented; 0.1 is the value of Microsoft's DPO REST example
# (how-to/fine-tuning-direct-preference-optimization.md). See docs/emulator.md.
DEFAULT_DPO_BETA = 0.1
METHODS = ("supervised", "dpo")


@dataclass(frozen=True)
class JobRequest:
    body: dict[str, Any]
    model: str
    base: models.FineTunableModel
    training_file: str
    validation_file: str | None
    suffix: str | None
    method: str
    hyperparameters: dict[str, Any]
    training_type: str  # Azure's spelling, defaulted when the request has none (training_type())


def parse(body: dict[str, Any]) -> JobRequest:
    """The request's fields, each checked (the files are checked by the engine, against the job)."""
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise errors.invalid_payload("The 'model' property is required.", "model")
    try:
        base = models.resolve(model)
    except (models.UnknownModel, models.NotFineTunable):
        raise errors.invalid_payload(errors.BASE_MODEL_NOT_SUPPORTED, "model")
    training_file = body.get("training_file")
    if not isinstance(training_file, str) or not training_file:
        raise errors.invalid_payload("The 'training_file' property is required.", "training_file")
    suffix = body.get("suffix")
    if suffix is not None and (not isinstance(suffix, str) or len(suffix) > 40
                               or not all(c.isalnum() or c in "-_" for c in suffix)):
        raise errors.invalid_payload("The suffix can contain up to 40 characters (a-z, A-Z, 0-9, - and _).",
                                     "suffix")
    _check_lifecycle(base)
    kind = training_type(body.get(contract.TRAINING_TYPE_FIELD), base)
    method, hp_in = _method(body)
    if method == "dpo" and not base.dpo:
        raise errors.invalid_payload(errors.BASE_MODEL_NOT_SUPPORTED_FOR_DPO, "model")
    return JobRequest(body, model, base, training_file, body.get("validation_file") or None, suffix, method,
                      _hyperparameters(hp_in, method), kind)


def training_type(value: Any, base: models.FineTunableModel) -> str:
    """The job's trainingType: as the request spelled it (how Azure reports it back is not published; the
    authoring spec 2025-04-01-preview has no such property), or the default in Azure's REST spelling.

    Accepted in any case: Microsoft's samples send ``Standard``/``GlobalStandard``, the REST docs
    ``standard``/``globalstandard``/``developerTier``. Absent: Azure accepts the job, and no Microsoft page says
    which type it then applies (the azure-ai-projects samples say only "Omitting this field may lead to unsupported
    behavior"); the emulator applies the runner's default, ``base.default_training_type`` (regional Standard
    where the model trains regionally, else Global): an assumption, listed in docs/emulator.md.
    """
    if value is None:
        return contract.TRAINING_TYPES[base.default_training_type]
    kind = str(value).lower()
    if kind not in TRAINING_TYPES:
        raise errors.invalid_payload(
            f"Unsupported trainingType '{value}'. Use standard, globalstandard or developerTier.",
            contract.TRAINING_TYPE_FIELD)
    name = next((n for n, wire in contract.TRAINING_TYPES.items() if wire.lower() == kind), contract.TRAINING_DEVELOPER)
    if name not in base.training_types:
        offered = ", ".join(contract.TRAINING_TYPES[t] for t in base.training_types)
        # Open-weight models train Global (or Data Zone) only: FINE_TUNE_MODELS_SOURCE (jobs/models.py).
        raise errors.invalid_payload(
            f"The base model '{base.model_id}' does not support trainingType '{value}'. "
            f"Set trainingType to one of: {offered}.", contract.TRAINING_TYPE_FIELD)
    return str(value)


def _check_lifecycle(base: models.FineTunableModel) -> None:
    """Fine-tuning a model whose training has retired (jobs.models lifecycle table, today = jobs.models.today()).

    Azure documents no distinct error code for it; the model-retirement page says retired models take no new
    fine-tuning jobs, so the emulator answers as for any model it does not fine-tune: 400 invalidPayload with
    BASE_MODEL_NOT_SUPPORTED, followed by the lifecycle table's reason and replacement."""
    refusal = models.check_lifecycle(base, models.TRAINING, models.today()).refusal
    if refusal:
        raise errors.invalid_payload(f"{errors.BASE_MODEL_NOT_SUPPORTED} {refusal}", "model")


def _epochs(req: JobRequest, checked: FileCheck, config: EmulatorConfig) -> int:
    n_epochs = req.hyperparameters["n_epochs"]
    if n_epochs > 0:
        return int(n_epochs)
    if config.default_epochs:
        return config.default_epochs
    from jobs.dataset import default_epochs

    return default_epochs(checked.examples)


def plan(req: JobRequest, checked: FileCheck, config: EmulatorConfig, job_id: str, now: float) -> dict[str, Any]:
    """The job's record: its steps, duration and the model id it will produce (``status: pending``)."""
    epochs = _epochs(req, checked, config)
    batch = req.hyperparameters["batch_size"]
    steps_per_epoch = max(1, math.ceil(checked.examples / (batch if batch > 0 else 1)))
    # Azure names the tuned model after the versioned base id (gpt-4.1 -> gpt-4.1-2025-04-14);
    # a fine-tuned model given as the base keeps its own id.
    stem = req.model if ".ft-" in req.model else req.base.model_id
    planned = f"{stem}.ft-{hex_id(job_id, 'model')}" + (f"-{req.suffix}" if req.suffix else "")
    seed = req.body.get("seed")
    hp, method = req.hyperparameters, req.method
    return {
        "id": job_id, "created_at": now, "status": "pending", "model": req.model,
        "training_file": req.training_file, "validation_file": req.validation_file, "suffix": req.suffix,
        "seed": seed if isinstance(seed, int) else int(unit(job_id, "seed") * 2**31),
        "hyperparameters": hp, "method": {"type": method, method: {"hyperparameters": hp}},
        contract.TRAINING_TYPE_FIELD: req.training_type,
        "integrations": req.body.get("integrations"),
        "epochs": epochs, "steps_per_epoch": steps_per_epoch, "total_steps": steps_per_epoch * epochs,
        "n_examples": checked.examples, "train_duration": float(config.training_seconds),
        "ready_at": now + config.queue_seconds, "done_seconds": 0.0, "run_started_at": None,
        "started_at": None, "slot_released_at": None, "emitted_steps": 0,
        "will_fail": bool(req.suffix and config.fail_jobs_with_suffix and config.fail_jobs_with_suffix in req.suffix),
        "planned_model": planned, "planned_tokens": checked.tokens_per_epoch * epochs,
        "fine_tuned_model": None, "trained_tokens": None, "result_files": None, "finished_at": None,
        "error": None, "events": [], "checkpoints": [],
    }


def _method(body: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The job's method (``supervised`` unless ``method.type`` says ``dpo``) and its requested hyperparameters.

    Read from ``method.<type>.hyperparameters`` (the spec's and the SDK samples' shape), also from
    ``method.dpo`` itself (Microsoft's DPO REST example puts ``beta`` there), then the top-level
    ``hyperparameters`` (the older shape, which wins when both are given)."""
    method = body.get("method")
    kind = "supervised"
    nested: Any = {}
    if method is not None:
        if not isinstance(method, dict) or method.get("type") not in METHODS:
            raise errors.invalid_payload(f"'method.type' must be one of: {', '.join(METHODS)}.", "method.type")
        kind = method["type"]
        config = method.get(kind) or {}
        if not isinstance(config, dict):
            raise errors.invalid_payload(f"'method.{kind}' must be an object.", f"method.{kind}")
        nested = config.get("hyperparameters") or {}
        if kind == "dpo" and isinstance(nested, dict):  # Microsoft's REST example: beta etc. inside `dpo`
            nested = {**{k: v for k, v in config.items() if k != "hyperparameters"}, **nested}
    top = body.get("hyperparameters") or {}
    for where, value in ((f"method.{kind}.hyperparameters", nested), ("hyperparameters", top)):
        if not isinstance(value, dict):
            raise errors.invalid_payload(f"'{where}' must be an object.", where)
    return kind, {**nested, **top}


def _hyperparameters(hp: dict[str, Any], method: str) -> dict[str, Any]:
    """Checked hyperparameters with Azure's reported defaults for the unset ones (:data:`DEFAULT_HYPERPARAMETERS`)."""
    out: dict[str, Any] = {**DEFAULT_HYPERPARAMETERS, **({"beta": DEFAULT_DPO_BETA} if method == "dpo" else {})}
    numbers = {"n_epochs": "integer", "batch_size": "integer", "learning_rate_multiplier": "positive"}
    if method == "dpo":
        numbers.update(beta="positive", l2_multiplier="non-negative")
    for name, kind in numbers.items():
        value = hp.get(name)
        if value in (None, "auto"):
            continue
        number = not isinstance(value, bool) and isinstance(value, (int, float))
        if kind == "integer" and not (number and isinstance(value, int) and value >= 1):
            raise errors.invalid_payload(f"hyperparameters.{name} must be a positive integer or 'auto'.",
                                         f"hyperparameters.{name}")
        if kind != "integer" and not (number and (value > 0 if kind == "positive" else value >= 0)):
            raise errors.invalid_payload(f"hyperparameters.{name} must be a {kind} number or 'auto'.",
                                         f"hyperparameters.{name}")
        out[name] = value
    return out


