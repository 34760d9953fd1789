"""Files and fine-tuning jobs: the simulated lifecycle, derived from persisted timestamps.

Nothing runs in the background. Every request first calls :meth:`Engine.tick`, which
advances files and jobs to "now" using only persisted timestamps and the durations
stored on each record, and persists every transition with the time it *would* have
happened. A killed and restarted emulator therefore continues the same jobs exactly
where the clock says they are.

Lifecycle of a job (Azure's vocabulary)::

    pending --(queue_seconds elapsed and a running slot free)--> running
    running --(training_seconds of training done)--> succeeded   (result file written)
    running --(suffix contains fail_jobs_with_suffix, half-way)--> failed
    running --pause--> paused --resume--> pending/running
    pending|running|paused --cancel--> cancelled

Up to ``contract.MAX_RUNNING_TRAINING_JOBS`` jobs per emulator (= per Azure resource) are ``running``: 3 of
the Standard and Global training types together, 5 Developer (Microsoft's quotas page, ``contract.QUOTA_SOURCE``);
the others wait in ``pending`` in creation order. Any number may wait: the page's 20 queued jobs
(``contract.MAX_QUEUED_TRAINING_JOBS``) are not enforced, because Azure's answer beyond them is not documented
(docs/emulator.md, the create-job row of the deliberate differences).
"""

from __future__ import annotations

import hashlib
import math
import time
from typing import Any

from jobs import contract, models
from emulator import errors
from emulator.config import EmulatorConfig
from emulator.counting import FileCheck, check_for_job, check_upload, parse_examples
from emulator.store import Store

RESULTS_COLUMNS = (
    "step", "train_loss", "train_mean_token_accuracy", "valid_loss",
    "validation_mean_token_accuracy", "full_valid_loss", "full_valid_mean_token_accuracy",
)
TERMINAL = ("succeeded", "failed", "cancelled")
# Azure's trainingType values, compared case-insensitively ("developer" tolerated for "developerTier").
TRAINING_TYPES = tuple(v.lower() for v in contract.TRAINING_TYPES.values()) + ("developer",)
MAX_METRIC_EVENTS = 100  # a long run reports metrics every few steps, not every step (results.csv has all)
# Azure keeps the three most recent epochs: the final one is the fine-tuned model itself, the two before it are
# checkpoints named `<model>:ckpt-step-N` (Microsoft Learn, tutorials/fine-tune.md, "List checkpoints").
KEPT_CHECKPOINTS = 3
# What Azure reports for hyperparameters the request left unset, as the tutorial's published job shows
# ("n_epochs": -1, "batch_size": -1, "learning_rate_multiplier": 1; tutorials/fine-tune.md, "Begin fine-tuning").
DEFAULT_HYPERPARAMETERS: dict[str, Any] = {"n_epochs": -1, "batch_size": -1, "learning_rate_multiplier": 1}
# DPO's beta when the request leaves it unset: undocumented; 0.1 is the value of Microsoft's DPO REST example
# (how-to/fine-tuning-direct-preference-optimization.md). See docs/emulator.md.
DEFAULT_DPO_BETA = 0.1
METHODS = ("supervised", "dpo")
PURPOSES = ("fine-tune", "fine-tune-results", "assistants", "assistants_output", "batch", "batch_output",
            "evals", "evals_output")


def _stop_clock(job: dict[str, Any], now: float) -> None:
    """A running job stops: bank its training time and free its running slot."""
    job["done_seconds"] += now - job["run_started_at"]
    _release(job, now)


def _release(job: dict[str, Any], t: float) -> None:
    """The job leaves its running slot at ``t`` (the slot's interval is kept: it tells when others may start)."""
    job["last_slot"] = [job["run_started_at"], t]
    job["run_started_at"] = None
    job["slot_released_at"] = t


def slot_group(job: dict[str, Any]) -> str:
    """Which running-job quota a job counts against: Developer, or Standard and Global together."""
    kind = str(job.get(contract.TRAINING_TYPE_FIELD) or "").lower()
    return contract.TRAINING_DEVELOPER if kind.startswith("developer") else contract.TRAINING_STANDARD


