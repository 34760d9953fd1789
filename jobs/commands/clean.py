"""``clean [--models] [--yes]``: delete what this project created on the data plane (``jobs/flow/clean.py``)."""

from __future__ import annotations

from jobs.flow.clean import CleanOutcome
from jobs.flow.clean import clean as clean_step
from jobs.session import Session


def clean(session: Session, *, models: bool = False, yes: bool = False) -> CleanOutcome:
    return clean_step(session, models=models, yes=yes)
