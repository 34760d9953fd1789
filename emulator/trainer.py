"""The trainer seam: what turns a fine-tuning job into steps, metrics, checkpoints and a model.

The engine (``emulator/finetune.py``) owns the job's record, its slot and its events; a trainer owns the
training. The engine calls :meth:`Trainer.plan` when a job is created (a trainer that runs a real model may set
the job's ``epochs``, ``steps_per_epoch``, ``total_steps`` and ``planned_tokens`` to what its run will do),
:meth:`Trainer.start` when a job first gets a running slot, :meth:`Trainer.resume` when a paused job gets one
again or when the emulator starts with a job that was running, :meth:`Trainer.stop` on pause or cancel
(``reason``: ``"pause"`` or ``"cancel"``; checkpoints are kept), and :meth:`Trainer.poll` on every tick while
the job runs: the poll reports what happened since the engine's cursor ``job["emitted_steps"]`` (per-step
metrics, checkpoints), whether the run is still going and, while it is, when it should end (the job's
``estimated_finish``). A trainer in a worker process reports real wall times; the simulated trainer computes
them from the clock. ``job`` is the engine's record (read it; a trainer writes only keys it owns).

Keys a trainer may read: ``id``, ``model`` (base id), ``method``, ``hyperparameters``, ``seed``, ``epochs``,
``steps_per_epoch``, ``total_steps``, ``validation_file`` (None: no validation data), ``emitted_steps``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from emulator.config import EmulatorConfig
from emulator.files_api import unit

# results.csv's header as the service writes it: ``valid_mean_token_accuracy`` (OpenAI's checkpoint metrics,
# Microsoft's cookbook and the fine-tuning notebooks read that name). Learn's "Analyze your fine-tuned model"
# table (how-to/fine-tuning, checked 2026-12-06) spells it ``validation_mean_token_accuracy``: see docs/emulator.md.
RESULTS_COLUMNS = (
    "step", "train_loss", "train_mean_token_accuracy", "valid_loss",
    "valid_mean_token_accuracy", "full_valid_loss", "full_valid_mean_token_accuracy",
)


@dataclass(frozen=True)
class TrainingData:
    training: bytes
    validation: bytes | None = None


@dataclass(frozen=True)
class StepReport:
    step: int
    at: float  # when the step finished (epoch seconds)
    train_loss: float
    train_mean_token_accuracy: float
    valid_loss: float | None = None
    valid_mean_token_accuracy: float | None = None


@dataclass(frozen=True)
class CheckpointReport:
    step: int
    epoch: int
    at: float
    metrics: dict[str, float]  # Azure's checkpoint metrics (step, train_*, valid_*, full_valid_*)
    artefact: str | None = None  # where the trainer keeps the weights (None: nothing on disk)


@dataclass
class Progress:
    """What a poll found since the engine's cursor: new steps and checkpoints, and the run's state."""

    steps: list[StepReport] = field(default_factory=list)
    checkpoints: list[CheckpointReport] = field(default_factory=list)
    status: str = "running"  # "running" | "succeeded" | "failed"
    at: float | None = None  # when it succeeded or failed
    error: str | None = None  # why it failed
    estimated_finish: float | None = None  # while running: when the run should end (None: not known yet)


class Trainer(Protocol):
    name: str

    def plan(self, job: dict[str, Any]) -> None: ...

    def start(self, job: dict[str, Any], data: TrainingData, workdir: Path, at: float) -> None: ...

    def resume(self, job: dict[str, Any], data: TrainingData, workdir: Path, at: float) -> None: ...

    def poll(self, job: dict[str, Any], now: float) -> Progress: ...

    def stop(self, job: dict[str, Any], at: float, reason: str) -> None: ...

    def artefact(self, job: dict[str, Any], step: int) -> str | None: ...

    def results(self, job: dict[str, Any]) -> list[dict[str, float | None]]: ...


class SimulatedTrainer:
    """No training: a deterministic loss curve, ``training_seconds`` long, derived from the clock.

    Progress is banked training time (``done_seconds``) plus the time since the running slot began
    (``run_started_at``), so a killed and restarted emulator continues where the clock says the job is. A job
    whose suffix contains ``fail_jobs_with_suffix`` (``will_fail``) fails half-way."""

    name = "simulated"

    def __init__(self, config: EmulatorConfig):
        self.config = config

    def plan(self, job: dict[str, Any]) -> None:
        pass  # Azure's plan (emulator/job_create.py) is the simulated run's

    def start(self, job: dict[str, Any], data: TrainingData, workdir: Path, at: float) -> None:
        pass  # the clock is the training

    def resume(self, job: dict[str, Any], data: TrainingData, workdir: Path, at: float) -> None:
        pass

    def stop(self, job: dict[str, Any], at: float, reason: str) -> None:
        job["done_seconds"] += at - job["run_started_at"]  # banked: a resume continues from here

    def artefact(self, job: dict[str, Any], step: int) -> str | None:
        return None

    def poll(self, job: dict[str, Any], now: float) -> Progress:
        duration, done, started = job["train_duration"], job["done_seconds"], job["run_started_at"]
        total = job["total_steps"]
        step_len = duration / total if total else duration
        fail_at = duration * 0.5 if job.get("will_fail") else None
        trained = done + (now - started)
        progress = min(trained, duration if fail_at is None else fail_at)
        out = Progress()
        for k in range(job["emitted_steps"] + 1, total + 1):
            if k * step_len > progress + 1e-9:
                break
            t = started + (k * step_len - done)
            out.steps.append(self._step(job, k, t))
            if k % job["steps_per_epoch"] == 0:
                out.checkpoints.append(self._checkpoint(job, k, t))
        if fail_at is not None and trained >= fail_at:
            out.status, out.at = "failed", started + (fail_at - done)
            out.error = ("The training run failed (emulator: the suffix contains "
                         f"{self.config.fail_jobs_with_suffix!r}, which makes jobs fail on purpose).")
        elif trained >= duration:
            out.status, out.at = "succeeded", started + (duration - done)
        else:
            out.estimated_finish = started + (duration - done)  # the schedule is the training
        return out

    def _step(self, job: dict[str, Any], k: int, t: float) -> StepReport:
        m = metrics(job, k)
        valid = bool(job.get("validation_file"))
        return StepReport(k, t, m["train_loss"], m["train_mean_token_accuracy"],
                          m["valid_loss"] if valid else None, m["valid_mean_token_accuracy"] if valid else None)

    def _checkpoint(self, job: dict[str, Any], step: int, t: float) -> CheckpointReport:
        epoch = step // job["steps_per_epoch"]
        m = metrics(job, step)
        full = full_valid(job, epoch)
        out = {"step": float(step), "train_loss": m["train_loss"],
               "train_mean_token_accuracy": m["train_mean_token_accuracy"]}
        if job.get("validation_file"):
            out.update({"valid_loss": m["valid_loss"], "valid_mean_token_accuracy": m["valid_mean_token_accuracy"],
                        "full_valid_loss": full[0], "full_valid_mean_token_accuracy": full[1]})
        return CheckpointReport(step, epoch, t, out)

    def results(self, job: dict[str, Any]) -> list[dict[str, float | None]]:
        rows: list[dict[str, float | None]] = []
        has_valid = bool(job.get("validation_file"))
        for step in range(1, job["total_steps"] + 1):
            m = metrics(job, step)
            row: dict[str, float | None] = dict.fromkeys(RESULTS_COLUMNS)
            row.update(step=step, train_loss=m["train_loss"], train_mean_token_accuracy=m["train_mean_token_accuracy"])
            if has_valid:
                row.update(valid_loss=m["valid_loss"], valid_mean_token_accuracy=m["valid_mean_token_accuracy"])
                if step % job["steps_per_epoch"] == 0:
                    fl, fa = full_valid(job, step // job["steps_per_epoch"])
                    row.update(full_valid_loss=fl, full_valid_mean_token_accuracy=fa)
            rows.append(row)
        return rows


def metrics(job: dict[str, Any], step: int) -> dict[str, float]:
    """Deterministic, decreasing training loss; rising token accuracy."""
    total = max(1, job["total_steps"])
    x = step / total
    jitter = (unit(job["id"], step) - 0.5) * 0.08
    train_loss = round(0.15 + 1.6 * math.exp(-3.0 * x) + jitter * math.exp(-x), 4)
    acc = round(min(0.99, 0.55 + 0.4 * (1 - math.exp(-3.0 * x)) + jitter / 4), 4)
    vjit = (unit(job["id"], "v", step) - 0.5) * 0.1
    valid_loss = round(0.3 + 1.5 * math.exp(-2.5 * x) + vjit, 4)
    vacc = round(min(0.98, 0.5 + 0.38 * (1 - math.exp(-2.5 * x)) + vjit / 4), 4)
    return {"train_loss": train_loss, "train_mean_token_accuracy": acc,
            "valid_loss": valid_loss, "valid_mean_token_accuracy": vacc}


def full_valid(job: dict[str, Any], epoch: int) -> tuple[float, float]:
    x = epoch / max(1, job["epochs"])
    return round(0.35 + 1.2 * math.exp(-2.2 * x), 4), round(0.52 + 0.36 * (1 - math.exp(-2.2 * x)), 4)


def results_csv(rows: list[dict[str, float | None]]) -> bytes:
    """``results.csv``: Azure's columns, five decimals, empty cells for what a step did not measure."""
    lines = [",".join(RESULTS_COLUMNS)]
    for row in rows:
        cells = [str(int(row["step"] or 0))]
        cells += ["" if row.get(c) is None else f"{row[c]:.5f}" for c in RESULTS_COLUMNS[1:]]
        lines.append(",".join(cells))
    return ("\n".join(lines) + "\n").encode()
