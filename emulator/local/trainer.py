"""The local backend's trainer (the seam of ``emulator/trainer.py``): a fine-tuning job trains SmolLM2 with LoRA
in a worker process (:mod:`emulator.local.worker` running :func:`emulator.local.train.run`), and its progress
file (:mod:`emulator.local.progress`) becomes the job's steps, checkpoints and end.

- :meth:`LocalTrainer.plan` (at job creation) sets the job's epochs and steps to what the run will do:
  ``n_epochs`` and ``batch_size`` as requested, the local defaults when "auto" (``trainspec.DEFAULT_EPOCHS``,
  ``DEFAULT_BATCH_SIZE``); ``learning_rate_multiplier`` scales the local base rate; the job's ``seed`` seeds it.
- start/resume launch a worker (a resume continues from the newest saved state: the stop state of a pause, or
  the last epoch checkpoint after a crash or an emulator restart); stop asks it to stop after its current step
  and returns at once (a cancel kills it): the engine calls these on the event loop. A new worker waits for the
  previous one of the same job to end, so two never write one workdir.
- poll reports the steps after the engine's cursor with the times the worker wrote them, the checkpoints not
  yet reported, and done/failed. A worker gone without a last line (killed, out of memory) fails the job.
- artefact(job, step) is the adapter directory of the checkpoint at ``step`` while the run keeps it (Azure's
  retention: the newest ``KEPT_CHECKPOINTS``).

No torch here: the worker imports it.
"""

from __future__ import annotations

import functools
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable

from emulator.local import checkpoints, progress, trainspec, worker
from emulator.trainer import RESULTS_COLUMNS, CheckpointReport, Progress, StepReport, TrainingData

Launch = Callable[[trainspec.TrainSpec, Path], Any]  # worker.start(spec, workdir) -> a Worker
WORKDIR_KEY = "local_workdir"  # the job's key this trainer owns: where its run lives
PID_FILE = "worker.pid"  # in the workdir: the pid of the newest worker started on it
LOG_FILE = "worker.log"  # in the workdir: what the worker printed
STOP_TIMEOUT = 300.0  # seconds a paused worker gets to finish its step before it is killed
VALID = ("valid_loss", "valid_mean_token_accuracy")
FULL_VALID = ("full_valid_loss", "full_valid_mean_token_accuracy")


