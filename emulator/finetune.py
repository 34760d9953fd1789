"""Fine-tuning jobs: the engine that runs their lifecycle over the scheduler, the trainer and the store.

Nothing runs in the background. Every request first calls :meth:`Engine.tick`, which processes uploads, polls
the trainer of every running job (``emulator/trainer.py``) and gives free running slots to pending jobs
(``emulator/scheduler.py``), persisting every transition with the time it happened (for the simulated trainer:
the time it *would* have happened). A killed and restarted emulator therefore continues the same jobs; a job
that was running is handed back to its trainer (:meth:`Trainer.resume`) when the engine starts.

Lifecycle of a job (Azure's vocabulary)::

    pending --(queue_seconds elapsed and a running slot free)--> running
    running --(the trainer reports success)--> succeeded   (result file written)
    running --(the trainer reports failure)--> failed
    running --pause--> paused --resume--> pending/running
    pending|running|paused --cancel--> cancelled

Time comes from an injectable :class:`emulator.clock.Clock` (``POST /++/clock`` moves it forward).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from emulator import errors, job_create, scheduler
from emulator.catalogue import Catalogue
from emulator.clock import Clock
from emulator.config import EmulatorConfig
from emulator.counting import FileCheck, check_for_job
from emulator.files_api import Files, hex_id
from emulator.store import Store
from emulator.trainer import CheckpointReport, Progress, Trainer, TrainingData, results_csv

TERMINAL = ("succeeded", "failed", "cancelled")
MAX_METRIC_EVENTS = 100  # a long run reports metrics every few steps, not every step (results.csv has all)
# Azure keeps the three most recent epochs: the final one is the fine-tuned model itself, the two before it are
# checkpoints named `<model>:ckpt-step-N` (Microsoft Learn, tutorials/fine-tune.md, "List checkpoints").
KEPT_CHECKPOINTS = 3


class Engine:
    def __init__(self, store: Store, config: EmulatorConfig, trainer: Trainer, clock: Clock | None = None):
        self.store = store
        self.config = config
        self.trainer = trainer
        self.clock = clock or Clock()
        self._counter = 0
        self._checked: dict[tuple[str, str, str, bool], FileCheck] = {}  # (file, model, method, training) -> check
        self.files = Files(store, config, self.clock.now, self._new_id)
        self.catalogue = Catalogue(store, trainer.artefact)
        self._recover()

    def _new_id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}-{hex_id(prefix, self.clock.now(), self._counter, id(self))}"

    # ================================================================== the trainer's side
    def _workdir(self, job_id: str) -> Path:
        return self.store.root / "training" / job_id

    def _data(self, job: dict[str, Any]) -> TrainingData:
        valid = job.get("validation_file")
        validation = self.store.file_content(valid) if valid and self.store.get_file(valid) else None
        try:
            training = self.store.training_snapshot(job["id"])
        except OSError:  # state from an older emulator kept no snapshot
            training = b""
        return TrainingData(training, validation)

    def _recover(self) -> None:
        """Jobs that were running when the emulator stopped go back to their trainer."""
        now = self.clock.now()
        for job in self.store.jobs():
            if job["status"] == "running":
                self.trainer.resume(job, self._data(job), self._workdir(job["id"]), now)

    # ================================================================== tick
    def tick(self, now: float | None = None) -> None:
        now = self.clock.now() if now is None else now
        with self.store.lock:
            self.files.process(now)
            self._advance_jobs(now)

    def _advance_jobs(self, now: float) -> None:
        for _ in range(1000):  # bounded: each pass makes transitions or stops
            progressed = False
            for running in [j for j in self.store.jobs() if j["status"] == "running"]:
                job = dict(running)
                if self._apply(job, self.trainer.poll(job, now)):
                    self.store.put_job(job)
                    progressed = progressed or job["status"] != "running"
            while (pick := scheduler.next_start(self.store.jobs(), now)) is not None:
                self._begin(dict(pick[0]), pick[1])
                progressed = True
            if not progressed:
                return

    def _begin(self, job: dict[str, Any], start: float) -> None:
        """A pending job gets its running slot at ``start``: its trainer starts (or resumes) it."""
        job["status"] = "running"
        job["run_started_at"] = start
        first = job.get("started_at") is None
        if first:
            job["started_at"] = start
            self._event(job, start, "Job started.")
            self.trainer.start(job, self._data(job), self._workdir(job["id"]), start)
        else:
            self._event(job, start, "Job resumed training.")
            self.trainer.resume(job, self._data(job), self._workdir(job["id"]), start)
        self.store.put_job(job)

    def _apply(self, job: dict[str, Any], progress: Progress) -> bool:
        """Record a poll's steps, checkpoints and end on the job; whether anything changed."""
        total = job["total_steps"]
        every = max(1, math.ceil(total / MAX_METRIC_EVENTS))
        checkpoints = {c.step: c for c in progress.checkpoints}
        for s in progress.steps:
            data: dict[str, Any] = {"step": s.step, "train_loss": s.train_loss,
                                    "train_mean_token_accuracy": s.train_mean_token_accuracy, "total_steps": total}
            if s.valid_loss is not None:
                data["valid_loss"] = s.valid_loss
                data["valid_mean_token_accuracy"] = s.valid_mean_token_accuracy
            job["emitted_steps"] = max(job["emitted_steps"], s.step)
            if s.step % every == 0 or s.step == total:
                self._event(job, s.at, f"Step {s.step}: training loss={s.train_loss}", kind="metrics", data=data)
            if s.step in checkpoints:
                self._checkpoint(job, checkpoints.pop(s.step))
        for c in checkpoints.values():  # a checkpoint of a step reported earlier
            self._checkpoint(job, c)
        if progress.status in ("succeeded", "failed"):
            job["estimated_finish"] = None
            self._finish(job, progress.at if progress.at is not None else self.clock.now(), progress)
            return True
        estimate_changed = progress.estimated_finish != job.get("estimated_finish")
        job["estimated_finish"] = progress.estimated_finish  # the trainer's: a schedule, or a measured pace
        return bool(progress.steps or progress.checkpoints or estimate_changed)

    def _finish(self, job: dict[str, Any], t: float, progress: Progress) -> None:
        job["status"] = progress.status
        if progress.status == "succeeded":
            job["done_seconds"] = job["train_duration"]
        scheduler.release(job, t)
        job["finished_at"] = t
        if progress.status == "succeeded":
            job["fine_tuned_model"] = job["planned_model"]
            job["trained_tokens"] = job["planned_tokens"]
            job["result_files"] = [self.files.put_results(job["id"], results_csv(self.trainer.results(job)), t)]
            # Azure's own texts and order (tutorials/fine-tune.md, "List fine-tuning events"); its last one,
            # "Training hours billed", belongs to hourly-billed models and is not sent for per-token training.
            self._event(job, t, "Job succeeded.")
            self._event(job, t, "Postprocessing started.")
            self._event(job, t, f"Completed results file: {job['result_files'][0]}")
        else:
            job["error"] = {"code": "internalFailure", "message": progress.error or "The training run failed.",
                            "param": None}
            self._event(job, t, "Job failed.", level="error")

    def _event(self, job: dict[str, Any], t: float, message: str, *, level: str = "info", kind: str = "message",
               data: dict[str, Any] | None = None) -> None:
        seq = len(job["events"])
        ev: dict[str, Any] = {"id": f"ftevent-{hex_id(job['id'], 'ev', seq)}", "created_at": t, "level": level,
                              "message": message, "type": kind, "seq": seq}
        if data is not None:
            ev["data"] = data
        job["events"].append(ev)

    def _checkpoint(self, job: dict[str, Any], c: CheckpointReport) -> None:
        final = c.epoch == job["epochs"]
        job["checkpoints"].append({
            "id": f"ftchkpt-{hex_id(job['id'], 'ckpt', c.step)}", "created_at": c.at,
            "fine_tuned_model_checkpoint": job["planned_model"] if final else f"{job['planned_model']}:ckpt-step-{c.step}",
            "step_number": c.step, "metrics": c.metrics, "fine_tuning_job_id": job["id"], "epoch": c.epoch,
            "artefact": c.artefact,
        })
        del job["checkpoints"][:-KEPT_CHECKPOINTS]

    # ================================================================== files API
    def upload(self, filename: str, purpose: str, content: bytes) -> dict[str, Any]:
        rec = self.files.upload(filename, purpose, content)
        self.tick(rec["created_at"])
        return self.store.get_file(rec["id"]) or rec

    # ================================================================== jobs API
    def create_job(self, body: dict[str, Any]) -> dict[str, Any]:
        """Parse the request, check its files against the job, plan the run, persist it."""
        req = job_create.parse(body)
        self.tick()
        train = self.files.usable(req.training_file, "training_file")
        checked = self._check_for_job(train, req.base.model_id, req.method, training=True)
        if req.validation_file:
            self._check_for_job(self.files.usable(req.validation_file, "validation_file"), req.base.model_id,
                                req.method, training=False)
        now = self.clock.now()
        job = job_create.plan(req, checked, self.config, self._new_id("ftjob"), now)
        self.trainer.plan(job)  # a real trainer's own epochs and steps (the local model's defaults)
        self.store.put_training_snapshot(job["id"], self.store.file_content(train["id"]))
        # Azure's fixed texts only (the spec's example events); the validator's warnings are not events.
        self._event(job, now, "Job enqueued. Waiting for jobs ahead to complete.")
        with self.store.lock:
            self.store.put_job(job)
        self.tick()
        return self.get_job(job["id"])

    def _check_for_job(self, rec: dict[str, Any], model: str, method: str, *, training: bool) -> FileCheck:
        """The file's content against the job's method and model, at job creation (cached per file and job kind)."""
        key = (rec["id"], model, method, training)
        check = self._checked.get(key)
        if check is None:
            check = self._checked[key] = check_for_job(self.store.file_content(rec["id"]), model=model,
                                                       method=method, training=training)
        if not check.valid:
            what = "training_file" if training else "validation_file"
            raise errors.invalid_payload(f"The {what.replace('_', ' ')} '{rec['id']}' is not valid for a "
                                         f"'{method}' fine-tuning job on {model}: {check.message}", what)
        return check

    def get_job(self, job_id: str) -> dict[str, Any]:
        self.tick()
        rec = self.store.get_job(job_id)
        if rec is None:
            raise errors.not_found("Fine-tuning job", job_id)
        return rec

    def _control(self, job_id: str, allowed: tuple[str, ...], refusal: str) -> tuple[dict[str, Any], float]:
        job = dict(self.get_job(job_id))
        if job["status"] not in allowed:
            raise errors.ApiError(400, "unexpectedEntityState", refusal.format(id=job_id, status=job["status"]))
        return job, self.clock.now()

    def _stop_running(self, job: dict[str, Any], now: float, reason: str) -> None:
        """A running job stops: its trainer banks its progress, its running slot is freed."""
        if job["status"] == "running":
            self.trainer.stop(job, now, reason)
            scheduler.release(job, now)

    def cancel(self, job_id: str) -> dict[str, Any]:
        with self.store.lock:
            job, now = self._control(job_id, ("pending", "running", "paused"),
                                     "The job '{id}' is already {status} and cannot be cancelled.")
            self._stop_running(job, now, "cancel")
            job["run_started_at"] = None
            job["status"] = "cancelled"
            self._event(job, now, "Job cancelled.")
            self.store.put_job(job)
        return self.get_job(job_id)

    def pause(self, job_id: str) -> dict[str, Any]:
        # "The pause operation is applicable only for jobs that are trained for at least one step and are in a
        # Running state" (MicrosoftDocs/azure-ai-docs, articles/ai-foundry/openai/includes/fine-tuning-studio.md,
        # "Pause and resume", commit 04e5816e, read 2026-12-06): a queued (pending) job gets 400, a deliberate
        # difference from what the azure-ai-projects sample expects (docs/emulator.md).
        with self.store.lock:
            job, now = self._control(job_id, ("running",), "Only a running job can be paused; '{id}' is {status}.")
            self._stop_running(job, now, "pause")
            job["status"] = "paused"
            self._event(job, now, "Job paused.")
            self.store.put_job(job)
        return self.get_job(job_id)

    def resume(self, job_id: str) -> dict[str, Any]:
        with self.store.lock:
            job, now = self._control(job_id, ("paused",), "Only a paused job can be resumed; '{id}' is {status}.")
            job["status"] = "pending"
            job["ready_at"] = now
            self._event(job, now, "Job resume requested.")
            self.store.put_job(job)
        return self.get_job(job_id)

    def delete_job(self, job_id: str) -> None:
        with self.store.lock:
            job = self.get_job(job_id)
            if job["status"] not in TERMINAL:
                raise errors.ApiError(400, "unexpectedEntityState",
                                      f"The job '{job_id}' is {job['status']}; cancel it before deleting it.")
            self.store.delete_job(job_id)
