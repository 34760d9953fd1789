"""``python -m jobs train [DATA.jsonl | --file-id ID]``: guarded, idempotent job creation."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from jobs.errors import UsageError
from jobs.flow import train as train_step
from jobs.flow import watch as watch_step
from jobs.flow.cost import Guards
from jobs.flow.data import check_data
from jobs.flow.train import TrainingData, TrainingOptions
from jobs.session import Session


@dataclass
class TrainResult:
    job: dict[str, Any]
    run_key: str
    created: bool
    adopted: bool
    reused: bool
    estimate: dict[str, Any] | None
    stack: str
    watched: bool = False
    warnings: list[str] = field(default_factory=list)
    exit_code: int = 0

    def to_text(self) -> str:
        j = self.job
        how = "created" if self.created else ("adopted (found on the server)" if self.adopted else "reused")
        lines = [f"job {j['id']}: {how}, status {j['status']}",
                 f"  model {j['model']}, training file {j['training_file']}, suffix {j.get('suffix') or '-'}"]
        if j.get("fine_tuned_model"):
            lines.append(f"  fine-tuned model: {j['fine_tuned_model']}")
        if not self.watched:
            lines.append(f"next: python -m jobs watch {j['id']} --stack {self.stack}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {"job": self.job, "run_key": self.run_key, "created": self.created, "adopted": self.adopted,
                "reused": self.reused, "estimate": self.estimate, "stack": self.stack, "warnings": self.warnings}


def train(session: Session, *, data: str | None, file_id: str | None, options: TrainingOptions, guards: Guards,
          wait: bool = False) -> TrainResult:
    if data is None and file_id is None:
        raise UsageError("nothing to train on: pass DATA.jsonl or --file-id ID",
                         hint="e.g. python -m jobs train data/travel-train.jsonl")
    if data and file_id:
        raise UsageError("pass either DATA.jsonl or --file-id, not both", hint="drop one of them")
    guards = guards.checked(session.env)
    options = options.checked()  # bad options fail before any request
    check = check_data(data, model=options.model, say=session.say, method=options.method) if data else None
    with session.state.locked(), session.progress() as display:
        out = train_step.start(session, TrainingData(check=check, file_id=file_id), options, guards)
        job = out.job
        if wait:
            w = watch_step.follow(session, job.id, display=display)
            job = w.job
            if not w.status.ok:
                raise watch_step.failure_error(job)
    return TrainResult(job=job.summary(), run_key=out.key, created=out.created, adopted=out.adopted,
                       reused=out.reused, estimate=out.estimate.to_json() if out.estimate else None,
                       stack=session.stack, watched=wait, warnings=list(check.warnings) if check else [])
