"""``python -m jobs run DATA.jsonl``: validate → upload → train → watch → promote, resumable (``jobs/flow/run.py``)."""

from __future__ import annotations

from pathlib import Path

from jobs.flow import run as run_flow
from jobs.flow.cost import Guards
from jobs.flow.train import TrainingOptions
from jobs.project import default_training_file
from jobs.session import Session


def run(session: Session, *, data: str | None, options: TrainingOptions, guards: Guards,
        up: bool = False, holdout: int | None = None) -> run_flow.RunOutcome:
    guards = guards.checked(session.env)
    options = options.checked()  # bad options fail before any request
    path = Path(data) if data else default_training_file()
    if holdout is not None:  # N examples aside before upload, as the checkpoint selection's suite
        from jobs.flow.holdout import set_aside

        path = set_aside(session, path, holdout, seed=options.seed).train
    return run_flow.run(session, path, options, guards, up=up)
