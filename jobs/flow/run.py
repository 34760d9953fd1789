"""``run``: the steps in order — validate, upload, train, watch, promote — resumable after any interruption.

The whole run holds the stack's lock. Every step records what it created in the run state before moving on
(and the run's progress under ``flows["run"]``), so running the same command again after Ctrl-C, a crash or
``kill -9`` continues where it stopped: the file is not uploaded twice, a second job is not created (unless
``--new``), and a job whose create call was in flight is found again on the server.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jobs.api import JobInfo
from jobs.flow import promote as promote_step
from jobs.flow import train, watch
from jobs.flow.cost import Guards
from jobs.flow.data import check_data

if TYPE_CHECKING:  # pragma: no cover
    from jobs.session import Session

FLOW = "run"


@dataclass
class RunOutcome:
    stack: str
    training_file: str
    job: JobInfo
    created: bool
    adopted: bool
    reused: bool
    estimate: dict[str, Any] | None = None
    last_train_loss: float | None = None
    promote: promote_step.PromoteOutcome | None = None
    steps: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_text(self) -> str:
        j = self.job
        how = "created" if self.created else ("adopted from the server" if self.adopted else "reused")
        lines = [f"run: training file {self.training_file}; job {j.id} ({how}) {j.state}"]
        if self.last_train_loss is not None:
            lines.append(f"  last train loss: {self.last_train_loss:.4f}")
        if j.fine_tuned_model and self.promote is None:
            lines.append(f"  fine-tuned model: {j.fine_tuned_model}")
        if self.promote is not None:
            lines.append(self.promote.to_text())
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {"stack": self.stack, "training_file": self.training_file, "job": self.job.summary(),
                "created": self.created, "adopted": self.adopted, "reused": self.reused, "estimate": self.estimate,
                "last_train_loss": self.last_train_loss, "steps": self.steps, "warnings": self.warnings,
                "promote": self.promote.to_json() if self.promote else None}


def run(session: "Session", data: Path, options: train.TrainingOptions, guards: Guards, *,
        up: bool = False) -> RunOutcome:
    """``options`` are :meth:`~jobs.flow.train.TrainingOptions.checked`."""
    check = check_data(data, model=options.model, say=session.say, method=options.method)
    session.checkpoint("after_validate")
    steps = [f"validated {check.path} ({check.examples} examples)"]
    with session.state.locked(), session.progress() as display:
        session.state.mark(FLOW, "validate", sha256=check.sha256, examples=check.examples)
        out = train.start(session, train.TrainingData(check=check), options, guards)
        job_id = out.job.id
        how = "created" if out.created else "adopted" if out.adopted else "reused"
        steps.append(f"job {job_id} {how}")
        session.state.mark(FLOW, "train", job_id=job_id, run_key=out.key)
        w = watch.follow(session, job_id, display=display)
        steps.append(f"job {job_id} {w.status}")
        if not w.status.ok:
            raise watch.failure_error(w.job)
        session.state.mark(FLOW, "watch", job_id=job_id, status=str(w.status))
        promoted = promote_step.promote(session, w.job, up=up)
        steps.append("promoted")
        session.state.mark(FLOW, "promote", job_id=job_id, fine_tuned_model=promoted.fine_tuned_model,
                           applied=promoted.applied)
    return RunOutcome(stack=session.stack, training_file=w.job.training_file or out.job.training_file or "",
                      job=w.job, created=out.created, adopted=out.adopted, reused=out.reused,
                      estimate=out.estimate.to_json() if out.estimate else None,
                      last_train_loss=w.last_loss[1] if w.last_loss else None, promote=promoted, steps=steps,
                      warnings=list(check.warnings))
