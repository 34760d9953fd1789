"""The progress file of a local training run: ``<workdir>/progress.jsonl``, append-only, one JSON object per
line, flushed per line, so that a poller in another process reads it while the worker writes. No torch here.

Line shapes (every line has ``"type"`` and ``"time"``, seconds since the epoch):
- ``{"type": "launched"}``: written by :func:`emulator.local.worker.start` before the process starts.
- ``{"type": "started", "step": k, "total_steps": n, "steps_per_epoch": s, "n_epochs": e, "threads": t,
  "method": m, "resumed_from": null | "checkpoints/step-000016" | "resume"}``: a worker began; ``step`` is the
  number of steps already done (0 on a fresh run). Step and checkpoint lines after ``k`` that an earlier worker
  wrote are superseded: that work is redone (see :func:`read`).
- ``{"type": "step", "step": i, "epoch": j, "train_loss": x, "train_mean_token_accuracy": a, "valid_loss": x|null,
  "valid_mean_token_accuracy": a|null, "full_valid_loss": x|null, "full_valid_mean_token_accuracy": a|null,
  "learning_rate": r, "tokens": n}``: step ``i`` (1-based) of epoch ``j`` (1-based). The ``full_valid_*`` values
  are set on the last step of an epoch when there is a validation set (Azure's results.csv columns).
- ``{"type": "checkpoint", "step": i, "epoch": j, "path": "checkpoints/step-000016", "adapter":
  "checkpoints/step-000016/adapter", "removed": ["checkpoints/step-000004"]}``: paths relative to the workdir.
- ``{"type": "stopped", "step": i}``: a stop request was honoured after step ``i``; the state to resume from
  is in ``resume/``.
- ``{"type": "done", "step": n, "adapter": "checkpoints/step-000048/adapter"}``: the fine-tuned model.
- ``{"type": "failed", "step": i, "error": "..."}``: the worker ended on an error (the message is for a person).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

PROGRESS_FILE = "progress.jsonl"
STOP_FILE = "stop"
TERMINAL = ("stopped", "done", "failed")


class ProgressWriter:
    """Appends lines to a workdir's progress file, each flushed before the next step runs."""

    def __init__(self, workdir: Path) -> None:
        self.path = workdir / PROGRESS_FILE
        self._file: TextIO = self.path.open("a", encoding="utf-8")

    def write(self, kind: str, **fields: Any) -> dict[str, Any]:
        line = {"type": kind, "time": round(time.time(), 3), **fields}
        self._file.write(json.dumps(line, separators=(",", ":")) + "\n")
        self._file.flush()
        return line

    def close(self) -> None:
        self._file.close()


@dataclass
class Progress:
    """A progress file folded into what holds now: superseded lines dropped, last line's state kept."""

    steps: list[dict[str, Any]] = field(default_factory=list)  # one per step, in step order
    checkpoints: list[dict[str, Any]] = field(default_factory=list)  # the retained ones, oldest first
    # new | starting (launched, no started line yet) | running (no last line after the last start) | stopped | done |
    # failed
    state: str = "new"
    last: dict[str, Any] | None = None  # the last line (started, stopped, done or failed carry the details)
    total_steps: int | None = None


def read(workdir: Path) -> Progress:
    """The progress file of ``workdir`` folded; a torn last line (a writer mid-line) is ignored."""
    out = Progress()
    path = workdir / PROGRESS_FILE
    if not path.is_file():
        return out
    for raw in path.read_text(encoding="utf-8").splitlines():
        try:
            line = json.loads(raw)
        except json.JSONDecodeError:
            continue
        if isinstance(line, dict):
            _fold(out, line)
    return out


def _fold(out: Progress, line: dict[str, Any]) -> None:
    kind = line.get("type")
    if kind == "launched":
        out.state = "starting"
    elif kind == "started":
        done = int(line.get("step") or 0)
        out.steps = [s for s in out.steps if s["step"] <= done]
        out.checkpoints = [c for c in out.checkpoints if c["step"] <= done]
        out.total_steps = line.get("total_steps")
        out.state = "running"
    elif kind == "step":
        out.steps.append(line)
    elif kind == "checkpoint":
        removed = set(line.get("removed") or ())
        out.checkpoints = [c for c in out.checkpoints if c["path"] not in removed] + [line]
    elif kind in TERMINAL:
        out.state = str(kind)
    out.last = line


def request_stop(workdir: Path) -> None:
    """Ask the worker of ``workdir`` to stop after its current step (it saves a resume state first)."""
    (workdir / STOP_FILE).write_text("stop\n", encoding="utf-8")


def stop_requested(workdir: Path) -> bool:
    return (workdir / STOP_FILE).exists()


def clear_stop(workdir: Path) -> None:
    (workdir / STOP_FILE).unlink(missing_ok=True)
