"""``python -m jobs pipeline [DATA]``: the whole lab in one command, resumable (``jobs/flow/pipeline.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from jobs.flow.cost import Guards
from jobs.flow.pipeline import PipelineOutcome, PipelinePlan
from jobs.flow.pipeline import pipeline as pipeline_flow
from jobs.flow.train import TrainingOptions
from jobs.project import default_training_file
from jobs.session import Session


@dataclass(frozen=True)
class PipelineRequest:
    """The command's own options, as given (``jobs/cli.py`` builds it)."""

    data: str | None = None  # default: the project's training file
    suites: tuple[str, ...] = ()
    repeat: int = 3
    destroy_after: bool = False
    resume: bool = False
    command: str = "python -m jobs pipeline"  # the whole command as given, for the "continue with ..." hints
    holdout: int | None = None  # --holdout N: examples set aside before upload (jobs/flow/holdout.py)
    select_checkpoint: bool = False  # --select-checkpoint: judge every checkpoint, promote the chosen one


def pipeline(session: Session, *, options: TrainingOptions, guards: Guards,
             request: PipelineRequest = PipelineRequest()) -> PipelineOutcome:
    guards = guards.checked(session.env)
    options = options.checked()  # bad options fail before any step
    path = Path(request.data) if request.data else default_training_file()
    if request.holdout is not None:
        from jobs.flow.holdout import set_aside

        path = set_aside(session, path, request.holdout, seed=options.seed).train
    plan = PipelinePlan(data=path, options=options, guards=guards, suites=request.suites,
                        destroy_after=request.destroy_after, resume=request.resume, command=request.command,
                        repeat=request.repeat, select_checkpoint=request.select_checkpoint)
    return pipeline_flow(session, plan)
