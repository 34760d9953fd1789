"""``python -m jobs pipeline [DATA]``: the whole lab in one command, resumable (``jobs/flow/pipeline.py``)."""

from __future__ import annotations

import shlex
from pathlib import Path

from jobs.flow.cost import Guards
from jobs.flow.pipeline import PipelineOutcome, PipelinePlan
from jobs.flow.pipeline import pipeline as pipeline_flow
from jobs.flow.train import TrainingOptions
from jobs.project import default_training_file
from jobs.session import Session


def pipeline(session: Session, *, data: str | None, options: TrainingOptions, guards: Guards,
             suites: tuple[str, ...] = (), destroy_after: bool = False, resume: bool = False) -> PipelineOutcome:
    guards = guards.checked(session.env)
    options = options.checked()  # bad options fail before any step
    path = Path(data) if data else default_training_file()
    words = ["python", "-m", "jobs", "pipeline", *([data] if data else []), "--stack", session.stack]
    words += ["--yes"] if guards.yes else []
    words += ["--destroy-after"] if destroy_after else []
    plan = PipelinePlan(data=path, options=options, guards=guards, suites=suites, destroy_after=destroy_after,
                        resume=resume, command=shlex.join(words))
    return pipeline_flow(session, plan)