def _occupied(job: dict[str, Any], t: float) -> bool:
    """Whether ``job`` holds a running slot at time ``t``."""
    if job["status"] == "running" and job.get("run_started_at") is not None:
        return float(job["run_started_at"]) <= t
    slot = job.get("last_slot")
    return slot is not None and float(slot[0]) <= t < float(slot[1])


def _hex(*parts: Any) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:32]


def _unit(*parts: Any) -> float:
    """A deterministic number in [0, 1) from the parts."""
    return int(hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()[:8], 16) / 2**32


class Engine:
    def __init__(self, store: Store, config: EmulatorConfig):
        self.store = store
        self.config = config
        self._counter = 0
        self._examples: dict[str, list[list[dict[str, Any]]]] = {}  # job id -> training conversations
        self._checked: dict[tuple[str, str, str, bool], FileCheck] = {}  # (file, model, method, training) -> check

    # ================================================================== ids
    def _new_id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}-{_hex(prefix, time.time_ns(), self._counter, id(self))}"

    # ================================================================== tick
    def tick(self, now: float | None = None) -> None:
        now = time.time() if now is None else now
        with self.store.lock:
            for rec in self.store.files():
                if rec["status"] == "pending" and now >= rec["ready_at"]:
                    rec = dict(rec)
                    rec["status"] = "error" if rec.get("error") else "processed"
                    if rec.get("error"):
                        rec["status_details"] = rec["error"]
                    self.store.put_file(rec)
            self._advance_jobs(now)

    def _earliest_start(self, job: dict[str, Any], others: list[dict[str, Any]]) -> float | None:
        """The first time at or after ``job`` is ready when its group has a free running slot (None: not yet)."""
        group = slot_group(job)
        limit = contract.MAX_RUNNING_TRAINING_JOBS[group]
        mates = [j for j in others if j["id"] != job["id"] and slot_group(j) == group]
        ready = float(job["ready_at"])
        for t in sorted({ready} | {float(j["last_slot"][1]) for j in mates if j.get("last_slot")
                                   and float(j["last_slot"][1]) > ready}):
            if sum(_occupied(j, t) for j in mates) < limit:
                return t
        return None

    def _advance_jobs(self, now: float) -> None:
        for _ in range(1000):  # bounded: each pass makes transitions or stops
            progressed = False
            for running in [j for j in self.store.jobs() if j["status"] == "running"]:
                job = dict(running)
                if self._advance_running(job, now):
                    self.store.put_job(job)
                    progressed = progressed or job["status"] != "running"
            jobs = list(self.store.jobs())
            waiting = sorted((j for j in jobs if j["status"] == "pending"), key=lambda j: (j["ready_at"], j["created_at"]))
            blocked: set[str] = set()
            for pending in waiting:
                group = slot_group(pending)
                if group in blocked:  # first come, first served within a quota
                    continue
                start = self._earliest_start(pending, jobs)
                if start is None or start > now:
                    blocked.add(group)
                    continue
                job = dict(pending)
                job["status"] = "running"
                job["run_started_at"] = start
                if job.get("started_at") is None:
                    job["started_at"] = start
                    self._event(job, start, "Job started.")
                else:
                    self._event(job, start, "Job resumed training.")
                self.store.put_job(job)
                progressed = True
                jobs = list(self.store.jobs())
            if not progressed:
                return

    def _advance_running(self, job: dict[str, Any], now: float) -> bool:
        duration = job["train_duration"]
        done = job["done_seconds"]
        started = job["run_started_at"]
        total = job["total_steps"]
        step_len = duration / total if total else duration
        fail_at = duration * 0.5 if job.get("will_fail") else None
        end = duration if fail_at is None else fail_at
        progress = min(done + (now - started), end)
        changed = False
        # metrics events and checkpoints for every step completed by now
        while job["emitted_steps"] < total:
            k = job["emitted_steps"] + 1
            at_seconds = k * step_len
            if at_seconds > progress + 1e-9:
                break
            t = started + (at_seconds - done)
            m = self.metrics(job, k)
            job["emitted_steps"] = k
            data = {"step": k, "train_loss": m["train_loss"], "train_mean_token_accuracy": m["train_mean_token_accuracy"],
                    "total_steps": total}
            if job.get("validation_file"):
                data["valid_loss"] = m["valid_loss"]
                data["valid_mean_token_accuracy"] = m["valid_mean_token_accuracy"]
            every = max(1, math.ceil(total / MAX_METRIC_EVENTS))
            if k % every == 0 or k == total:
                self._event(job, t, f"Step {k}: training loss={m['train_loss']}", kind="metrics", data=data)
            if k % job["steps_per_epoch"] == 0:
                epoch = k // job["steps_per_epoch"]
                self._checkpoint(job, t, k, epoch)
            changed = True
        if fail_at is not None and done + (now - started) >= fail_at:
            t = started + (fail_at - done)
            self._finish(job, t, "failed")
            return True
        if done + (now - started) >= duration:
            t = started + (duration - done)
            self._finish(job, t, "succeeded")
            return True
        return changed

    def _finish(self, job: dict[str, Any], t: float, status: str) -> None:
        job["status"] = status
        job["done_seconds"] = job["train_duration"] if status == "succeeded" else job["done_seconds"]
        _release(job, t)
        job["finished_at"] = t
        if status == "succeeded":
            job["fine_tuned_model"] = job["planned_model"]
            job["trained_tokens"] = job["planned_tokens"]
            job["result_files"] = [self._write_results(job, t)]
            # Azure's own texts and order (tutorials/fine-tune.md, "List fine-tuning events"); its last one,
            # "Training hours billed", belongs to hourly-billed models and is not sent for per-token training.
            self._event(job, t, "Job succeeded.")
            self._event(job, t, "Postprocessing started.")
            self._event(job, t, f"Completed results file: {job['result_files'][0]}")
        else:
            job["error"] = {"code": "internalFailure",
                            "message": "The training run failed (emulator: the suffix contains "
                                       f"{self.config.fail_jobs_with_suffix!r}, which makes jobs fail on purpose).",
                            "param": None}
            self._event(job, t, "Job failed.", level="error")

    def _event(self, job: dict[str, Any], t: float, message: str, *, level: str = "info", kind: str = "message",
               data: dict[str, Any] | None = None) -> None:
        seq = len(job["events"])
        ev: dict[str, Any] = {"id": f"ftevent-{_hex(job['id'], 'ev', seq)}", "created_at": t, "level": level,
                              "message": message, "type": kind, "seq": seq}
        if data is not None:
            ev["data"] = data
        job["events"].append(ev)

    def _checkpoint(self, job: dict[str, Any], t: float, step: int, epoch: int) -> None:
        m = self.metrics(job, step)
        full = self.full_valid(job, epoch)
        metrics = {"step": float(step), "train_loss": m["train_loss"],
                   "train_mean_token_accuracy": m["train_mean_token_accuracy"]}
        if job.get("validation_file"):
            metrics.update({"valid_loss": m["valid_loss"], "valid_mean_token_accuracy": m["valid_mean_token_accuracy"],
                            "full_valid_loss": full[0], "full_valid_mean_token_accuracy": full[1]})
        final = epoch == job["epochs"]
        job["checkpoints"].append({
            "id": f"ftchkpt-{_hex(job['id'], 'ckpt', step)}", "created_at": t,
            "fine_tuned_model_checkpoint": job["planned_model"] if final else f"{job['planned_model']}:ckpt-step-{step}",
            "step_number": step, "metrics": metrics, "fine_tuning_job_id": job["id"], "epoch": epoch,
        })
        del job["checkpoints"][:-KEPT_CHECKPOINTS]

    # ================================================================== metrics
    def metrics(self, job: dict[str, Any], step: int) -> dict[str, float]:
        """Deterministic, decreasing training loss; rising token accuracy."""
        total = max(1, job["total_steps"])
        x = step / total
        jitter = (_unit(job["id"], step) - 0.5) * 0.08
        train_loss = round(0.15 + 1.6 * math.exp(-3.0 * x) + jitter * math.exp(-x), 4)
        acc = round(min(0.99, 0.55 + 0.4 * (1 - math.exp(-3.0 * x)) + jitter / 4), 4)
        vjit = (_unit(job["id"], "v", step) - 0.5) * 0.1
        valid_loss = round(0.3 + 1.5 * math.exp(-2.5 * x) + vjit, 4)
        vacc = round(min(0.98, 0.5 + 0.38 * (1 - math.exp(-2.5 * x)) + vjit / 4), 4)
        return {"train_loss": train_loss, "train_mean_token_accuracy": acc,
                "valid_loss": valid_loss, "valid_mean_token_accuracy": vacc}

    def full_valid(self, job: dict[str, Any], epoch: int) -> tuple[float, float]:
        x = epoch / max(1, job["epochs"])
        return round(0.35 + 1.2 * math.exp(-2.2 * x), 4), round(0.52 + 0.36 * (1 - math.exp(-2.2 * x)), 4)

    def _write_results(self, job: dict[str, Any], t: float) -> str:
        lines = [",".join(RESULTS_COLUMNS)]
        has_valid = bool(job.get("validation_file"))
        for step in range(1, job["total_steps"] + 1):
            m = self.metrics(job, step)
            row = [str(step), f"{m['train_loss']:.5f}", f"{m['train_mean_token_accuracy']:.5f}"]
            row += [f"{m['valid_loss']:.5f}", f"{m['valid_mean_token_accuracy']:.5f}"] if has_valid else ["", ""]
            if has_valid and step % job["steps_per_epoch"] == 0:
                fl, fa = self.full_valid(job, step // job["steps_per_epoch"])
                row += [f"{fl:.5f}", f"{fa:.5f}"]
            else:
                row += ["", ""]
            lines.append(",".join(row))
        content = ("\n".join(lines) + "\n").encode()
        file_id = f"file-{_hex(job['id'], 'results')}"
        rec = {"id": file_id, "object": "file", "bytes": len(content), "created_at": t, "filename": "results.csv",
               "purpose": "fine-tune-results", "status": "processed", "ready_at": t, "error": None}
        self.store.put_file(rec, content)
        return file_id

    # ================================================================== files API
    def upload(self, filename: str, purpose: str, content: bytes) -> dict[str, Any]:
        now = time.time()
        error = check_upload(content).message if purpose == "fine-tune" else None
        rec: dict[str, Any] = {"id": self._new_id("file"), "object": "file", "bytes": len(content), "created_at": now,
               "filename": filename, "purpose": purpose, "status": "pending",
               "ready_at": now + self.config.file_processing_seconds, "error": error}
        with self.store.lock:
            self.store.put_file(rec, content)
        self.tick(now)
        return self.store.get_file(rec["id"]) or rec

    def get_file(self, file_id: str) -> dict[str, Any]:
        rec = self.store.get_file(file_id)
        if rec is None:
            raise errors.not_found("File", file_id)
        return rec

    def delete_file(self, file_id: str) -> None:
        self.get_file(file_id)
        with self.store.lock:
            self.store.delete_file(file_id)

    # ================================================================== jobs API
    def create_job(self, body: dict[str, Any]) -> dict[str, Any]:
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
        training_type = body.get(contract.TRAINING_TYPE_FIELD)
        if training_type is not None:
            kind = str(training_type).lower()
            if kind not in TRAINING_TYPES:
                raise errors.invalid_payload(
                    f"Unsupported trainingType '{training_type}'. Use standard, globalstandard or developerTier.",
                    contract.TRAINING_TYPE_FIELD)
            if (kind == contract.TRAINING_TYPES[contract.TRAINING_GLOBAL].lower() and not base.global_training) or (
                    kind.startswith("developer") and not base.developer_training):
                raise errors.invalid_payload(f"The base model does not support trainingType '{training_type}'.",
                                             contract.TRAINING_TYPE_FIELD)
        method, hp_in = _method(body)
        if method == "dpo" and not base.dpo:
            raise errors.invalid_payload(errors.BASE_MODEL_NOT_SUPPORTED_FOR_DPO, "model")
        self.tick()
        train = self._usable_file(training_file, "training_file")
        checked = self._check_for_job(train, base.model_id, method, training=True)
        valid_id = body.get("validation_file")
        if valid_id:
            self._check_for_job(self._usable_file(valid_id, "validation_file"), base.model_id, method, training=False)
        hyperparameters = _hyperparameters(hp_in, method)
        n_epochs, batch = hyperparameters["n_epochs"], hyperparameters["batch_size"]
        if n_epochs > 0:
            epochs = n_epochs
        elif self.config.default_epochs:
            epochs = self.config.default_epochs
        else:
            from jobs.dataset import default_epochs

            epochs = default_epochs(checked.examples)
        bs = batch if batch > 0 else 1
        steps_per_epoch = max(1, math.ceil(checked.examples / bs))
        tokens = checked.tokens_per_epoch
        now = time.time()
        job_id = self._new_id("ftjob")
        hexpart = _hex(job_id, "model")
        # Azure names the tuned model after the versioned base id (gpt-4.1 -> gpt-4.1-2025-04-14);
        # a fine-tuned model given as the base keeps its own id.
        stem = model if ".ft-" in model else base.model_id
        planned = f"{stem}.ft-{hexpart}" + (f"-{suffix}" if suffix else "")
        job: dict[str, Any] = {
            "id": job_id, "created_at": now, "status": "pending", "model": model,
            "training_file": training_file, "validation_file": valid_id or None, "suffix": suffix,
            "seed": body.get("seed") if isinstance(body.get("seed"), int) else int(_unit(job_id, "seed") * 2**31),
            "hyperparameters": hyperparameters, "method": {"type": method, method: {"hyperparameters": hyperparameters}},
            contract.TRAINING_TYPE_FIELD: body.get(contract.TRAINING_TYPE_FIELD),
            "integrations": body.get("integrations"),
            "epochs": epochs, "steps_per_epoch": steps_per_epoch, "total_steps": steps_per_epoch * epochs,
            "n_examples": checked.examples, "train_duration": float(self.config.training_seconds),
            "ready_at": now + self.config.queue_seconds, "done_seconds": 0.0, "run_started_at": None,
            "started_at": None, "slot_released_at": None, "emitted_steps": 0,
            "will_fail": bool(suffix and self.config.fail_jobs_with_suffix
                              and self.config.fail_jobs_with_suffix in suffix),
            "planned_model": planned, "planned_tokens": tokens * epochs,
            "fine_tuned_model": None, "trained_tokens": None, "result_files": None, "finished_at": None,
            "error": None, "events": [], "checkpoints": [],
        }
        self.store.put_training_snapshot(job_id, self.store.file_content(train["id"]))
        # Azure's fixed texts only (the spec's example events); the validator's warnings are not events.
        self._event(job, now, "Job enqueued. Waiting for jobs ahead to complete.")
        with self.store.lock:
            self.store.put_job(job)
        self.tick()
        return self.get_job(job_id)

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

    def _usable_file(self, file_id: str, param: str) -> dict[str, Any]:
        rec = self.store.get_file(file_id)
        if rec is None:
            raise errors.invalid_payload(f"The specified {param.replace('_', ' ')} '{file_id}' does not exist.", param)
        if rec["status"] != "processed" or rec.get("purpose") != "fine-tune":
            raise errors.invalid_payload(errors.FILE_NOT_COMPLETED, param)
        return rec

    def get_job(self, job_id: str) -> dict[str, Any]:
        self.tick()
        rec = self.store.get_job(job_id)
        if rec is None:
            raise errors.not_found("Fine-tuning job", job_id)
        return rec

    def cancel(self, job_id: str) -> dict[str, Any]:
        with self.store.lock:
            job = dict(self.get_job(job_id))
            if job["status"] in TERMINAL:
                raise errors.ApiError(400, "unexpectedEntityState",
                                      f"The job '{job_id}' is already {job['status']} and cannot be cancelled.")
            now = time.time()
            if job["status"] == "running":
                _stop_clock(job, now)
            job["run_started_at"] = None
            job["status"] = "cancelled"
            self._event(job, now, "Job cancelled.")
            self.store.put_job(job)
        self.tick()
        return self.get_job(job_id)

    def pause(self, job_id: str) -> dict[str, Any]:
        with self.store.lock:
            job = dict(self.get_job(job_id))
            if job["status"] != "running":
                raise errors.ApiError(400, "unexpectedEntityState",
                                      f"Only a running job can be paused; '{job_id}' is {job['status']}.")
            now = time.time()
            _stop_clock(job, now)
            job["status"] = "paused"
            self._event(job, now, "Job paused.")
            self.store.put_job(job)
        self.tick()
        return self.get_job(job_id)

    def resume(self, job_id: str) -> dict[str, Any]:
        with self.store.lock:
            job = dict(self.get_job(job_id))
            if job["status"] != "paused":
                raise errors.ApiError(400, "unexpectedEntityState",
                                      f"Only a paused job can be resumed; '{job_id}' is {job['status']}.")
            now = time.time()
            job["status"] = "pending"
            job["ready_at"] = now
            self._event(job, now, "Job resume requested.")
            self.store.put_job(job)
        self.tick()
        return self.get_job(job_id)

    def delete_job(self, job_id: str) -> None:
        with self.store.lock:
            job = self.get_job(job_id)
            if job["status"] not in TERMINAL:
                raise errors.ApiError(400, "unexpectedEntityState",
                                      f"The job '{job_id}' is {job['status']}; cancel it before deleting it.")
            self.store.delete_job(job_id)

    # ================================================================== models API
    def models(self) -> list[dict[str, Any]]:
        out = []
        for m in models.FINE_TUNABLE:
            out.append({"id": m.model_id, "object": "model", "created_at": 1735689600, "status": "succeeded",
                        "capabilities": {"fine_tune": True, "inference": True, "completion": False,
                                         "chat_completion": True, "embeddings": False},
                        "lifecycle_status": "generally-available",
                        "deprecation": {"fine_tune": 1798761600, "inference": 1830297600}})
        for job in sorted(self.store.jobs(), key=lambda j: j["created_at"]):
            if job["status"] == "succeeded" and not job.get("model_deleted"):
                out.append({"id": job["fine_tuned_model"], "object": "model", "created_at": int(job["finished_at"]),
                            "status": "succeeded", "model": job["model"], "fine_tune": job["id"],
                            "capabilities": {"fine_tune": False, "inference": True, "completion": False,
                                             "chat_completion": True, "embeddings": False},
                            "lifecycle_status": "generally-available",
                            "deprecation": {"inference": int(job["finished_at"]) + 365 * 86400}})
        return out

    def get_model(self, model_id: str) -> dict[str, Any]:
        for m in self.models():
            if m["id"] == model_id:
                return m
        raise errors.not_found("Model", model_id)

    def delete_model(self, model_id: str) -> None:
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

    def training_examples_for_model(self, model: str) -> list[list[dict[str, Any]]] | None:
        """The training conversations of the job that produced ``model`` on this emulator."""
        for job in self.store.jobs():
            if job.get("fine_tuned_model") == model or job.get("planned_model") == model:
                jid = job["id"]
                if jid not in self._examples:
                    try:
                        data = self.store.training_snapshot(jid)
                    except OSError:  # no snapshot (state from an older emulator): answer in the generic style
                        return None
                    self._examples[jid] = parse_examples(data)
                return self._examples[jid]
        return None


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


# ====================================================================== rendering
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
    if rec["status"] == "running" and rec.get("run_started_at") is not None:
        optional["estimated_finish"] = int(rec["run_started_at"] + rec["train_duration"] - rec["done_seconds"]) + 1
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
    return {k: (int(v) if k == "created_at" else v) for k, v in ck.items() if k != "epoch"} | {
        "object": "fine_tuning.job.checkpoint"}