class LocalTrainer:
    name = "local"

    def __init__(self, cache_dir: Path | None = None, launch: Launch | None = None,
                 threads: int | None = None) -> None:
        self.cache_dir = cache_dir
        self._launch: Launch = launch or functools.partial(worker.start, target=logged_run)
        self.threads = threads
        self._workers: dict[str, Any] = {}  # job id -> its current worker
        self._enders: dict[str, threading.Thread] = {}  # job id -> the thread ending its previous worker
        self._lock = threading.Lock()
        self._launched: set[int] = set()  # the pids of the workers this process started

    # -- the plan -----------------------------------------------------------------------------------------
    def plan(self, job: dict[str, Any]) -> None:
        """The job's epochs and steps as the local run will do them (the engine planned Azure's)."""
        hp = job["hyperparameters"]
        epochs = hp["n_epochs"] if isinstance(hp.get("n_epochs"), int) and hp["n_epochs"] > 0 \
            else trainspec.DEFAULT_EPOCHS
        batch = hp["batch_size"] if isinstance(hp.get("batch_size"), int) and hp["batch_size"] > 0 \
            else trainspec.DEFAULT_BATCH_SIZE
        per_epoch = max(1, -(-int(job["n_examples"]) // batch))
        per_epoch_tokens = job["planned_tokens"] // max(1, job["epochs"])
        job.update(epochs=epochs, steps_per_epoch=per_epoch, total_steps=per_epoch * epochs,
                   planned_tokens=per_epoch_tokens * epochs, local_batch_size=batch)

    def spec(self, job: dict[str, Any], data: TrainingData) -> trainspec.TrainSpec:
        """The run's spec; raises TrainSpecError when the files or settings cannot be trained on."""
        method = job["method"]["type"] if isinstance(job.get("method"), dict) else "supervised"
        hp = {**job["hyperparameters"], "n_epochs": job["epochs"],
              "batch_size": job.get("local_batch_size", job["hyperparameters"].get("batch_size"))}
        return trainspec.from_hyperparameters(
            _records(data.training, "training file"),
            _records(data.validation, "validation file") if data.validation else None, hp,
            method=method, seed=int(job.get("seed") or 0), threads=self.threads,
            cache_dir=str(self.cache_dir) if self.cache_dir else None)

    # -- running ------------------------------------------------------------------------------------------
    def start(self, job: dict[str, Any], data: TrainingData, workdir: Path, at: float) -> None:
        job[WORKDIR_KEY] = str(workdir)
        self._run(job, data, workdir)

    def resume(self, job: dict[str, Any], data: TrainingData, workdir: Path, at: float) -> None:
        job[WORKDIR_KEY] = str(workdir)
        self._run(job, data, workdir)

    def _run(self, job: dict[str, Any], data: TrainingData, workdir: Path) -> None:
        """Launch the job's worker; after the previous one has ended when one is still finishing its step (a
        pause just before), so the launch waits on a thread, not on the caller (the event loop)."""
        try:
            spec = self.spec(job, data)
        except trainspec.TrainSpecError as exc:  # the job fails with the reason (the next poll reads it)
            workdir.mkdir(parents=True, exist_ok=True)
            writer = progress.ProgressWriter(workdir)
            writer.write("failed", step=0, error=str(exc))
            writer.close()
            return
        _end_orphan(workdir, self._launched)
        job_id = job["id"]
        with self._lock:
            ender = self._enders.pop(job_id, None)
            if ender is None or not ender.is_alive():
                self._start(job_id, spec, workdir)
                return

        def later() -> None:
            ender.join()
            with self._lock:
                self._start(job_id, spec, workdir)
        threading.Thread(target=later, name=f"launch:{job_id}", daemon=True).start()

    def _start(self, job_id: str, spec: trainspec.TrainSpec, workdir: Path) -> None:
        started = self._launch(spec, workdir)
        self._workers[job_id] = started
        pid = getattr(started, "pid", None)
        if isinstance(pid, int):
            self._launched.add(pid)
            (workdir / PID_FILE).write_text(str(pid), encoding="ascii")

    def stop(self, job: dict[str, Any], at: float, reason: str) -> None:
        """Pause: the worker stops after its current step (saving what a resume needs); cancel: it is killed.
        Returns at once; a thread waits for the worker to end."""
        with self._lock:
            current = self._workers.pop(job["id"], None)
            if current is None:
                return
            if reason == "pause":
                current.request_stop()
                end: Callable[[], Any] = lambda: current.stop(STOP_TIMEOUT)  # noqa: E731
            else:
                end = current.kill
            thread = threading.Thread(target=end, name=f"stop:{job['id']}", daemon=True)
            self._enders[job["id"]] = thread
            thread.start()

    # -- reading the run ----------------------------------------------------------------------------------
    def poll(self, job: dict[str, Any], now: float) -> Progress:
        run = progress.read(self._workdir(job))
        out = Progress()
        if run.total_steps and run.total_steps != job["total_steps"]:
            job["total_steps"] = run.total_steps  # the run's own count stands
        out.steps = [_step(s) for s in run.steps if s["step"] > job["emitted_steps"]]
        reported = max((c["step_number"] for c in job.get("checkpoints") or ()), default=0)
        by_step = {s["step"]: s for s in run.steps}
        out.checkpoints = [_checkpoint(c, by_step.get(c["step"]), self._workdir(job))
                           for c in run.checkpoints if c["step"] > reported]
        state = self._state(job, run)
        last = run.last or {}
        if state == "done":
            out.status, out.at = "succeeded", float(last.get("time") or now)
        elif state in ("failed", "crashed"):
            out.status, out.at = "failed", float(last.get("time") or now) if state == "failed" else now
            out.error = (f"The local training run failed: {last.get('error')}" if state == "failed" else
                         "The local training worker ended without a result (killed, or out of memory).")
        else:
            out.estimated_finish = estimated_finish(run.steps, job["total_steps"])
        return out

    def _state(self, job: dict[str, Any], run: progress.Progress) -> str:
        with self._lock:
            current = self._workers.get(job["id"])
            waiting = job["id"] in self._enders
        if current is None or waiting and run.state == "stopped":
            return run.state  # no worker of ours (yet): nothing is declared crashed
        return worker.state(current.workdir, current.alive())

    def artefact(self, job: dict[str, Any], step: int) -> str | None:
        adapter = checkpoints.checkpoint_dir(self._workdir(job), step) / checkpoints.ADAPTER
        return str(adapter) if (adapter / "adapter_config.json").is_file() else None

    def results(self, job: dict[str, Any]) -> list[dict[str, float | None]]:
        rows: list[dict[str, float | None]] = []
        for s in progress.read(self._workdir(job)).steps:
            row: dict[str, float | None] = dict.fromkeys(RESULTS_COLUMNS)
            row.update({k: s.get(k) for k in ("step", "train_loss", "train_mean_token_accuracy") + FULL_VALID})
            row.update(valid_loss=s.get("valid_loss"), validation_mean_token_accuracy=s.get("valid_mean_token_accuracy"))
            rows.append(row)
        return rows

    def _workdir(self, job: dict[str, Any]) -> Path:
        return Path(job[WORKDIR_KEY])


def logged_run(spec: trainspec.TrainSpec, workdir: Path) -> dict[str, Any]:
    """The worker's run with its output (library progress bars, warnings) in ``<workdir>/worker.log`` instead of
    the emulator's terminal; the progress file is what reports the run."""
    from emulator.local import train

    with (Path(workdir) / LOG_FILE).open("a", encoding="utf-8") as log:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
            os.dup2(log.fileno(), stream.fileno())
    return train.run(spec, workdir)


def _end_orphan(workdir: Path, ours: set[int]) -> None:
    """A worker an earlier emulator process started (and left running when it was killed) is ended before a new
    one takes the workdir: it is found by the pid it left there, if that process is still a spawned worker that
    started when the pid file was written (not a later process that reuses the pid, and not one of this
    process's own, which end through :meth:`LocalTrainer.stop`)."""
    pid_file = workdir / PID_FILE
    try:
        pid = int(pid_file.read_text(encoding="ascii"))
        written = pid_file.stat().st_mtime
    except (OSError, ValueError):
        return
    if pid in ours or pid == os.getpid() or not _same_worker(pid, written):
        return
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        return
    for _ in range(100):
        if _gone(pid):
            return
        time.sleep(0.05)


def _same_worker(pid: int, written: float) -> bool:
    """Whether ``pid`` is a multiprocessing worker that started at most a minute before ``written`` (Linux)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[19])  # field 22: starttime
        booted = next(float(line.split()[1]) for line in Path("/proc/stat").read_text().splitlines()
                      if line.startswith("btime "))
    except (OSError, ValueError, IndexError, StopIteration):
        return False  # gone, or not Linux: nothing to find
    started = booted + ticks / os.sysconf("SC_CLK_TCK")
    return b"multiprocessing" in cmdline and written - 60 <= started <= written + 2


def _gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[:1] == ["Z"]  # a zombie (ended, not yet reaped by its parent)


def estimated_finish(steps: list[dict[str, Any]], total: int, window: int = 10) -> float | None:
    """When the run should end at the pace of its last ``window`` steps (None before two steps: no pace yet).

    Measured, not planned: a CPU shared with other work trains slower, and the estimate follows. A pause inside
    the window makes it late until the window has passed it."""
    recent = steps[-window:]
    if len(recent) < 2 or recent[-1]["step"] <= recent[0]["step"]:
        return None
    first, last = recent[0], recent[-1]
    per_step = (float(last["time"]) - float(first["time"])) / (int(last["step"]) - int(first["step"]))
    return float(last["time"]) + per_step * max(0, total - int(last["step"]))


def _step(line: dict[str, Any]) -> StepReport:
    return StepReport(int(line["step"]), float(line["time"]), float(line["train_loss"]),
                      float(line["train_mean_token_accuracy"]), line.get("valid_loss"),
                      line.get("valid_mean_token_accuracy"))


def _checkpoint(line: dict[str, Any], step: dict[str, Any] | None, workdir: Path) -> CheckpointReport:
    """Azure's checkpoint metrics: the step's own, with the validation ones when there was a validation file."""
    metrics = {"step": float(line["step"])}
    for key in ("train_loss", "train_mean_token_accuracy") + VALID + FULL_VALID:
        if step is not None and step.get(key) is not None:
            metrics[key] = float(step[key])
    return CheckpointReport(int(line["step"]), int(line["epoch"]), float(line["time"]), metrics,
                            str(workdir / line["adapter"]))


def _records(data: bytes | None, name: str) -> list[dict[str, Any]]:
    """A JSONL file's records (the engine checked the file at upload and at job creation)."""
    out = []
    for number, raw in enumerate((data or b"").decode("utf-8-sig").splitlines(), 1):
        if raw.strip():
            try:
                record = json.loads(raw)
            except ValueError:
                record = None
            if not isinstance(record, dict):
                raise trainspec.TrainSpecError(f"the {name}'s line {number} is not a JSON object")
            out.append(record)
    return out
