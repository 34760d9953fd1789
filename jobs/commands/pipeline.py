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
             suites: tuple[str, ...] = (), repeat: int = 3, destroy_after: bool = False,
             resume: bool = False) -> PipelineOutcome:
    guards = guards.checked(session.env)
    options = options.checked()  # bad options fail before any step
    path = Path(data) if data else default_training_file()
    words = ["python", "-m", "jobs", "pipeline", *([data] if data else []), "--stack", session.stack]
    words += [w for suite in suites for w in ("--suite", suite)] + (["--repeat", str(repeat)] if repeat != 3 else [])
    words += ["--yes"] if guards.yes else []
    words += ["--destroy-after"] if destroy_after else []
    plan = PipelinePlan(data=path, options=options, guards=guards, suites=suites, destroy_after=destroy_after,
                        resume=resume, command=shlex.join(words), repeat=repeat)
    return pipeline_flow(session, plan)
